#include "daemon/calendar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/util/yaml_file.hpp"
#include "tests/unit/temp_dir.hpp"

namespace sotong {
namespace {

using test_support::TempDir;

const std::filesystem::path kShipped = std::filesystem::path(SOTONG_SOURCE_DIR) / "holidays";

// Milliseconds since the epoch of a UTC date and time, by the civil-days algorithm, so that
// expected values do not come from the code under test.
constexpr int64_t utc(int y, int m, int d, int hour, int minute) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + hour) * 60 + minute) * 60000;
}
static_assert(utc(1970, 1, 1, 0, 0) == 0);
static_assert(utc(2026, 11, 23, 0, 0) == 1795392000000);  // date -u -d '2026-11-23' +%s

const Calendar& seoul() {
  static const Calendar cal = [] {
    auto r = Calendar::load("Asia/Seoul", kShipped);
    if (!r) ADD_FAILURE() << r.error();
    return r ? std::move(r).value() : Calendar{};
  }();
  return cal;
}

const Calendar& new_york() {
  static const Calendar cal = [] {
    auto r = Calendar::load("America/New_York", {});
    if (!r) ADD_FAILURE() << r.error();
    return r ? std::move(r).value() : Calendar{};
  }();
  return cal;
}

void expect_local(const LocalTime& t, int y, int m, int d, int weekday, int minute_of_day) {
  EXPECT_EQ(t.year, y);
  EXPECT_EQ(t.month, m);
  EXPECT_EQ(t.day, d);
  EXPECT_EQ(t.weekday, weekday);
  EXPECT_EQ(t.minute_of_day, minute_of_day);
}

// --- Zones ---

TEST(CalendarZone, SeoulIsNineHoursAheadOfUtc) {
  expect_local(seoul().local(utc(2026, 11, 23, 0, 0)), 2026, 11, 23, 0, 9 * 60);
  EXPECT_EQ(seoul().to_utc_ms(2026, 11, 23, 9 * 60), utc(2026, 11, 23, 0, 0));
  EXPECT_EQ(seoul().zone_name(), "Asia/Seoul");
}

TEST(CalendarZone, SeoulDateTurnsAtLocalMidnight) {
  expect_local(seoul().local(utc(2026, 12, 31, 15, 0)), 2027, 1, 1, 4, 0);
  expect_local(seoul().local(utc(2026, 12, 31, 14, 59)), 2026, 12, 31, 3, 23 * 60 + 59);
}

TEST(CalendarZone, SeoulHasNoDaylightSaving) {
  expect_local(seoul().local(utc(2026, 7, 1, 3, 0)), 2026, 7, 1, 2, 12 * 60);
  expect_local(seoul().local(utc(2026, 1, 15, 3, 0)), 2026, 1, 15, 3, 12 * 60);
}

TEST(CalendarZone, MinutesAndDaysRollOver) {
  EXPECT_EQ(seoul().to_utc_ms(2026, 11, 23, 24 * 60), utc(2026, 11, 23, 15, 0));
  EXPECT_EQ(seoul().to_utc_ms(2026, 2, 29, 0), utc(2026, 2, 28, 15, 0));  // = 1 March KST
  EXPECT_EQ(seoul().to_utc_ms(2026, 13, 1, 0), utc(2026, 12, 31, 15, 0));
}

TEST(CalendarZone, NewYorkFollowsDaylightSaving) {
  expect_local(new_york().local(utc(2026, 7, 1, 16, 0)), 2026, 7, 1, 2, 12 * 60);    // EDT
  expect_local(new_york().local(utc(2026, 1, 15, 17, 0)), 2026, 1, 15, 3, 12 * 60);  // EST
}

