// Each condition of a rule's match block, matching and not, and time windows on the Seoul
// clock with holidays.
#include <gtest/gtest.h>

#include <string>

#include "daemon/calendar.hpp"
#include "daemon/rules.hpp"
#include "tests/unit/rules_support.hpp"
#include "tests/unit/temp_dir.hpp"

namespace sotong {
namespace {

using test_support::load;
using test_support::mention;
using test_support::seoul;
using test_support::TempDir;
using test_support::with_default;

// One rule named "hit" with the given match block (flow style), routing to roads.
RuleSet one_rule(const std::string& match) {
  return load(with_default("  - name: hit\n    match: " + match + "\n    department: roads\n"));
}

bool hits(const RuleSet& rules, const Mention& m) {
  return rules.decide(m).rule == "hit";
}
bool hits(const RuleSet& rules, const std::string& text) {
  return hits(rules, mention(text));
}

// --- Patterns ---

TEST(RulePatterns, MatchTheNfcTextWithSpacingVariants) {
  const RuleSet rules = one_rule("{patterns: [\"씨\\\\s*발\"]}");
  EXPECT_TRUE(hits(rules, "씨발"));
  EXPECT_TRUE(hits(rules, "씨 \n 발"));
  EXPECT_FALSE(hits(rules, "씨앗 발아"));
}

TEST(RulePatterns, AreNotCaseFoldedUnlessTheyAskFor) {
  EXPECT_FALSE(hits(one_rule("{patterns: [\"fuck\"]}"), "FUCK"));
  EXPECT_TRUE(hits(one_rule("{patterns: [\"(?i)fuck\"]}"), "FUCK"));
}

TEST(RulePatterns, DecomposedHangulInTheTextMatches) {
  // 육교 as conjoining jamo (NFD): ᄋ ᅲ ᆨ ᄀ ᅭ
  EXPECT_TRUE(hits(one_rule("{patterns: [\"육교\"]}"), "\u110B\u1172\u11A8\u1100\u116D"));
}

TEST(RulePatterns, AnyOfSeveralMatches) {
  const RuleSet rules = one_rule("{patterns: [\"^abc\", \"xyz$\"]}");
  EXPECT_TRUE(hits(rules, "abc def"));
  EXPECT_TRUE(hits(rules, "def xyz"));
  EXPECT_FALSE(hits(rules, "def abc"));
}

// --- Hashtags ---

TEST(RuleHashtags, MatchWithOrWithoutTheHashInTheRule) {
  const RuleSet rules = one_rule("{hashtags: [\"#송파\", Pothole]}");
  EXPECT_TRUE(hits(rules, "육교가 위험해요 #송파"));
  EXPECT_TRUE(hits(rules, "#POTHOLE on the road"));
  EXPECT_TRUE(hits(rules, "＃송파 full-width hash"));
}

TEST(RuleHashtags, OnlyWholeTagsCount) {
  const RuleSet rules = one_rule("{hashtags: [송파]}");
  EXPECT_FALSE(hits(rules, "송파 without a hash"));
  EXPECT_FALSE(hits(rules, "#송파구 is another tag"));
  EXPECT_FALSE(hits(rules, "abc#송파 is not a tag"));
  EXPECT_TRUE(hits(rules, "#송파, #잠실"));
  EXPECT_TRUE(hits(rules, "(#송파)"));
}

// --- Language, visibility, platform, account, authors ---

TEST(RuleLanguage, ComparesThePrimarySubtag) {
  const RuleSet rules = one_rule("{language: [ko]}");
  Mention m = mention("x");
  for (const char* tag : {"ko", "ko-KR", "KO"}) {
    m.language = tag;
    EXPECT_TRUE(hits(rules, m)) << tag;
  }
  for (const char* tag : {"en", "kor", ""}) {
    m.language = tag;
    EXPECT_FALSE(hits(rules, m)) << tag;
  }
}

TEST(RuleVisibility, MatchesListedVisibilities) {
  const RuleSet rules = one_rule("{visibility: [public, unlisted]}");
  Mention m = mention("x");
  m.visibility = Visibility::kUnlisted;
  EXPECT_TRUE(hits(rules, m));
  m.visibility = Visibility::kDirect;
  EXPECT_FALSE(hits(rules, m));
}

TEST(RulePlatform, MatchesListedPlatforms) {
  const RuleSet rules = one_rule("{platform: x}");
  Mention m = mention("x");
  m.platform = "x";
  EXPECT_TRUE(hits(rules, m));
  m.platform = "mastodon";
  EXPECT_FALSE(hits(rules, m));
}

TEST(RuleAccount, MatchesOurAccountNameAndIsListed) {
  const RuleSet rules = one_rule("{account: [songpa-x]}");
  Mention m = mention("x");
  m.account = "songpa-x";
  EXPECT_TRUE(hits(rules, m));
  m.account = "songpa";
  EXPECT_FALSE(hits(rules, m));
  EXPECT_EQ(rules.accounts(), std::vector<std::string>{"songpa-x"});
}

TEST(RuleAuthors, CompareHandlesIgnoringCaseAndAt) {
  const RuleSet rules = one_rule("{authors: [\"@Spammer@Example.org\", troll]}");
  Mention m = mention("x");
  m.author = "spammer";
  m.author_acct = "spammer@example.org";
  EXPECT_TRUE(hits(rules, m));
  m.author = "TROLL";
  m.author_acct = "troll@elsewhere.example";
  EXPECT_TRUE(hits(rules, m));
  m.author = "spammer";
  m.author_acct = "spammer@other.example";
  EXPECT_FALSE(hits(rules, m));
}

// --- Neighbourhoods ---

const std::string kLists =
    "neighbourhoods:\n"
    "  songpa: [잠실동, 가락동, 잠실본동]\n"
    "  gangdong: [천호동]\n";

TEST(RuleNeighbourhood, FindsTheFirstPlaceNamedInTheText) {
  const RuleSet rules = load(kLists + with_default("  - name: hit\n"
                                                   "    match: {neighbourhood: songpa}\n"));
  const Decision d = rules.decide(mention("가락동 시장 앞, 잠실동 쪽"));
  EXPECT_EQ(d.rule, "hit");
  EXPECT_EQ(d.neighbourhood, "가락동");
  EXPECT_EQ(rules.decide(mention("잠실본동 주민센터")).neighbourhood, "잠실본동");
  EXPECT_EQ(rules.decide(mention("천호동 사거리")).rule, "default");
  EXPECT_EQ(rules.decide(mention("천호동 사거리")).neighbourhood, "");
  EXPECT_EQ(rules.neighbourhood_list_count(), 2u);
}

TEST(RuleNeighbourhood, SeveralListsMayBeNamed) {
  const RuleSet rules =
      load(kLists + with_default("  - name: hit\n"
                                 "    match: {neighbourhood: [songpa, gangdong]}\n"));
  EXPECT_EQ(rules.decide(mention("천호동 사거리")).neighbourhood, "천호동");
}

TEST(RuleNeighbourhood, ListsMayComeFromALaterFile) {
  TempDir dir;
  dir.write("10-rules.yaml", with_default("  - name: hit\n    match: {neighbourhood: songpa}\n"));
  dir.write("neighbourhoods.yaml", kLists);
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_TRUE(rules.ok()) << rules.error();
  EXPECT_EQ(rules->decide(mention("잠실동")).rule, "hit");
}

// --- Time windows ---

Mention at(int year, int month, int day, int hour, int minute) {
  Mention m = mention("x");
  m.created_at_ms = seoul(year, month, day, hour, minute);
  return m;
}

// 2025-11-22 is a Saturday, 2025-11-24 a Monday.
TEST(RuleTime, DaysAndHours) {
  const RuleSet rules = one_rule("{time: {days: [sat, sun], from: \"09:00\", to: \"18:00\"}}");
  EXPECT_TRUE(hits(rules, at(2025, 11, 22, 9, 0)));
  EXPECT_TRUE(hits(rules, at(2025, 11, 23, 17, 59)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 22, 18, 0)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 24, 12, 0)));
}

