// One piece with its header, past 400 lines: calendar.hpp is one interface (zone, holidays,
// hours, formatting) whose parts share the date helpers here; is_open and next_opening use all
// of them.
#include "daemon/calendar.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>

#include "daemon/util/yaml_file.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;
using Ms = std::chrono::milliseconds;
using Minutes = std::chrono::minutes;

// A year's list is a few dozen lines; 256 KiB is far beyond any real file.
constexpr std::size_t kMaxHolidayFileBytes = 256 * 1024;
// A file per year plus a few of the city's own: more is a mistake in the folder.
constexpr std::size_t kMaxHolidayFiles = 64;
// The header's promise: hours that open less often than this are a configuration mistake.
constexpr int kMaxSearchDays = 400;
// Instants from 0001-01-01T00:00Z to 9999-12-31T23:59:59.999Z: local years keep four digits,
// and the date library's 16-bit year cannot overflow.
constexpr int64_t kMinUtcMs = -62135596800000;
constexpr int64_t kMaxUtcMs = 253402300799999;
// Used only when there is no tzdata at all (see Calendar::zone_).
constexpr auto kFallbackOffset = std::chrono::hours{9};

constexpr std::array<std::string_view, 7> kDayKeys{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::array<std::string_view, 7> kKoWeekdays{"월", "화", "수", "목", "금", "토", "일"};
constexpr std::array<std::string_view, 7> kEnWeekdays{"Mon", "Tue", "Wed", "Thu",
                                                      "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 12> kEnMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string in_quotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string two_digits(int n) {
  return (n < 10 ? "0" : "") + std::to_string(n);
}

std::string date_key(int year, int month, int day) {
  std::string y = std::to_string(year);
  return std::string(4 - std::min<std::size_t>(4, y.size()), '0') + y + "-" + two_digits(month) +
         "-" + two_digits(day);
}

// Monday = 0, as LocalTime and OpeningHours::week count.
int monday_first(date::weekday wd) {
  return static_cast<int>((wd.c_encoding() + 6) % 7);
}

// --- Zones ---

Result<const date::time_zone*> find_zone(std::string_view name) {
  try {
    const date::time_zone* zone = date::locate_zone(name);
    // Reads the zone's file now: later conversions cannot fail on a missing file.
    (void)zone->get_info(date::sys_seconds{});
    return zone;
  } catch (const std::exception&) {
  }
  bool have_tzdata = false;
  try {
    have_tzdata = date::locate_zone("Etc/UTC") != nullptr;
  } catch (const std::exception&) {
  }
  if (!have_tzdata) {
    return Error{"no time zone data for " + in_quotes(name) + " (install the tzdata package)"};
  }
  return Error{"unknown time zone " + in_quotes(name) + " (an IANA name such as Asia/Seoul)"};
}

// --- Holiday files ---

std::optional<date::year_month_day> parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int fields[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lengths[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (std::size_t i = starts[f]; i < starts[f] + lengths[f]; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      fields[f] = fields[f] * 10 + (s[i] - '0');
    }
  }
  const date::year_month_day ymd{date::year{fields[0]},
                                 date::month{static_cast<unsigned>(fields[1])},
                                 date::day{static_cast<unsigned>(fields[2])}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

using HolidayMap = std::map<std::string, Holiday, std::less<>>;
// Where each date was listed, so a repeat can name both places.
using Places = std::map<std::string, std::string, std::less<>>;

Status load_holiday(std::string_view name, const YAML::Node& item, HolidayMap& out,
                    Places& places) {
  if (!item.IsMap()) {
    return yaml_file::error_at(
        name, item, "a holiday is a map like {date: 2026-01-01, ko: 신정, en: \"New Year's Day\"}");
  }
  if (auto st = yaml_file::check_fields(name, item, {"date", "ko", "en"}); !st) return st;
  const YAML::Node date_node = item["date"];
  if (!date_node) return yaml_file::error_at(name, item, "a holiday needs a date: (YYYY-MM-DD)");
  auto text = yaml_file::text(name, date_node, "date");
  if (!text) return Error{text.error()};
  if (!parse_date(*text)) {
    return yaml_file::error_at(name, date_node, in_quotes(*text) + " is not a date (YYYY-MM-DD)");
  }
  Holiday holiday;
  holiday.date = *text;
  for (const char* language : {"ko", "en"}) {
    const YAML::Node node = item[language];
    if (!node) continue;
    auto holiday_name = yaml_file::text(name, node, language);
    if (!holiday_name) return Error{holiday_name.error()};
    if (holiday_name->find_first_of("\r\n") != std::string::npos) {
      return yaml_file::error_at(name, node, std::string(language) + " must be one line");
    }
    holiday.names.emplace(language, std::move(*holiday_name));
  }
  if (holiday.names.empty()) {
    return yaml_file::error_at(name, item, "a holiday needs a name (ko:, en: or both)");
  }
  if (const auto first = places.find(holiday.date); first != places.end()) {
    return yaml_file::error_at(name, date_node,
                               holiday.date + " is listed twice (first at " + first->second + ")");
  }
  places.emplace(holiday.date, yaml_file::where(name, date_node.Mark()));
  out.emplace(holiday.date, std::move(holiday));
  return Status::Ok();
}

Status load_holiday_file(std::string_view yaml, std::string_view name, HolidayMap& out,
                         Places& places) {
  auto doc = yaml_file::parse(yaml, name, kMaxHolidayFileBytes);
  if (!doc) return Error{doc.error()};
  const YAML::Node& root = *doc;
  if (!root.IsMap()) return yaml_file::error_at(name, root, "expected a map with holidays:");
  if (auto st = yaml_file::check_fields(name, root, {"holidays"}); !st) return st;
  const YAML::Node list = root["holidays"];
  if (!list) return yaml_file::error_at(name, root, "no holidays: field");
  if (!list.IsSequence()) {
    return yaml_file::error_at(name, list,
                               "holidays: must be a list of {date: YYYY-MM-DD, ko: ..., en: ...}");
  }
  for (const auto& item : list) {
    if (auto st = load_holiday(name, item, out, places); !st) return st;
  }
  return Status::Ok();
}

Result<HolidayMap> load_holidays(const fs::path& dir) {
  auto files = yaml_file::list(dir, kMaxHolidayFiles);
  if (!files) return Error{files.error()};
  HolidayMap holidays;
  Places places;
  for (const auto& path : *files) {
    auto data = yaml_file::read(path, kMaxHolidayFileBytes);
    if (!data) return Error{data.error()};
    if (auto st = load_holiday_file(*data, path.string(), holidays, places); !st) {
      return Error{st.error()};
    }
  }
  return holidays;
}

// --- Opening hours ---

constexpr int kMinutesPerDay = 24 * 60;
constexpr std::string_view kBlanks = " \t";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kBlanks) - b + 1);
}