TEST(CalendarZone, SkippedHourResolvesToFirstMinuteAfterIt) {
  // 8 March 2026: New York's clocks go from 02:00 EST to 03:00 EDT.
  EXPECT_EQ(new_york().to_utc_ms(2026, 3, 8, 2 * 60 + 30), utc(2026, 3, 8, 7, 0));
  EXPECT_EQ(new_york().to_utc_ms(2026, 3, 8, 2 * 60), utc(2026, 3, 8, 7, 0));
  EXPECT_EQ(new_york().to_utc_ms(2026, 3, 8, 3 * 60), utc(2026, 3, 8, 7, 0));
  EXPECT_EQ(new_york().to_utc_ms(2026, 3, 8, 60 + 59), utc(2026, 3, 8, 6, 59));
}

TEST(CalendarZone, RepeatedHourGivesEarlierOrLaterInstant) {
  // 1 November 2026: 01:00 to 02:00 is shown twice, first in EDT, then in EST.
  EXPECT_EQ(new_york().to_utc_ms(2026, 11, 1, 90), utc(2026, 11, 1, 5, 30));
  EXPECT_EQ(new_york().to_utc_ms_later(2026, 11, 1, 90), utc(2026, 11, 1, 6, 30));
  EXPECT_EQ(new_york().to_utc_ms_later(2026, 11, 1, 3 * 60), utc(2026, 11, 1, 8, 0));
}

TEST(CalendarZone, UnknownZoneIsALoadError) {
  auto r = Calendar::load("Asia/Busan", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "unknown time zone \"Asia/Busan\" (an IANA name such as Asia/Seoul)");
  EXPECT_FALSE(Calendar::load("", {}).ok());
  EXPECT_FALSE(Calendar::load("../../etc/passwd", {}).ok());
}

TEST(CalendarZone, SeoulWithoutHolidaysNeedsNoFiles) {
  const Calendar& cal = Calendar::seoul_without_holidays();
  EXPECT_EQ(cal.zone_name(), "Asia/Seoul");
  EXPECT_EQ(cal.holiday_count(), 0u);
  EXPECT_EQ(cal.to_utc_ms(2026, 2, 17, 9 * 60), utc(2026, 2, 17, 0, 0));
}

// --- The shipped holidays ---

std::string ko_name(int y, int m, int d) {
  const Holiday* h = seoul().holiday(y, m, d);
  return h == nullptr ? "(none)" : h->names.at("ko");
}

TEST(CalendarShippedHolidays, CoverTwoYears) {
  EXPECT_EQ(seoul().holiday_years(), (std::vector<int>{2026, 2027}));
  EXPECT_EQ(seoul().holiday_count(), 21u + 22u);
}

TEST(CalendarShippedHolidays, SeollalAndChuseok2026) {
  EXPECT_EQ(ko_name(2026, 2, 16), "설날 전날");
  EXPECT_EQ(ko_name(2026, 2, 17), "설날");
  EXPECT_EQ(seoul().holiday(2026, 2, 17)->names.at("en"), "Seollal (Lunar New Year)");
  EXPECT_EQ(ko_name(2026, 2, 18), "설날 다음날");
  EXPECT_EQ(ko_name(2026, 2, 19), "(none)");
  EXPECT_EQ(ko_name(2026, 9, 25), "추석");
  // Chuseok's last day is a Saturday: no substitute (only a Sunday or a holiday gives one).
  EXPECT_EQ(ko_name(2026, 9, 28), "(none)");
}

TEST(CalendarShippedHolidays, SubstituteDays) {
  EXPECT_EQ(ko_name(2026, 3, 2), "대체공휴일(삼일절)");
  EXPECT_EQ(ko_name(2026, 5, 25), "대체공휴일(부처님오신날)");
  EXPECT_EQ(ko_name(2026, 8, 17), "대체공휴일(광복절)");
  EXPECT_EQ(ko_name(2026, 10, 5), "대체공휴일(개천절)");
  EXPECT_EQ(ko_name(2027, 2, 9), "대체공휴일(설날)");
  EXPECT_EQ(ko_name(2027, 8, 16), "대체공휴일(광복절)");
  EXPECT_EQ(ko_name(2027, 10, 4), "대체공휴일(개천절)");
  EXPECT_EQ(ko_name(2027, 10, 11), "대체공휴일(한글날)");
  EXPECT_EQ(ko_name(2027, 12, 27), "대체공휴일(성탄절)");
  // Memorial Day has no substitute (6 June 2026 is a Saturday, 2027 a Sunday).
  EXPECT_EQ(ko_name(2026, 6, 8), "(none)");
  EXPECT_EQ(ko_name(2027, 6, 7), "(none)");
}

