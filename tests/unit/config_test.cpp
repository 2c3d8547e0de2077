#include "daemon/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "temp_dir.hpp"

namespace sotong {
namespace {

using test_support::TempDir;

const std::string kHash = sha256_hex("roads-token");

std::string good(const std::string& extra = "") {
  return "ticket_prefix: SP\n"
         "store: state/sotong.db\n"
         "accounts:\n"
         "  - name: songpa\n"
         "    platform: mastodon\n"
         "    base_url: https://mastodon.example/\n"
         "    token_file: token\n"
         "departments:\n"
         "  roads:\n"
         "    name: {ko: 도로과, en: Roads}\n"
         "    token_sha256: " +
         kHash + "\n" + extra;
}

TEST(Config, GoodFileLoadsWithPathsRelativeToIt) {
  TempDir d;
  d.write("token", "secret-token\n");
  auto c = load_config(d.write("sotong.yaml", good()));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->accounts.at(0).token, "secret-token");
  EXPECT_EQ(c->accounts.at(0).base_url, "https://mastodon.example");
  EXPECT_EQ(c->store_path, d.path() / "state/sotong.db");
  EXPECT_EQ(c->department_name("roads", "en"), "Roads");
  EXPECT_EQ(c->department_name("roads", "ja"), "도로과");
}

TEST(Config, UnknownFieldNamesFileLineAndColumn) {
  TempDir d;
  d.write("token", "t");
  auto c = load_config(d.write("sotong.yaml", good("tiket_prefix: X\n")));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("sotong.yaml:12:1"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("tiket_prefix"), std::string::npos);
}

TEST(Config, TokenFromEnvironment) {
  TempDir d;
  std::string y = good();
  y.replace(y.find("token_file: token"), 17, "token_env: SOTONG_TEST_TOKEN");
  setenv("SOTONG_TEST_TOKEN", "from-env", 1);
  auto c = load_config(d.write("sotong.yaml", y));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->accounts.at(0).token, "from-env");
  unsetenv("SOTONG_TEST_TOKEN");
  EXPECT_FALSE(load_config(d.path() / "sotong.yaml").ok());
}

TEST(Config, MissingTokenFileIsAnError) {
  TempDir d;
  auto c = load_config(d.write("sotong.yaml", good()));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("token"), std::string::npos);
}

TEST(Config, BadTokenHashIsAnError) {
  TempDir d;
  d.write("token", "t");
  std::string y = good();
  y.replace(y.find(kHash), kHash.size(), "plain-token-not-a-hash");
  auto c = load_config(d.write("sotong.yaml", y));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("token_sha256"), std::string::npos);
}

TEST(Config, BrokenYamlIsAnErrorNotACrash) {
  TempDir d;
  for (const char* bad :
       {"accounts: [", "{{{{", "accounts: 5\ndepartments: x\n", "- a\n- b\n", "\xff\xfe garbage"}) {
    auto c = load_config(d.write("sotong.yaml", bad));
    EXPECT_FALSE(c.ok()) << bad;
  }
}

TEST(Config, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sotong
