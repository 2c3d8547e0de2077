// load_runtime: the configuration, rules and templates checked against each other.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/pipeline.hpp"
#include "temp_dir.hpp"

namespace sotong {
namespace {

using test_support::TempDir;

std::string config_with_x(const std::filesystem::path& templates) {
  std::string y = "rules_dir: " SOTONG_SOURCE_DIR
                  "/rules\n"
                  "templates_dir: " +
                  templates.string() +
                  "\n"
                  "accounts:\n"
                  "  - name: songpa_x\n"
                  "    platform: x\n"
                  "    consumer_key_file: s\n"
                  "    consumer_secret_file: s\n"
                  "    access_token_file: s\n"
                  "    access_token_secret_file: s\n"
                  "departments:\n";
  int n = 0;
  for (const char* d :
       {"safety", "transport", "roads", "environment", "housing", "welfare", "civil-affairs"})
    y += std::string("  ") + d + ": {token_sha256: " + sha256_hex(std::to_string(n++)) + "}\n";
  return y;
}

TEST(Runtime, ShippedTemplatesFitOnXWithTheLongestNames) {
  TempDir d;
  d.write("s", "secret");
  auto rt = load_runtime(d.write("sotong.yaml", config_with_x(SOTONG_SOURCE_DIR "/templates")));
  ASSERT_TRUE(rt.ok()) << rt.error();
}

TEST(Runtime, TemplateThatCanOverflowOnXIsRefusedAtLoad) {
  TempDir d;
  d.write("s", "secret");
  std::filesystem::create_directories(d.path() / "templates");
  std::filesystem::copy(SOTONG_SOURCE_DIR "/templates/en.yaml", d.path() / "templates/en.yaml");
  // 120 Hangul syllables weigh 240 of X's 280 before the names are added.
  std::string long_ko = "language: ko\ntemplates:\n  ack: \"{{author}} {{ticket}} ";
  for (int i = 0; i < 120; ++i) long_ko += "가";
  long_ko += "\"\n  ack_urgent: \"112 {{ticket}}\"\n  followup: \"{{ticket}} {{resolution}}\"\n";
  std::ofstream(d.path() / "templates/ko.yaml") << long_ko;
  auto rt = load_runtime(d.write("sotong.yaml", config_with_x(d.path() / "templates")));
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().find("ko.yaml: template \"ack\" variant 1"), std::string::npos)
      << rt.error();
  EXPECT_NE(rt.error().find("on x"), std::string::npos) << rt.error();
}

TEST(Runtime, AnAccountWithItsOwnTemplatesSpeaksWithThem) {
  TempDir d;
  d.write("s", "secret");
  std::filesystem::create_directories(d.path() / "gangnam");
  std::filesystem::copy(SOTONG_SOURCE_DIR "/templates/en.yaml", d.path() / "gangnam/en.yaml");
  std::ofstream(d.path() / "gangnam/ko.yaml")
      << "language: ko\ntemplates:\n  ack: \"강남구입니다. {{ticket}}\"\n"
         "  ack_urgent: \"112 {{ticket}}\"\n  followup: \"{{ticket}} {{resolution}}\"\n";
  std::string y = config_with_x(SOTONG_SOURCE_DIR "/templates");
  y.insert(y.find("departments:"), "    templates_dir: gangnam\n");
  auto rt = load_runtime(d.write("sotong.yaml", y));
  ASSERT_TRUE(rt.ok()) << rt.error();
  TicketRow t;
  t.number = "SP-2026-000001";
  t.author = "citizen";
  t.author_acct = "citizen";
  t.language = "ko";
  t.department = "roads";
  t.account = "songpa_x";
  auto own = render_reply(**rt, "ack", t, nullptr);
  ASSERT_TRUE(own.ok()) << own.error();
  EXPECT_EQ(own->text, "@citizen 강남구입니다. SP-2026-000001");
  t.account = "another";
  auto shared = render_reply(**rt, "ack", t, nullptr);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->text.find("강남구입니다"), std::string::npos);
}

}  // namespace
}  // namespace sotong