// Minutes since midnight for "HH:MM" from 00:00 to 24:00.
std::optional<int> parse_time(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::string hhmm(int minutes) {
  return two_digits(minutes / 60) + ":" + two_digits(minutes % 60);
}

Result<std::pair<int, int>> parse_range(std::string_view name, const YAML::Node& node) {
  if (!node.IsScalar()) {
    return yaml_file::error_at(name, node, "expected a time range \"HH:MM-HH:MM\"");
  }
  const std::string_view text = trim(node.Scalar());
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    constexpr std::string_view kHint =
        " is not a time range (HH:MM-HH:MM, e.g. 09:00-18:00; leave a day out to close it)";
    return yaml_file::error_at(name, node, in_quotes(text) + std::string(kHint));
  }
  int ends[2] = {0, 0};
  const std::string_view parts[2] = {trim(text.substr(0, dash)), trim(text.substr(dash + 1))};
  for (int i = 0; i < 2; ++i) {
    const auto t = parse_time(parts[i]);
    if (!t) {
      return yaml_file::error_at(name, node,
                                 in_quotes(parts[i]) + " is not a time (HH:MM, 00:00 to 24:00)");
    }
    ends[i] = *t;
  }
  const auto [from, to] = ends;
  if (from == kMinutesPerDay) {
    return yaml_file::error_at(name, node, "a range may not start at 24:00 (write 00:00)");
  }
  if (from == to) return yaml_file::error_at(name, node, in_quotes(text) + " is an empty range");
  if (from > to) {
    return yaml_file::error_at(name, node,
                               "a range may not wrap past midnight; write two ranges: \"" +
                                   hhmm(from) + "-24:00\" and \"00:00-" + hhmm(to) +
                                   "\" on the next day");
  }
  return std::pair{from, to};
}

