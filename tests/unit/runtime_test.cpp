// load_runtime: the configuration, rules and templates checked against each other.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/pipeline.hpp"
#include "temp_dir.hpp"

namespace sotong {
namespace {

using test_support::TempDir;

// The keys the daemon picks itself, which a fallback language must have.
constexpr const char* kDaemonKeys =
    "  ack_after_hours: \"{{ticket}} {{next_business_time}}\"\n"
    "  limit_reached: \"{{ticket}}\"\n"
    "  reopened: \"{{ticket}}\"\n";

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
  long_ko += kDaemonKeys;
  std::ofstream(d.path() / "templates/ko.yaml") << long_ko;
  auto rt = load_runtime(d.write("sotong.yaml", config_with_x(d.path() / "templates")));
  ASSERT_FALSE(rt.ok());
  EXPECT_NE(rt.error().find("ko.yaml:3:8: template \"ack\" variant 1"), std::string::npos)
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
         "  ack_urgent: \"112 {{ticket}}\"\n  followup: \"{{ticket}} {{resolution}}\"\n"
      << kDaemonKeys;
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
  auto own = render_reply(**rt, "ack", t, nullptr, 0);
  ASSERT_TRUE(own.ok()) << own.error();
  EXPECT_EQ(own->text, "@citizen 강남구입니다. SP-2026-000001");
  t.account = "another";
  auto shared = render_reply(**rt, "ack", t, nullptr, 0);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->text.find("강남구입니다"), std::string::npos);
}

// A desk in Seoul with weekday hours and the shipped public holidays.
std::string office_config(const std::string& extra = "") {
  std::string y = "rules_dir: " SOTONG_SOURCE_DIR
                  "/rules\n"
                  "templates_dir: " SOTONG_SOURCE_DIR
                  "/templates\n"
                  "holidays_dir: " SOTONG_SOURCE_DIR
                  "/holidays\n"
                  "business_hours: {mon-fri: \"09:00-18:00\"}\n" +
                  extra +
                  "accounts:\n"
                  "  - {name: songpa, platform: mastodon, base_url: \"https://m.example\", "
                  "token_file: s}\n"
                  "departments:\n";
  int n = 0;
  for (const char* d :
       {"safety", "transport", "roads", "environment", "housing", "welfare", "civil-affairs"})
    y += std::string("  ") + d + ": {name: {ko: " + d + "과, en: " + d +
         "}, token_sha256: " + sha256_hex(std::to_string(n++)) + "}\n";
  return y;
}

// 2026-11-21 is a Saturday; 2026-11-23 a Monday. Seoul is UTC+9.
constexpr int64_t kSaturdayTenAm = 1'795'222'800'000;  // 2026-11-21 10:00 KST
constexpr int64_t kMondayTenAm = 1'795'395'600'000;    // 2026-11-23 10:00 KST

class OfficeHours : public ::testing::Test {
 protected:
  void SetUp() override {
    d.write("s", "secret");
    auto r = load_runtime(d.write("sotong.yaml", office_config()));
    ASSERT_TRUE(r.ok()) << r.error();
    rt = *r;
  }
  Decision roads() const {
    Decision dec;
    dec.department = "roads";
    dec.category = "footbridge";
    return dec;
  }
  TempDir d;
  std::shared_ptr<const Runtime> rt;
};

TEST_F(OfficeHours, AnAckOutsideHoursSaysWhenTheDepartmentIsBack) {
  std::string why;
  EXPECT_EQ(ack_key(*rt, roads(), kSaturdayTenAm, &why), "ack_after_hours");
  EXPECT_NE(why.find("Mon 23 Nov, 9:00 AM"), std::string::npos) << why;
  EXPECT_EQ(ack_key(*rt, roads(), kMondayTenAm), "ack");
  TicketRow t;
  t.number = "SP-2026-000001";
  t.author = t.author_acct = "citizen";
  t.language = "ko";
  t.department = "roads";
  t.account = "songpa";
  auto reply = render_reply(*rt, "ack_after_hours", t, nullptr, kSaturdayTenAm);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_NE(reply->text.find("11월 23일(월) 오전 9시"), std::string::npos) << reply->text;
}

TEST_F(OfficeHours, UrgentAndNamedTemplatesIgnoreTheHours) {
  Decision urgent = roads();
  urgent.priority = Priority::kUrgent;
  urgent.template_key = "ack_urgent";
  EXPECT_EQ(ack_key(*rt, urgent, kSaturdayTenAm), "ack_urgent");
  Decision named = roads();
  named.template_key = "ack";
  named.template_explicit = true;
  EXPECT_EQ(ack_key(*rt, named, kSaturdayTenAm), "ack");
  Decision hidden = roads();
  hidden.hide = true;
  EXPECT_EQ(ack_key(*rt, hidden, kMondayTenAm), "");
  // Swearing in an emergency still gets the call-now text.
  urgent.hide = true;
  EXPECT_EQ(ack_key(*rt, urgent, kMondayTenAm), "ack_urgent");
}

