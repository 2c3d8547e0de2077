// The configuration loader's shared parts: positions for errors, typed fields, secrets and
// the error collection. Internal to daemon/config*.cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong {
struct Config;
}

namespace sotong::config_parse {

struct Ctx {
  std::string file;
  std::string where(const YAML::Node& n) const;
  Error err(const YAML::Node& n, const std::string& msg) const;
};

Status check_keys(const Ctx& c, const YAML::Node& map, const std::set<std::string>& known,
                  const std::string& what);
Result<std::string> scalar(const Ctx& c, const YAML::Node& n, const std::string& field);
Result<int64_t> integer(const Ctx& c, const YAML::Node& n, const std::string& field, int64_t lo,
                        int64_t hi);
Result<bool> boolean(const Ctx& c, const YAML::Node& n, const std::string& field);
bool valid_prefix(const std::string& p);
// A secret named `name` is given as exactly one of name_file, name_env, name_credential.
// Returns an empty string when none is given and the secret is optional.
Result<std::string> resolve_secret(const Ctx& c, const YAML::Node& node,
                                   const std::filesystem::path& base, const std::string& name,
                                   bool required);
// name_file, name_env and name_credential for each name.
std::set<std::string> secret_fields(std::initializer_list<const char*> names);
bool is_hex64(const std::string& s);
// A string, or a map of language to string (one line each).
Result<std::map<std::string, std::string>> per_language(const Ctx& c, const YAML::Node& n,
                                                        const std::string& field,
                                                        const std::string& default_language);

// Collects every error of a section instead of stopping at the first, so one run of
// --check-config shows an admin all of them.
struct Errors {
  std::vector<std::string> list;
  void add(const std::string& e) { list.push_back(e); }
  template <class T>
  bool ok(const Result<T>& r) {
    if (!r) add(r.error());
    return r.ok();
  }
  bool ok(const Status& s) {
    if (!s) add(s.error());
    return s.ok();
  }
};

// The department side (config_hook.cpp); each adds its errors to `e`.
void parse_hook(const Ctx& c, const YAML::Node& hook, const std::filesystem::path& base,
                Config& cfg, Errors& e);
void parse_departments(const Ctx& c, const YAML::Node& deps, const std::filesystem::path& base,
                       Config& cfg, Errors& e);
void parse_admins(const Ctx& c, const YAML::Node& admins, const std::filesystem::path& base,
                  Config& cfg, Errors& e);
// Every bearer token belongs to one department or admin.
void check_unique_tokens(const Ctx& c, const YAML::Node& root, Config& cfg, Errors& e);
void parse_open311(const Ctx& c, const YAML::Node& n, Config& cfg, Errors& e);
void parse_notifications(const Ctx& c, const YAML::Node& n, Config& cfg, Errors& e);

}  // namespace sotong::config_parse