int day_index(std::string_view key) {
  const auto it = std::find(kDayKeys.begin(), kDayKeys.end(), key);
  return it == kDayKeys.end() ? -1 : static_cast<int>(it - kDayKeys.begin());
}

// The days a key names (Monday = 0), or an empty list for an unknown key. A range may wrap
// past Sunday: fri-mon is Friday to Monday.
std::vector<int> days_of(std::string_view key) {
  if (key == "daily") return {0, 1, 2, 3, 4, 5, 6};
  if (const int d = day_index(key); d >= 0) return {d};
  const auto dash = key.find('-');
  if (dash == std::string_view::npos) return {};
  const int first = day_index(key.substr(0, dash));
  const int last = day_index(key.substr(dash + 1));
  if (first < 0 || last < 0) return {};
  std::vector<int> days;
  for (int d = first;; d = (d + 1) % 7) {
    days.push_back(d);
    if (d == last) break;
  }
  return days;
}

// Sorted, with overlapping and touching ranges joined: 09:00-12:00 and 12:00-18:00 is one.
void normalise(std::vector<std::pair<int, int>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<int, int>> joined;
  for (const auto& r : ranges) {
    if (!joined.empty() && r.first <= joined.back().second) {
      joined.back().second = std::max(joined.back().second, r.second);
    } else {
      joined.push_back(r);
    }
  }
  ranges = std::move(joined);
}

Status parse_day_hours(std::string_view name, const YAML::Node& key, const YAML::Node& value,
                       std::vector<std::pair<int, int>>& ranges) {
  if (value.IsNull()) {
    return yaml_file::error_at(name, key,
                               "day " + in_quotes(key.Scalar()) +
                                   " has no hours (write \"HH:MM-HH:MM\" or leave the day out)");
  }
  if (value.IsMap()) {
    return yaml_file::error_at(name, value,
                               "hours are a range \"HH:MM-HH:MM\" or a list of them, not a map");
  }
  if (value.IsScalar()) {
    auto r = parse_range(name, value);
    if (!r) return Error{r.error()};
    ranges.push_back(*r);
    return Status::Ok();
  }
  for (const auto& item : value) {
    auto r = parse_range(name, item);
    if (!r) return Error{r.error()};
    ranges.push_back(*r);
  }
  return Status::Ok();
}

}  // namespace

// --- Calendar ---

Result<Calendar> Calendar::load(std::string_view time_zone, const fs::path& holidays_dir) {
  auto zone = find_zone(time_zone);
  if (!zone) return Error{zone.error()};
  Calendar cal;
  cal.zone_ = *zone;
  cal.zone_name_ = std::string(time_zone);
  if (!holidays_dir.empty()) {
    auto holidays = load_holidays(holidays_dir);
    if (!holidays) return Error{holidays.error()};
    cal.holidays_ = std::move(*holidays);
  }
  return cal;
}

const Calendar& Calendar::seoul_without_holidays() {
  static const Calendar seoul = [] {
    auto loaded = load(kDefaultZone, {});
    // Without tzdata a default Calendar still answers for Seoul (a fixed UTC+9).
    return loaded ? std::move(loaded).value() : Calendar{};
  }();
  return seoul;
}