TEST(CalendarShippedHolidays, LocalElectionDay2026) {
  EXPECT_EQ(ko_name(2026, 6, 3), "전국동시지방선거일");
}

TEST(CalendarShippedHolidays, SubstitutesFallOnWeekdays) {
  int substitutes = 0;
  for (int y : {2026, 2027}) {
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= 31; ++d) {
        const Holiday* h = seoul().holiday(y, m, d);
        if (h == nullptr || !h->names.at("ko").starts_with("대체공휴일")) continue;
        ++substitutes;
        EXPECT_LT(seoul().local(seoul().to_utc_ms(y, m, d, 0)).weekday, 5) << h->date;
      }
    }
  }
  EXPECT_EQ(substitutes, 4 + 6);
}

// --- Loading holiday files ---

std::string holiday_error(const std::vector<std::pair<std::string, std::string>>& files) {
  TempDir dir;
  for (const auto& [name, content] : files) dir.write(name, content);
  auto r = Calendar::load("Asia/Seoul", dir.path());
  EXPECT_FALSE(r.ok());
  if (r) return {};
  std::string e = r.error();
  // Messages carry full paths; compare what follows the folder.
  const std::string prefix = (dir.path() / "").string();
  for (auto at = e.find(prefix); at != std::string::npos; at = e.find(prefix)) {
    e.erase(at, prefix.size());
  }
  return e;
}

TEST(CalendarHolidayFiles, CityFileAddsItsOwnDays) {
  TempDir dir;
  dir.write("city.yaml", "holidays:\n  - {date: 2026-10-17, ko: 시민의 날}\n");
  dir.write(".city.yaml.swp", "not yaml: [");
  auto r = Calendar::load("Asia/Seoul", dir.path());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->holiday_count(), 1u);
  ASSERT_NE(r->holiday(2026, 10, 17), nullptr);
  EXPECT_EQ(r->holiday(2026, 10, 17)->names.at("ko"), "시민의 날");
  EXPECT_EQ(r->holiday(2026, 10, 17)->date, "2026-10-17");
}

TEST(CalendarHolidayFiles, NoFolderMeansNoHolidays) {
  auto r = Calendar::load("Asia/Seoul", {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->holiday_count(), 0u);
  EXPECT_TRUE(r->holiday_years().empty());
}

TEST(CalendarHolidayFiles, UnknownFieldNamesItsPlace) {
  EXPECT_EQ(holiday_error({{"city.yaml",
                            "holidays:\n"
                            "  - date: 2026-10-17\n"
                            "    ko: 시민의 날\n"
                            "    jp: x\n"}}),
            "city.yaml:4:5: unknown field \"jp\" (known: date, ko, en)");
}

TEST(CalendarHolidayFiles, InvalidDate) {
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays:\n  - {date: 2026-02-30, ko: x}\n"}}),
            "city.yaml:2:12: \"2026-02-30\" is not a date (YYYY-MM-DD)");
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays:\n  - {date: 2026-2-3, ko: x}\n"}}),
            "city.yaml:2:12: \"2026-2-3\" is not a date (YYYY-MM-DD)");
}

TEST(CalendarHolidayFiles, DateListedTwiceNamesBothPlaces) {
  EXPECT_EQ(holiday_error({{"a.yaml", "holidays:\n  - {date: 2026-10-17, ko: x}\n"},
                           {"b.yaml", "# city\nholidays:\n  - {date: 2026-10-17, en: y}\n"}}),
            "b.yaml:3:12: 2026-10-17 is listed twice (first at a.yaml:2:12)");
}

