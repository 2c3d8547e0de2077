// Calendar: local time in the desk's time zone (IANA name, default Asia/Seoul) and the public
// holidays (holidays/*.yaml). OpeningHours: when a department looks at tickets. Together they
// answer "is the department in now?" and "when will it be?" ({{next_business_time}}), and give
// rules their time windows.
// Immutable after load; every const function is thread-safe. Time zone data comes from the
// system's tzdata (/usr/share/zoneinfo) through Howard Hinnant's date library.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/util/result.hpp"

namespace date {
class time_zone;
}

namespace sotong {

// A moment as the desk's clock on the wall shows it.
struct LocalTime {
  int year = 1970;
  int month = 1;          // 1..12
  int day = 1;            // 1..31
  int weekday = 3;        // 0 = Monday .. 6 = Sunday
  int minute_of_day = 0;  // 0..1439
};

struct Holiday {
  std::string date;                          // YYYY-MM-DD
  std::map<std::string, std::string> names;  // language -> name, e.g. ko -> 설날
};

class Calendar {
 public:
  static constexpr std::string_view kDefaultZone = "Asia/Seoul";

  // Loads the zone and every *.yaml holiday file in `holidays_dir` (an empty path: no
  // holidays). Errors name the zone, or file:line:column.
  static Result<Calendar> load(std::string_view time_zone,
                               const std::filesystem::path& holidays_dir);
  // Asia/Seoul without holidays: for tools and tests that need no configuration.
  static const Calendar& seoul_without_holidays();

  const std::string& zone_name() const { return zone_name_; }
  LocalTime local(int64_t utc_ms) const;
  // The UTC instant of a local date and minute of day; a time skipped by a daylight-saving
  // change resolves to the first valid minute after it.
  int64_t to_utc_ms(int year, int month, int day, int minute_of_day) const;
  // Like to_utc_ms, but a time shown twice (clocks set back) gives the later instant; to_utc_ms
  // gives the earlier one. Out-of-range days and minutes roll over (minute 1440 is the next
  // day's 00:00).
  int64_t to_utc_ms_later(int year, int month, int day, int minute_of_day) const;
  // The holiday on a local date, or nullptr.
  const Holiday* holiday(int year, int month, int day) const;
  bool is_holiday(const LocalTime& t) const { return holiday(t.year, t.month, t.day) != nullptr; }
  std::size_t holiday_count() const { return holidays_.size(); }
  // The years the holiday files cover (so a check can warn when the list runs out).
  std::vector<int> holiday_years() const;

 private:
  int64_t to_utc(int year, int month, int day, int minute_of_day, bool later) const;

  // nullptr: a fixed UTC+9, used only when the system has no tzdata at all (Seoul has had no
  // daylight saving since 1988, so the answers stay right).
  const date::time_zone* zone_ = nullptr;
  std::string zone_name_{kDefaultZone};
  std::map<std::string, Holiday, std::less<>> holidays_;  // by YYYY-MM-DD
};

// When a department looks at tickets. YAML forms:
//   hours: always
//   hours: {mon-fri: "09:00-18:00", sat: "09:00-13:00", holidays: closed}
// Day keys: mon tue wed thu fri sat sun, ranges like mon-fri, and "daily". Each value is one
// range "HH:MM-HH:MM" or a list of them; "24:00" is allowed as an end; a range may not wrap
// past midnight (write two). `holidays: closed` (the default) or `open`.
struct OpeningHours {
  bool always = false;
  std::array<std::vector<std::pair<int, int>>, 7> week;  // [from, to) minutes, Monday first
  bool open_on_holidays = false;

  bool empty() const;  // never open: a config error for a department
};

Result<OpeningHours> parse_opening_hours(std::string_view file, const YAML::Node& node);

bool is_open(const OpeningHours& hours, const Calendar& cal, int64_t utc_ms);
// The first moment at or after `utc_ms` when the department is open (utc_ms itself when open
// now); nullopt when it does not open within 400 days.
std::optional<int64_t> next_opening(const OpeningHours& hours, const Calendar& cal, int64_t utc_ms);

// A moment as a citizen reads it in a reply, in the desk's zone:
//   ko: "11월 24일(월) 오전 9시", "11월 24일(월) 오후 1시 30분"
//   en: "Mon 24 Nov, 9:00 AM", "Mon 24 Nov, 1:30 PM"
// Other languages use the en form.
std::string format_local_time(const Calendar& cal, int64_t utc_ms, std::string_view language);

}  // namespace sotong
