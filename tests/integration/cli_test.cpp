// The admin's command line, run as the real binary: --check-config lists every error with its
// place and exit status 1, or a summary; --explain shows the rules, the decision and the reply.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace fs = std::filesystem;

struct Run {
  int status = -1;
  std::string output;
};

Run sotongd(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> argv{SOTONGD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto log = dir / "cli.log";
  fs::remove(log);
  Run r;
  {
    Process p(argv, log);
    r.status = p.wait(std::chrono::seconds(20));
  }
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir.path() / "rules");
    fs::create_directories(dir.path() / "templates");
    for (const char* lang : {"ko.yaml", "en.yaml"})
      fs::copy(fs::path(SOTONG_SOURCE_DIR) / "templates" / lang, dir.path() / "templates" / lang);
    dir.write("tok", "secret\n");
  }
  fs::path write_config(const std::string& rules_dir) {
    return dir.write("sotong.yaml",
                     "rules_dir: " + rules_dir +
                         "\ntemplates_dir: " + (dir.path() / "templates").string() +
                         "\nholidays_dir: " SOTONG_SOURCE_DIR
                         "/holidays\n"
                         "accounts:\n"
                         "  - {name: songpa, platform: mastodon, base_url: \"https://m.example\", "
                         "token_file: tok}\n"
                         "departments:\n"
                         "  roads: {name: {ko: 도로과}, token_sha256: "
                         "0000000000000000000000000000000000000000000000000000000000000001}\n");
  }
  TempDir dir;
};

TEST_F(Cli, VersionNamesTheReleaseAndTheCommitAndHelpTheOptions) {
  auto v = sotongd({"--version"}, dir.path());
  EXPECT_EQ(v.status, 0);
  EXPECT_TRUE(std::regex_match(v.output, std::regex("sotongd [0-9]+\\.[0-9]+\\.[0-9]+ \\((unknown|"
                                                    "[0-9a-f]{7,}(-dirty)?)\\)\n")))
      << v.output;
  auto h = sotongd({"--help"}, dir.path());
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.output.find("--check-config"), std::string::npos) << h.output;
}

TEST_F(Cli, CheckConfigListsEveryErrorWithItsPlace) {
  const fs::path rules = dir.write("rules/10-a.yaml",
                                   "rules:\n"
                                   "  - name: a\n"
                                   "    match: {any: [버스]}\n"
                                   "    priority: hihg\n"
                                   "  - name: b\n"
                                   "    match: {patterns: [\"(unclosed\"]}\n"
                                   "    department: roads\n"
                                   "  - name: c\n"
                                   "    match: {neighbourhood: gangnam}\n"
                                   "    department: roads\n"
                                   "default: {department: roads}\n");
  std::ofstream(dir.path() / "templates" / "en.yaml", std::ios::app) << "  extra: \"{{tiket}}\"\n";
  const auto config = write_config((dir.path() / "rules").string());
  auto r = sotongd({"--config", config.string(), "--check-config"}, dir.path());
  EXPECT_EQ(r.status, 1);
  const std::string en = (dir.path() / "templates" / "en.yaml").string();
  EXPECT_EQ(
      r.output,
      rules.string() + ":4:15: unknown priority \"hihg\" (known: urgent, high, normal, low)\n" +
          rules.string() + ":6:24: pattern \"(unclosed\" is not valid RE2: missing ): (unclosed\n" +
          rules.string() +
          ":9:28: unknown neighbourhood list \"gangnam\" (no file has a neighbourhoods: "
          "block)\n" +
          en +
          ":46:10: template \"extra\": unknown variable {{tiket}} (known: author, ticket, "
          "department, category, eta, status_url, resolution, next_business_time, comment)\n");
}

TEST_F(Cli, CheckConfigCatchesWhatOnlyTheWholeSetReveals) {
  dir.write("rules/10-a.yaml",
            "rules:\n  - name: a\n    match: {any: [공원]}\n    department: parks\n"
            "    template: ack_parks\ndefault: {department: roads}\n");
  const auto config = write_config((dir.path() / "rules").string());
  auto r = sotongd({"--config", config.string(), "--check-config"}, dir.path());
  EXPECT_EQ(r.status, 1);
  const std::string rules = (dir.path() / "rules").string();
  EXPECT_NE(r.output.find(rules + ": rules route to department \"parks\", which " +
                          config.string() + " does not define\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("no template \"ack_parks\" in the fallback language \"ko\""),
            std::string::npos)
      << r.output;
}

TEST_F(Cli, CheckConfigSummarisesAGoodConfiguration) {
  const auto config = write_config(SOTONG_SOURCE_DIR "/rules");
  auto r = sotongd({"--config", config.string(), "--check-config"}, dir.path());
  EXPECT_EQ(r.status, 1) << "the shipped rules route to departments this config lacks";
  // With every department the shipped rules use, it is good and says what it loaded.
  std::string y;
  {
    std::ifstream in(config);
    std::stringstream ss;
    ss << in.rdbuf();
    y = ss.str();
  }
  int n = 2;
  for (const char* d :
       {"safety", "transport", "environment", "housing", "welfare", "civil-affairs"})
    y += std::string("  ") + d + ": {token_sha256: " + std::string(63, '0') + std::to_string(n++) +
         "}\n";
  std::ofstream(config) << y;
  r = sotongd({"--config", config.string(), "--check-config"}, dir.path());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(config.string() + ": good\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("accounts     1: songpa (mastodon, 80 posts/hour)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("calendar     Asia/Seoul, 43 public holiday(s) for 2026 2027"),
            std::string::npos)
      << r.output;

  // --explain on the same configuration: the rule that matched, the place, the decision and
  // the reply a Saturday night mention gets, with its length on Mastodon.
  r = sotongd({"--config", config.string(), "--explain", "잠실동 육교에 구멍이 났어요", "--lang",
               "ko", "--author", "rea", "--at", "2026-11-21 23:10"},
              dir.path());
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* expected :
       {"MATCH footbridge", "any: found \"육교\"", "department  roads (도로과)",
        "place       잠실동", "tags        songpa, night", "template ack_after_hours in ko",
        "of 500 characters", "@rea rea님", "11월 23일(월) 오전 9시"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << "\n" << r.output;

  r = sotongd({"--config", config.string(), "--explain", "x", "--platform", "x"}, dir.path());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no account on platform x"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sotong::test_support