TEST(CalendarHolidayFiles, NameMustBeOneLine) {
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays:\n  - {date: 2026-10-17, ko: \"a\\nb\"}\n"}}),
            "city.yaml:2:28: ko must be one line");
}

TEST(CalendarHolidayFiles, HolidayNeedsDateAndName) {
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays:\n  - {date: 2026-10-17}\n"}}),
            "city.yaml:2:5: a holiday needs a name (ko:, en: or both)");
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays:\n  - {ko: x}\n"}}),
            "city.yaml:2:5: a holiday needs a date: (YYYY-MM-DD)");
  EXPECT_EQ(holiday_error({{"city.yaml", "holidays: 2026-10-17\n"}}),
            "city.yaml:1:11: holidays: must be a list of {date: YYYY-MM-DD, ko: ..., en: ...}");
  EXPECT_EQ(holiday_error({{"city.yaml", "days:\n  - {date: 2026-10-17, ko: x}\n"}}),
            "city.yaml:1:1: unknown field \"days\" (known: holidays)");
}

// --- Opening hours: parsing ---

Result<OpeningHours> parse(const std::string& yaml) {
  auto doc = yaml_file::parse(yaml, "dept.yaml", 64 * 1024);
  if (!doc) return Error{doc.error()};
  return parse_opening_hours("dept.yaml", *doc);
}

std::string parse_error(const std::string& yaml) {
  auto r = parse(yaml);
  EXPECT_FALSE(r.ok()) << yaml;
  return r ? std::string{} : r.error();
}

using Ranges = std::vector<std::pair<int, int>>;

TEST(OpeningHoursParse, WeekdaysSaturdayAndHolidays) {
  auto r = parse("{mon-fri: \"09:00-18:00\", sat: \"09:00-13:00\", holidays: closed}");
  ASSERT_TRUE(r.ok()) << r.error();
  for (int d = 0; d < 5; ++d) EXPECT_EQ(r->week[d], (Ranges{{540, 1080}})) << d;
  EXPECT_EQ(r->week[5], (Ranges{{540, 780}}));
  EXPECT_TRUE(r->week[6].empty());
  EXPECT_FALSE(r->open_on_holidays);
  EXPECT_FALSE(r->always);
  EXPECT_FALSE(r->empty());
}

TEST(OpeningHoursParse, ListsJoinTouchingRangesAndEndAtMidnight) {
  auto r = parse("daily: [\"13:00-18:00\", \"09:00-12:00\", \"18:00-24:00\"]\nholidays: open\n");
  ASSERT_TRUE(r.ok()) << r.error();
  for (int d = 0; d < 7; ++d) EXPECT_EQ(r->week[d], (Ranges{{540, 720}, {780, 1440}})) << d;
  EXPECT_TRUE(r->open_on_holidays);
}

TEST(OpeningHoursParse, DayRangeMayWrapPastSunday) {
  auto r = parse("fri-mon: \"10:00-16:00\"");
  ASSERT_TRUE(r.ok()) << r.error();
  for (int d : {4, 5, 6, 0}) EXPECT_EQ(r->week[d], (Ranges{{600, 960}})) << d;
  for (int d : {1, 2, 3}) EXPECT_TRUE(r->week[d].empty()) << d;
}

TEST(OpeningHoursParse, Always) {
  auto r = parse("always");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->always);
  EXPECT_TRUE(r->open_on_holidays);
  EXPECT_FALSE(r->empty());
}

TEST(OpeningHoursParse, NoDaysIsEmpty) {
  auto r = parse("{sun: []}");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->empty());
}