LocalTime Calendar::local(int64_t utc_ms) const {
  const date::sys_time<Ms> utc{Ms{std::clamp(utc_ms, kMinUtcMs, kMaxUtcMs)}};
  const date::local_time<Ms> lt =
      zone_ != nullptr ? zone_->to_local(utc)
                       : date::local_time<Ms>{utc.time_since_epoch() + kFallbackOffset};
  const auto day = date::floor<date::days>(lt);
  const date::year_month_day ymd{day};
  LocalTime out;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.weekday = monday_first(date::weekday{day});
  out.minute_of_day = static_cast<int>(date::floor<Minutes>(lt - day).count());
  return out;
}

int64_t Calendar::to_utc_ms(int year, int month, int day, int minute_of_day) const {
  return to_utc(year, month, day, minute_of_day, false);
}

int64_t Calendar::to_utc_ms_later(int year, int month, int day, int minute_of_day) const {
  return to_utc(year, month, day, minute_of_day, true);
}

int64_t Calendar::to_utc(int year, int month, int day, int minute_of_day, bool later) const {
  // Built from the first of the month so that day and minute roll over instead of failing.
  date::year_month ym = date::year{std::clamp(year, 0, 9999)} / date::January;
  ym += date::months{month - 1};
  const date::local_time<Minutes> lt =
      date::local_days{ym / 1} + date::days{day - 1} + Minutes{minute_of_day};
  // Seconds: zones' historical offsets (local mean time) are not whole minutes.
  std::chrono::seconds utc{};
  if (zone_ == nullptr) {
    utc = lt.time_since_epoch() - kFallbackOffset;
  } else {
    const date::local_info info = zone_->get_info(lt);
    switch (info.result) {
      case date::local_info::unique:
        utc = lt.time_since_epoch() - info.first.offset;
        break;
      case date::local_info::nonexistent:
        // The clocks jumped over lt: the new offset's first moment is the first valid one.
        utc = info.second.begin.time_since_epoch();
        break;
      case date::local_info::ambiguous:
        utc = lt.time_since_epoch() - (later ? info.second.offset : info.first.offset);
        break;
    }
  }
  return std::chrono::duration_cast<Ms>(utc).count();
}

const Holiday* Calendar::holiday(int year, int month, int day) const {
  if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31) return nullptr;
  const auto it = holidays_.find(date_key(year, month, day));
  return it == holidays_.end() ? nullptr : &it->second;
}

std::vector<int> Calendar::holiday_years() const {
  std::set<int> years;
  for (const auto& [key, holiday] : holidays_) years.insert(std::stoi(key.substr(0, 4)));
  return {years.begin(), years.end()};
}

// --- Opening hours ---

bool OpeningHours::empty() const {
  return !always && std::all_of(week.begin(), week.end(), [](const auto& d) { return d.empty(); });
}

Result<OpeningHours> parse_opening_hours(std::string_view file, const YAML::Node& node) {
  OpeningHours hours;
  if (node.IsScalar() && node.Scalar() == "always") {
    hours.always = true;
    hours.open_on_holidays = true;
    return hours;
  }
  if (!node.IsMap()) {
    return yaml_file::error_at(
        file, node,
        "hours must be \"always\" or a map of days to ranges, e.g. {mon-fri: \"09:00-18:00\"}");
  }
  // The key that gave each day its hours and its line, for "given twice" messages.
  std::array<std::optional<std::pair<std::string, int>>, 7> given;
  std::optional<int> holidays_line;
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) return yaml_file::error_at(file, key, "a day must be plain text");
    const std::string& name = key.Scalar();
    const int line = key.Mark().line + 1;
    if (name == "holidays") {
      if (holidays_line) {
        return yaml_file::error_at(
            file, key,
            "\"holidays\" given twice (first at line " + std::to_string(*holidays_line) + ")");
      }
      holidays_line = line;
      const std::string value = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (value != "closed" && value != "open") {
        return yaml_file::error_at(file, kv.second.IsNull() ? key : kv.second,
                                   "holidays: must be \"closed\" or \"open\"");
      }
      hours.open_on_holidays = value == "open";
      continue;
    }
    const std::vector<int> days = days_of(name);
    if (days.empty()) {
      return yaml_file::error_at(file, key,
                                 "unknown day " + in_quotes(name) +
                                     " (known: mon, tue, wed, thu, fri, sat, sun, a range like "
                                     "mon-fri, daily, holidays)");
    }
    std::vector<std::pair<int, int>> ranges;
    if (auto st = parse_day_hours(file, key, kv.second, ranges); !st) return Error{st.error()};
    for (const int d : days) {
      if (given[d]) {
        return yaml_file::error_at(file, key,
                                   "day " + in_quotes(kDayKeys[d]) + " given twice (first by " +
                                       in_quotes(given[d]->first) + " at line " +
                                       std::to_string(given[d]->second) + ")");
      }
      given[d] = std::pair{name, line};
      hours.week[d] = ranges;
    }
  }
  for (auto& day : hours.week) normalise(day);
  return hours;
}