TEST(RuleTime, RangesOfDays) {
  const RuleSet rules = one_rule("{time: {days: mon-fri}}");
  EXPECT_TRUE(hits(rules, at(2025, 11, 24, 0, 0)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 22, 12, 0)));
  const RuleSet wrapped = one_rule("{time: {days: [fri-mon]}}");
  EXPECT_TRUE(hits(wrapped, at(2025, 11, 22, 12, 0)));
  EXPECT_FALSE(hits(wrapped, at(2025, 11, 25, 12, 0)));
}

TEST(RuleTime, WindowWrapsMidnight) {
  const RuleSet rules = one_rule("{time: {from: \"22:00\", to: \"06:00\"}}");
  EXPECT_TRUE(hits(rules, at(2025, 11, 19, 22, 0)));
  EXPECT_TRUE(hits(rules, at(2025, 11, 20, 0, 0)));
  EXPECT_TRUE(hits(rules, at(2025, 11, 20, 5, 59)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 20, 6, 0)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 20, 21, 59)));
}

TEST(RuleTime, HoursAfterMidnightBelongToTheNightTheyStarted) {
  const RuleSet rules = one_rule("{time: {days: [fri], from: \"22:00\", to: \"06:00\"}}");
  EXPECT_TRUE(hits(rules, at(2025, 11, 21, 23, 0)));   // Friday night
  EXPECT_TRUE(hits(rules, at(2025, 11, 22, 1, 0)));    // Saturday 01:00, still Friday night
  EXPECT_FALSE(hits(rules, at(2025, 11, 21, 1, 0)));   // Friday 01:00 is Thursday night
  EXPECT_FALSE(hits(rules, at(2025, 11, 22, 23, 0)));  // Saturday night
}