TEST(OpeningHoursParse, TimeOutOfRange) {
  EXPECT_EQ(parse_error("mon-fri: \"25:00-18:00\""),
            "dept.yaml:1:10: \"25:00\" is not a time (HH:MM, 00:00 to 24:00)");
  EXPECT_EQ(parse_error("mon: \"09:00-18:60\""),
            "dept.yaml:1:6: \"18:60\" is not a time (HH:MM, 00:00 to 24:00)");
  EXPECT_EQ(parse_error("mon: \"9:00-18:00\""),
            "dept.yaml:1:6: \"9:00\" is not a time (HH:MM, 00:00 to 24:00)");
  EXPECT_EQ(parse_error("mon: \"09:00-24:01\""),
            "dept.yaml:1:6: \"24:01\" is not a time (HH:MM, 00:00 to 24:00)");
}

TEST(OpeningHoursParse, RangeMayNotWrapPastMidnight) {
  EXPECT_EQ(parse_error("daily: \"22:00-02:00\""),
            "dept.yaml:1:8: a range may not wrap past midnight; write two ranges: "
            "\"22:00-24:00\" and \"00:00-02:00\" on the next day");
}

TEST(OpeningHoursParse, RangeMayNotStartAtMidnightsEnd) {
  EXPECT_EQ(parse_error("daily: \"24:00-24:00\""),
            "dept.yaml:1:8: a range may not start at 24:00 (write 00:00)");
}

TEST(OpeningHoursParse, EmptyRange) {
  EXPECT_EQ(parse_error("daily: \"09:00-09:00\""),
            "dept.yaml:1:8: \"09:00-09:00\" is an empty range");
}

TEST(OpeningHoursParse, NotARange) {
  EXPECT_EQ(parse_error("mon-fri: \"09:00-18:00\"\nsun: closed\n"),
            "dept.yaml:2:6: \"closed\" is not a time range (HH:MM-HH:MM, e.g. 09:00-18:00; "
            "leave a day out to close it)");
  EXPECT_EQ(parse_error("mon: [[\"09:00-18:00\"]]"),
            "dept.yaml:1:7: expected a time range \"HH:MM-HH:MM\"");
  EXPECT_EQ(parse_error("mon: {from: \"09:00\"}"),
            "dept.yaml:1:6: hours are a range \"HH:MM-HH:MM\" or a list of them, not a map");
}

TEST(OpeningHoursParse, UnknownDayListsTheKnownOnes) {
  EXPECT_EQ(parse_error("mon-fri: \"09:00-18:00\"\nmnd: \"09:00-12:00\"\n"),
            "dept.yaml:2:1: unknown day \"mnd\" (known: mon, tue, wed, thu, fri, sat, sun, a "
            "range like mon-fri, daily, holidays)");
  EXPECT_EQ(parse_error("mon-frj: \"09:00-18:00\""),
            "dept.yaml:1:1: unknown day \"mon-frj\" (known: mon, tue, wed, thu, fri, sat, sun, a "
            "range like mon-fri, daily, holidays)");
}

TEST(OpeningHoursParse, DayGivenTwice) {
  EXPECT_EQ(parse_error("mon-fri: \"09:00-18:00\"\nwed: \"09:00-12:00\"\n"),
            "dept.yaml:2:1: day \"wed\" given twice (first by \"mon-fri\" at line 1)");
  EXPECT_EQ(parse_error("holidays: open\nholidays: closed\n"),
            "dept.yaml:2:1: \"holidays\" given twice (first at line 1)");
}

TEST(OpeningHoursParse, DayWithoutHours) {
  EXPECT_EQ(parse_error("mon-fri: \"09:00-18:00\"\nsat:\n"),
            "dept.yaml:2:1: day \"sat\" has no hours (write \"HH:MM-HH:MM\" or leave the day out)");
}

TEST(OpeningHoursParse, HolidaysMustBeClosedOrOpen) {
  EXPECT_EQ(parse_error("mon: \"09:00-18:00\"\nholidays: yes\n"),
            "dept.yaml:2:11: holidays: must be \"closed\" or \"open\"");
}

TEST(OpeningHoursParse, NeitherAlwaysNorAMap) {
  EXPECT_EQ(parse_error("sometimes"),
            "dept.yaml:1:1: hours must be \"always\" or a map of days to ranges, e.g. "
            "{mon-fri: \"09:00-18:00\"}");
  EXPECT_EQ(parse_error("- \"09:00-18:00\""),
            "dept.yaml:1:1: hours must be \"always\" or a map of days to ranges, e.g. "
            "{mon-fri: \"09:00-18:00\"}");
}