TEST_F(OfficeHours, TicketsAreNumberedByTheDesksYear) {
  // 2027-01-01 08:00 in Seoul is still 2026 in UTC.
  Mention m;
  m.account = "songpa";
  EXPECT_EQ(ingest_options(*rt, m, roads(), 1'798'758'000'000).ticket_year, 2027);
  EXPECT_EQ(ingest_options(*rt, m, roads(), kMondayTenAm).ticket_year, 2026);
}

TEST_F(OfficeHours, APublicHolidayIsOutsideHours) {
  // 2026-12-25 (Friday), Christmas: 10:00 KST.
  EXPECT_EQ(ack_key(*rt, roads(), 1'798'160'400'000), "ack_after_hours");
}

TEST(Runtime, StatusUrlAndEtaMustHaveValuesWhenTemplatesUseThem) {
  TempDir d;
  d.write("s", "secret");
  std::filesystem::create_directories(d.path() / "t");
  std::filesystem::copy(SOTONG_SOURCE_DIR "/templates/en.yaml", d.path() / "t/en.yaml");
  std::ofstream(d.path() / "t/ko.yaml")
      << "language: ko\ntemplates:\n  ack: \"{{ticket}} {{status_url}}\"\n"
         "  ack_urgent: \"112 {{ticket}} {{eta}}\"\n  followup: \"{{ticket}} {{resolution}}\"\n"
      << kDaemonKeys;
  std::string y = office_config();
  y.replace(y.find(SOTONG_SOURCE_DIR "/templates"),
            std::string(SOTONG_SOURCE_DIR "/templates").size(), (d.path() / "t").string());
  auto rt = load_runtime(d.write("sotong.yaml", y));
  ASSERT_FALSE(rt.ok());
  const std::string ko = (d.path() / "t/ko.yaml").string();
  EXPECT_NE(rt.error().find(ko +
                            ":3:8: template \"ack\" uses {{status_url}}, but the "
                            "configuration " +
                            (d.path() / "sotong.yaml").string() + " sets no status_url"),
            std::string::npos)
      << rt.error();
  EXPECT_NE(rt.error().find(ko +
                            ":4:15: template \"ack_urgent\" uses {{eta}}, but department "
                            "civil-affairs in " +
                            (d.path() / "sotong.yaml").string() + " has no eta"),
            std::string::npos)
      << rt.error();

  // Given both, the reply carries them.
  std::string good = office_config("status_url: \"https://minwon.example/t/{ticket}\"\n");
  good.replace(good.find(SOTONG_SOURCE_DIR "/templates"),
               std::string(SOTONG_SOURCE_DIR "/templates").size(), (d.path() / "t").string());
  std::size_t at = 0;
  while ((at = good.find("}, token_sha256", at)) != std::string::npos) {
    good.insert(at + 1, ", eta: {ko: 사흘 안에}");
    at += 30;
  }
  auto ok = load_runtime(d.write("sotong.yaml", good));
  ASSERT_TRUE(ok.ok()) << ok.error();
  TicketRow t;
  t.number = "SP-2026-000009";
  t.author = t.author_acct = "citizen";
  t.language = "ko";
  t.department = "roads";
  t.account = "songpa";
  EXPECT_EQ(render_reply(**ok, "ack", t, nullptr, 0)->text,
            "@citizen SP-2026-000009 https://minwon.example/t/SP-2026-000009");
  EXPECT_EQ(render_reply(**ok, "ack_urgent", t, nullptr, 0)->text,
            "@citizen 112 SP-2026-000009 사흘 안에");
}

TEST(Runtime, EveryConfigurationErrorIsReportedAtOnce) {
  TempDir d;
  d.write("s", "secret");
  std::string y = office_config("log_level: loud\ntime_zone: Asia/Atlantis\n");
  y += "  parks: {token_sha256: nothex}\n";
  const auto path = d.write("sotong.yaml", y);
  auto rt = load_runtime(path);
  ASSERT_FALSE(rt.ok());
  const std::string p = path.string();
  EXPECT_NE(rt.error().find(p + ":5:12: log_level must be one of trace, debug, info, warn, error"),
            std::string::npos)
      << rt.error();
  EXPECT_NE(rt.error().find(p + ":6:12: unknown time zone \"Asia/Atlantis\""), std::string::npos)
      << rt.error();
  EXPECT_NE(rt.error().find(p + ":17:25: token_sha256 must be 64 lower-case hex digits"),
            std::string::npos)
      << rt.error();
}

}  // namespace
}  // namespace sotong