TEST(RuleTime, EndOfDayIsWrittenAs2400) {
  const RuleSet rules = one_rule("{time: {from: \"18:00\", to: \"24:00\"}}");
  EXPECT_TRUE(hits(rules, at(2025, 11, 19, 23, 59)));
  EXPECT_FALSE(hits(rules, at(2025, 11, 20, 0, 0)));
}

TEST(RuleTime, CreatedAtZeroMeansNow) {
  Mention m = mention("x");
  m.created_at_ms = 0;
  EXPECT_TRUE(hits(one_rule("{time: {days: [daily, holiday]}}"), m));
}

// A calendar with 2025-10-03 (개천절, a Friday) as a holiday (format: holidays/README.md).
const Calendar& calendar_with_holiday() {
  static const Calendar cal = [] {
    TempDir dir;
    dir.write("2025.yaml",
              "holidays:\n"
              "  - {date: 2025-10-03, ko: 개천절, en: National Foundation Day}\n");
    auto c = Calendar::load("Asia/Seoul", dir.path());
    if (!c) ADD_FAILURE() << c.error();
    return std::move(c).value();
  }();
  return cal;
}

TEST(RuleTime, OnAHolidayOnlyHolidayCounts) {
  const Calendar& cal = calendar_with_holiday();
  ASSERT_TRUE(cal.holiday(2025, 10, 3));
  const RuleSet weekdays = one_rule("{time: {days: [mon-fri], from: \"09:00\", to: \"18:00\"}}");
  const RuleSet holidays = one_rule("{time: {days: [holiday], from: \"09:00\", to: \"18:00\"}}");
  const RuleSet daily = one_rule("{time: {days: [daily]}}");
  const RuleSet always = one_rule("{time: {from: \"00:00\", to: \"24:00\"}}");
  Mention m = at(2025, 10, 3, 12, 0);
  EXPECT_EQ(weekdays.decide(m, cal).rule, "default");
  EXPECT_EQ(holidays.decide(m, cal).rule, "hit");
  EXPECT_EQ(daily.decide(m, cal).rule, "default");
  EXPECT_EQ(always.decide(m, cal).rule, "hit");
  m = at(2025, 10, 2, 12, 0);
  EXPECT_EQ(weekdays.decide(m, cal).rule, "hit");
  EXPECT_EQ(holidays.decide(m, cal).rule, "default");
}

TEST(RuleTime, TheNightAfterAHolidayIsTheHolidays) {
  const Calendar& cal = calendar_with_holiday();
  const RuleSet rules = one_rule("{time: {days: [holiday], from: \"22:00\", to: \"06:00\"}}");
  EXPECT_EQ(rules.decide(at(2025, 10, 4, 2, 0), cal).rule, "hit");      // Saturday 02:00
  EXPECT_EQ(rules.decide(at(2025, 10, 3, 2, 0), cal).rule, "default");  // Thursday's night
}

TEST(RuleTime, TraceSaysWhenAndWhy) {
  const RuleSet rules = one_rule("{time: {days: [sat, sun], from: \"09:00\", to: \"18:00\"}}");
  RuleTrace trace;
  rules.decide(at(2025, 11, 22, 23, 10), Calendar::seoul_without_holidays(), &trace);
  ASSERT_EQ(trace.steps.size(), 1u);
  EXPECT_EQ(trace.steps[0].why, "time: Sat 23:10 is outside sat,sun 09:00-18:00");
  trace.steps.clear();
  rules.decide(at(2025, 10, 4, 10, 5), calendar_with_holiday(), &trace);
  EXPECT_EQ(trace.steps[0].why, "time: Sat 10:05 is within sat,sun 09:00-18:00");
  trace.steps.clear();
  rules.decide(at(2025, 10, 3, 10, 5), calendar_with_holiday(), &trace);
  EXPECT_EQ(trace.steps[0].why, "time: Fri 10:05 (holiday) is outside sat,sun 09:00-18:00");
  const RuleSet night = one_rule("{time: {days: [fri], from: \"22:00\", to: \"06:00\"}}");
  trace.steps.clear();
  night.decide(at(2025, 11, 22, 1, 30), Calendar::seoul_without_holidays(), &trace);
  EXPECT_EQ(trace.steps[0].why, "time: Sat 01:30 (the night from Fri) is within fri 22:00-06:00");
}

// --- Several conditions ---

TEST(RuleConditions, AllPresentConditionsMustHold) {
  const RuleSet rules = one_rule("{any: [육교], platform: [mastodon], language: [ko]}");
  Mention m = mention("육교");
  EXPECT_TRUE(hits(rules, m));
  m.language = "en";
  EXPECT_FALSE(hits(rules, m));
  m = mention("버스");
  EXPECT_FALSE(hits(rules, m));
}

TEST(RuleConditions, NoneVetoesAnyOtherCondition) {
  const RuleSet rules = one_rule("{platform: [mastodon], none: [감사]}");
  EXPECT_TRUE(hits(rules, "육교"));
  EXPECT_FALSE(hits(rules, "감사합니다"));
}

}  // namespace
}  // namespace sotong