// --- Opening hours: is_open and next_opening ---

OpeningHours office() {
  auto r = parse("{mon-fri: [\"09:00-12:00\", \"13:00-18:00\"], holidays: closed}");
  EXPECT_TRUE(r.ok()) << r.error();
  return r ? *r : OpeningHours{};
}

TEST(OpeningHoursOpen, OpenDuringHoursClosedAtLunchAndEvening) {
  const OpeningHours h = office();
  EXPECT_TRUE(is_open(h, seoul(), utc(2026, 11, 23, 0, 0)));     // Mon 09:00 KST
  EXPECT_FALSE(is_open(h, seoul(), utc(2026, 11, 22, 23, 59)));  // Mon 08:59
  EXPECT_FALSE(is_open(h, seoul(), utc(2026, 11, 23, 3, 30)));   // Mon 12:30
  EXPECT_TRUE(is_open(h, seoul(), utc(2026, 11, 23, 8, 59)));    // Mon 17:59
  EXPECT_FALSE(is_open(h, seoul(), utc(2026, 11, 23, 9, 0)));    // Mon 18:00
  EXPECT_FALSE(is_open(h, seoul(), utc(2026, 11, 21, 2, 0)));    // Sat 11:00
}

TEST(OpeningHoursOpen, ClosedOnAWeekdayHoliday) {
  EXPECT_FALSE(is_open(office(), seoul(), utc(2026, 2, 17, 2, 0)));  // 설날, Tue 11:00
  auto open = parse("{mon-fri: \"09:00-18:00\", holidays: open}");
  ASSERT_TRUE(open.ok()) << open.error();
  EXPECT_TRUE(is_open(*open, seoul(), utc(2026, 2, 17, 2, 0)));
}

TEST(OpeningHoursNext, OpenNowIsNow) {
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 11, 23, 1, 17)), utc(2026, 11, 23, 1, 17));
}

TEST(OpeningHoursNext, EarlyMorningOpensTheSameDay) {
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 11, 22, 22, 0)),  // Mon 07:00 KST
            utc(2026, 11, 23, 0, 0));
}

TEST(OpeningHoursNext, LunchReopensAtOne) {
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 11, 23, 3, 10)),  // Mon 12:10 KST
            utc(2026, 11, 23, 4, 0));
}

TEST(OpeningHoursNext, FridayEveningOpensMonday) {
  // Friday 20 November 2026, 19:00 KST -> Monday 23 November, 09:00 KST.
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 11, 20, 10, 0)), utc(2026, 11, 23, 0, 0));
}

TEST(OpeningHoursNext, SkipsSeollal) {
  // Friday 13 February 2026, 18:30 KST; Monday to Wednesday are Seollal -> Thursday 19th.
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 2, 13, 9, 30)), utc(2026, 2, 19, 0, 0));
}

TEST(OpeningHoursNext, SkipsAMondayHoliday) {
  // Friday 14 August 2026, 20:00 KST; Monday 17th is the substitute for Liberation Day.
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 8, 14, 11, 0)), utc(2026, 8, 18, 0, 0));
  // Friday 2 October 2026; Monday 5th is the substitute for National Foundation Day.
  EXPECT_EQ(next_opening(office(), seoul(), utc(2026, 10, 2, 10, 0)), utc(2026, 10, 6, 0, 0));
}

TEST(OpeningHoursNext, HolidayOpenDepartmentsOpenOnHolidays) {
  auto h = parse("{daily: \"10:00-16:00\", holidays: open}");
  ASSERT_TRUE(h.ok()) << h.error();
  // Monday 16 February 2026 (설날 전날), 08:00 KST -> 10:00 the same day.
  EXPECT_EQ(next_opening(*h, seoul(), utc(2026, 2, 15, 23, 0)), utc(2026, 2, 16, 1, 0));
}

