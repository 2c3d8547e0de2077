// docs/openapi.yaml describes the hook as it is: every route of the server's table, and
// nothing else.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "daemon/hook_parse.hpp"

namespace sotong::hook {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

YAML::Node spec() {
  return YAML::LoadFile(std::string(SOTONG_SOURCE_DIR) + "/docs/openapi.yaml");
}

TEST(OpenApi, EveryRouteIsDescribedWithItsResponsesAndParameters) {
  const auto doc = spec();
  ASSERT_EQ(doc["openapi"].as<std::string>().substr(0, 2), "3.");
  const auto paths = doc["paths"];
  for (const auto& r : routes()) {
    const std::string path(r.path);
    const auto op = paths[path][lower(r.method)];
    ASSERT_TRUE(op && op.IsMap()) << r.method << " " << path << " is not in docs/openapi.yaml";
    EXPECT_TRUE(op["summary"]) << path;
    ASSERT_TRUE(op["responses"] && op["responses"].IsMap()) << path;
    EXPECT_TRUE(op["responses"]["200"]) << path;
    // Each {parameter} of the path is declared (directly or by reference).
    for (auto open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
      const std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
      bool declared = false;
      for (const auto& p : op["parameters"]) {
        if (p["name"] && p["name"].as<std::string>() == name) declared = true;
        if (p["$ref"]) {
          const auto ref = p["$ref"].as<std::string>();
          const auto target = doc["components"]["parameters"][ref.substr(ref.rfind('/') + 1)];
          if (target && target["name"].as<std::string>() == name) declared = true;
        }
      }
      EXPECT_TRUE(declared) << path << " does not declare {" << name << "}";
    }
    if (is_write(r.kind)) {
      EXPECT_TRUE(op["requestBody"]) << path;
      EXPECT_TRUE(op["responses"]["409"]) << path;
    }
  }
}

TEST(OpenApi, DescribesNoRouteTheServerDoesNotHave) {
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : routes()) served.emplace(lower(r.method), std::string(r.path));
  for (const auto& p : spec()["paths"]) {
    const auto path = p.first.as<std::string>();
    for (const auto& m : p.second)
      EXPECT_TRUE(served.contains({m.first.as<std::string>(), path}))
          << m.first.as<std::string>() << " " << path << " is described but not served";
  }
}

}  // namespace
}  // namespace sotong::hook
