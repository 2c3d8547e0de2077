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
  EXPECT_EQ(c->store, (d.path() / "state/sotong.db").string());
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

std::string x_account(const std::string& extra = "") {
  return "ticket_prefix: SP\n"
         "accounts:\n"
         "  - name: songpa_x\n"
         "    platform: x\n"
         "    ticket_prefix: SPX\n"
         "    consumer_key_file: ck\n"
         "    consumer_secret_env: SOTONG_TEST_CS\n"
         "    access_token_file: at\n"
         "    access_token_secret_file: ats\n" +
         extra +
         "departments:\n"
         "  roads: {token_sha256: " +
         kHash + "}\n";
}

TEST(Config, XAccountReadsEachSecretFromItsOwnSource) {
  TempDir d;
  d.write("ck", "consumer-key\n");
  d.write("at", "access-token");
  d.write("ats", "access-secret");
  setenv("SOTONG_TEST_CS", "consumer-secret", 1);
  auto c = load_config(d.write("sotong.yaml", x_account("    api_version: \"2.167\"\n")));
  unsetenv("SOTONG_TEST_CS");
  ASSERT_TRUE(c.ok()) << c.error();
  const auto& a = c->accounts.at(0);
  EXPECT_EQ(a.base_url, "https://api.x.com");
  EXPECT_EQ(a.consumer_key, "consumer-key");
  EXPECT_EQ(a.consumer_secret, "consumer-secret");
  EXPECT_EQ(a.access_token_secret, "access-secret");
  EXPECT_TRUE(a.bearer_token.empty());
  EXPECT_EQ(a.x_api_version, "2.167");
  EXPECT_EQ(a.ticket_prefix, "SPX");
}

TEST(Config, XAccountWithoutASecretOrWithMastodonFieldsIsAnError) {
  TempDir d;
  d.write("ck", "k");
  d.write("at", "a");
  d.write("ats", "s");
  std::string without = x_account();
  without.erase(without.find("    consumer_secret_env"),
                std::string("    consumer_secret_env: SOTONG_TEST_CS\n").size());
  auto missing = load_config(d.write("sotong.yaml", without));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("consumer_secret_file"), std::string::npos) << missing.error();
  auto unset = load_config(d.write("sotong.yaml", x_account()));
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.error().find("SOTONG_TEST_CS is not set"), std::string::npos) << unset.error();
  setenv("SOTONG_TEST_CS", "cs", 1);
  auto wrong = load_config(d.write("sotong.yaml", x_account("    streaming: true\n")));
  unsetenv("SOTONG_TEST_CS");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().find("streaming"), std::string::npos) << wrong.error();
}

TEST(Config, TwoDepartmentsWithOneTokenAreRefused) {
  TempDir d;
  d.write("token", "t");
  auto c = load_config(d.write("sotong.yaml", good("  welfare: {token_sha256: " + kHash + "}\n")));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("same token"), std::string::npos) << c.error();
}

TEST(Config, DepartmentsAndAdminsTakeRotatedTokensSecretsAndWebhooks) {
  TempDir d;
  d.write("token", "t");
  d.write("roads.hmac", std::string(40, 'h') + "\n");
  d.write("roads.hook", std::string(32, 'w'));
  const std::string second = sha256_hex("roads-token-2");
  auto c = load_config(
      d.write("sotong.yaml",
              good("    hmac_secret_file: roads.hmac\n"
                   "    webhook: {url: \"https://hooks.example/roads\", secret_file: roads.hook, "
                   "batch_seconds: 60}\n"
                   "  parks:\n"
                   "    token_sha256: [" +
                   second + ", " + sha256_hex("parks-new") +
                   "]\n"
                   "    webhook: {url: \"https://chat.example/hooks/x\", format: slack}\n"
                   "admins:\n"
                   "  kim: {token_sha256: " +
                   sha256_hex("kim") +
                   "}\n"
                   "hook: {max_connections: 20, requests_per_minute: 0, idle_timeout_seconds: 5}\n"
                   "open311: {enabled: true, jurisdiction_id: songpa.go.kr, services: {footbridge: "
                   "{name: Footbridges, group: Roads}}}\n")));
  ASSERT_TRUE(c.ok()) << c.error();
  const auto& roads = c->departments.at("roads");
  EXPECT_EQ(roads.auth.hmac_secret, std::string(40, 'h'));
  EXPECT_EQ(roads.webhook.url, "https://hooks.example/roads");
  EXPECT_EQ(roads.webhook.secret, std::string(32, 'w'));
  EXPECT_EQ(roads.webhook.format, "json");
  EXPECT_EQ(roads.webhook.batch, std::chrono::seconds(60));
  EXPECT_EQ(c->departments.at("parks").auth.token_sha256.size(), 2u);
  EXPECT_EQ(c->departments.at("parks").webhook.format, "slack");
  EXPECT_EQ(c->admins.at("kim").auth.token_sha256.at(0), sha256_hex("kim"));
  EXPECT_EQ(c->hook_max_connections, 20);
  EXPECT_EQ(c->hook_requests_per_minute, 0);
  EXPECT_EQ(c->hook_idle_timeout, std::chrono::seconds(5));
  EXPECT_TRUE(c->open311.enabled);
  EXPECT_EQ(c->open311.services.at("footbridge").name, "Footbridges");
}

TEST(Config, BadCredentialsAndWebhooksAreRefusedWithTheirPlace) {
  TempDir d;
  d.write("token", "t");
  d.write("short", "too-short");
  struct Case {
    std::string extra, want;
  };
  for (const auto& [extra, want] : std::vector<Case>{
           {"    hmac_secret_file: short\n", "at least 32 bytes"},
           {"    webhook: {url: \"ftp://x\"}\n", "https://"},
           {"    webhook: {url: \"https://x\"}\n", "needs a secret"},
           {"    webhook: {url: \"https://x\", format: xml}\n", "json or slack"},
           {"  parks: {name: Parks}\n", "missing token_sha256"},
           {"  Parks Dept: {token_sha256: " + sha256_hex("p") + "}\n", "must be 1-64"},
           {"admins:\n  roads: {token_sha256: " + sha256_hex("a") + "}\n", "department's name"},
           {"admins:\n  kim: {token_sha256: " + kHash + "}\n", "same token"},
           {"hook: {tls_cert_file: cert.pem}\n", "both tls_cert_file and tls_key_file"},
           {"open311: {enabled: maybe}\n", "true or false"},
       }) {
    auto c = load_config(d.write("sotong.yaml", good(extra)));
    ASSERT_FALSE(c.ok()) << extra;
    EXPECT_NE(c.error().find(want), std::string::npos) << c.error();
    EXPECT_NE(c.error().find("sotong.yaml:"), std::string::npos) << c.error();
  }
}

TEST(Config, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sotong