TEST(OpeningHoursNext, AlwaysIsOpenAtAnyTime) {
  auto h = parse("always");
  ASSERT_TRUE(h.ok()) << h.error();
  const int64_t seollal_3am = utc(2026, 2, 16, 18, 0);
  EXPECT_TRUE(is_open(*h, seoul(), seollal_3am));
  EXPECT_EQ(next_opening(*h, seoul(), seollal_3am), seollal_3am);
}

TEST(OpeningHoursNext, NeverOpenGivesNothing) {
  EXPECT_EQ(next_opening(OpeningHours{}, seoul(), utc(2026, 11, 20, 10, 0)), std::nullopt);
}

TEST(OpeningHoursNext, SundayOnlyHoursOpenNextSunday) {
  // Monday 23 November 2026, 09:00 KST -> Sunday 29th, 10:00 KST.
  auto h = parse("{sun: \"10:00-11:00\"}");
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(next_opening(*h, seoul(), utc(2026, 11, 23, 0, 0)), utc(2026, 11, 29, 1, 0));
}

TEST(OpeningHoursNext, SkippedHoursNeverOpen) {
  // New York, 8 March 2026: 02:00-03:00 does not exist, so the desk first opens on the 9th.
  auto h = parse("{daily: \"02:00-03:00\"}");
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(next_opening(*h, new_york(), utc(2026, 3, 8, 5, 0)), utc(2026, 3, 9, 6, 0));
}

TEST(OpeningHoursNext, RepeatedHourOpensAgain) {
  // New York, 1 November 2026, 01:45 EDT: at 01:00 EST (15 minutes later) the clock shows
  // 01:00 again.
  auto h = parse("{daily: \"01:00-01:20\"}");
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(next_opening(*h, new_york(), utc(2026, 11, 1, 5, 45)), utc(2026, 11, 1, 6, 0));
}

// --- Formatting ---

TEST(CalendarFormat, KoreanMorningOnTheHour) {
  EXPECT_EQ(format_local_time(seoul(), utc(2025, 11, 24, 0, 0), "ko"), "11월 24일(월) 오전 9시");
}

TEST(CalendarFormat, KoreanAfternoonWithMinutes) {
  EXPECT_EQ(format_local_time(seoul(), utc(2025, 11, 24, 4, 30), "ko"),
            "11월 24일(월) 오후 1시 30분");
}

TEST(CalendarFormat, KoreanNoonAndMidnight) {
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 17, 3, 0), "ko"), "2월 17일(화) 오후 12시");
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 16, 15, 0), "ko"), "2월 17일(화) 오전 12시");
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 17, 14, 59), "ko"),
            "2월 17일(화) 오후 11시 59분");
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 17, 2, 5), "ko-KR"),
            "2월 17일(화) 오전 11시 5분");
}

TEST(CalendarFormat, English) {
  EXPECT_EQ(format_local_time(seoul(), utc(2025, 11, 24, 0, 0), "en"), "Mon 24 Nov, 9:00 AM");
  EXPECT_EQ(format_local_time(seoul(), utc(2025, 11, 24, 4, 30), "en"), "Mon 24 Nov, 1:30 PM");
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 17, 3, 5), "en"), "Tue 17 Feb, 12:05 PM");
  EXPECT_EQ(format_local_time(seoul(), utc(2026, 2, 16, 15, 0), "en"), "Tue 17 Feb, 12:00 AM");
}

TEST(CalendarFormat, OtherLanguagesUseEnglish) {
  EXPECT_EQ(format_local_time(seoul(), utc(2025, 11, 24, 0, 0), "ja"), "Mon 24 Nov, 9:00 AM");
}

TEST(CalendarFormat, InTheDesksZone) {
  EXPECT_EQ(format_local_time(new_york(), utc(2025, 11, 24, 0, 0), "en"), "Sun 23 Nov, 7:00 PM");
}

}  // namespace
}  // namespace sotong