bool is_open(const OpeningHours& hours, const Calendar& cal, int64_t utc_ms) {
  if (hours.always) return true;
  const LocalTime t = cal.local(utc_ms);
  if (!hours.open_on_holidays && cal.is_holiday(t)) return false;
  const auto& ranges = hours.week[t.weekday];
  return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
    return r.first <= t.minute_of_day && t.minute_of_day < r.second;
  });
}

std::optional<int64_t> next_opening(const OpeningHours& hours, const Calendar& cal,
                                    int64_t utc_ms) {
  if (is_open(hours, cal, utc_ms)) return utc_ms;
  if (hours.empty()) return std::nullopt;
  const LocalTime now = cal.local(utc_ms);
  const date::sys_days today{date::year{now.year} / now.month / now.day};
  // Day by day over local dates; each range start is a candidate, checked with is_open so that
  // holidays, skipped hours and repeated hours (clocks set back) need no special cases.
  for (int i = 0; i <= kMaxSearchDays; ++i) {
    const date::sys_days day = today + date::days{i};
    const date::year_month_day ymd{day};
    const int y = static_cast<int>(ymd.year());
    const int m = static_cast<int>(static_cast<unsigned>(ymd.month()));
    const int d = static_cast<int>(static_cast<unsigned>(ymd.day()));
    if (!hours.open_on_holidays && cal.holiday(y, m, d) != nullptr) continue;
    std::optional<int64_t> best;
    for (const auto& range : hours.week[monday_first(date::weekday{day})]) {
      for (const int64_t candidate :
           {cal.to_utc_ms(y, m, d, range.first), cal.to_utc_ms_later(y, m, d, range.first)}) {
        if (candidate < utc_ms || (best && *best <= candidate)) continue;
        if (is_open(hours, cal, candidate)) best = candidate;
      }
    }
    if (best) return best;
  }
  return std::nullopt;
}

std::string format_local_time(const Calendar& cal, int64_t utc_ms, std::string_view language) {
  const LocalTime t = cal.local(utc_ms);
  const int hour = t.minute_of_day / 60;
  const int minute = t.minute_of_day % 60;
  const int hour12 = hour % 12 == 0 ? 12 : hour % 12;
  const bool pm = hour >= 12;
  const std::string_view primary = language.substr(0, language.find_first_of("-_"));
  const bool korean = primary.size() == 2 && (primary[0] == 'k' || primary[0] == 'K') &&
                      (primary[1] == 'o' || primary[1] == 'O');
  if (korean) {
    std::string out = std::to_string(t.month) + "월 " + std::to_string(t.day) + "일(" +
                      std::string(kKoWeekdays[t.weekday]) + ") " + (pm ? "오후 " : "오전 ") +
                      std::to_string(hour12) + "시";
    if (minute != 0) out += " " + std::to_string(minute) + "분";
    return out;
  }
  return std::string(kEnWeekdays[t.weekday]) + " " + std::to_string(t.day) + " " +
         std::string(kEnMonths[t.month - 1]) + ", " + std::to_string(hour12) + ":" +
         two_digits(minute) + (pm ? " PM" : " AM");
}

}  // namespace sotong
