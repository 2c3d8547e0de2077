#include "daemon/rules/time_window.hpp"

#include <chrono>
#include <string>

#include "daemon/calendar.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong::rules {
namespace {

constexpr std::array<std::string_view, 7> kDayNames{"mon", "tue", "wed", "thu",
                                                    "fri", "sat", "sun"};
constexpr std::string_view kKnownDays =
    "mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, daily, holiday";

std::optional<int> day_index(std::string_view s) {
  for (std::size_t i = 0; i < kDayNames.size(); ++i) {
    if (kDayNames[i] == s) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// "mon", "mon-fri" (a range may wrap: "fri-mon"), "daily" or "holiday" into w.
bool add_days(std::string_view entry, TimeWindow& w) {
  if (entry == "daily") {
    w.weekday.fill(true);
    return true;
  }
  if (entry == "holiday") {
    w.holiday = true;
    return true;
  }
  const auto dash = entry.find('-');
  const auto first = day_index(entry.substr(0, dash));
  if (!first) return false;
  if (dash == std::string_view::npos) {
    w.weekday[static_cast<std::size_t>(*first)] = true;
    return true;
  }
  const auto last = day_index(entry.substr(dash + 1));
  if (!last) return false;
  for (int d = *first;; d = (d + 1) % 7) {
    w.weekday[static_cast<std::size_t>(d)] = true;
    if (d == *last) break;
  }
  return true;
}

// "HH:MM" (or "H:MM") into a minute of the day; "24:00" only when allow_end_of_day.
std::optional<int> minute_of_day(std::string_view s, bool allow_end_of_day) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
    return std::nullopt;
  }
  int h = 0;
  for (char c : s.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    h = h * 10 + (c - '0');
  }
  const char m1 = s[colon + 1], m2 = s[colon + 2];
  if (m1 < '0' || m1 > '5' || m2 < '0' || m2 > '9') return std::nullopt;
  const int m = (m1 - '0') * 10 + (m2 - '0');
  if (h == 24 && m == 0 && allow_end_of_day) return kMinutesPerDay;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::string hh_mm(int minute) {
  std::string s = std::to_string(minute / 60) + ":" + std::to_string(minute % 60);
  if (minute / 60 < 10) s.insert(0, "0");
  if (minute % 60 < 10) s.insert(s.size() - 1, "0");
  return s;
}

std::string day_label(int weekday) {
  std::string s(kDayNames[static_cast<std::size_t>(weekday)]);
  s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::optional<int> parse_time_field(std::string_view file, const YAML::Node& node,
                                    std::string_view field, bool allow_end_of_day,
                                    std::vector<Error>& errors) {
  auto v = yaml_file::text(file, node, field);
  if (!v) {
    errors.push_back(Error{v.error()});
    return std::nullopt;
  }
  auto m = minute_of_day(*v, allow_end_of_day);
  if (!m) {
    errors.push_back(yaml_file::error_at(file, node,
                                         std::string(field) + " \"" + *v +
                                             "\" is not a time of day (HH:MM, 00:00 to " +
                                             (allow_end_of_day ? "24:00" : "23:59") + ")"));
  }
  return m;
}

}  // namespace

std::string TimeWindow::describe() const {
  std::string days = every_day ? "every day" : days_written;
  if (from == 0 && to == kMinutesPerDay) return days + " all day";
  return days + " " + hh_mm(from) + "-" + hh_mm(to);
}

std::optional<TimeWindow> parse_time_window(std::string_view file, const YAML::Node& node,
                                            std::vector<Error>& errors) {
  if (!node.IsMap()) {
    errors.push_back(yaml_file::error_at(
        file, node,
        "time must be a map with days and/or from and to, e.g. time: {days: [mon-fri], "
        "from: \"09:00\", to: \"18:00\"}"));
    return std::nullopt;
  }
  const std::size_t errors_before = errors.size();
  for (auto& e : yaml_file::field_problems(file, node, {"days", "from", "to"})) {
    errors.push_back(std::move(e));
  }
  TimeWindow w;
  if (const YAML::Node days = node["days"]; days && !days.IsNull()) {
    w.every_day = false;
    std::vector<YAML::Node> entries;
    if (days.IsSequence()) {
      for (const auto& d : days) entries.push_back(d);
      if (entries.empty())
        errors.push_back(yaml_file::error_at(file, days, "days is an empty list"));
    } else {
      entries.push_back(days);
    }
    for (const auto& d : entries) {
      auto v = yaml_file::text(file, d, "a day in days");
      if (!v) {
        errors.push_back(Error{v.error()});
        continue;
      }
      const std::string entry = lower_ascii(*v);
      if (!add_days(entry, w)) {
        errors.push_back(yaml_file::error_at(
            file, d, "unknown day \"" + *v + "\" (known: " + std::string(kKnownDays) + ")"));
        continue;
      }
      w.days_written += (w.days_written.empty() ? "" : ",") + entry;
    }
  }
  const YAML::Node from = node["from"], to = node["to"];
  const bool has_from = from && !from.IsNull(), has_to = to && !to.IsNull();
  if (has_from != has_to) {
    errors.push_back(
        yaml_file::error_at(file, node, "time needs both from and to, or neither (all day)"));
  } else if (has_from) {
    auto f = parse_time_field(file, from, "from", false, errors);
    auto t = parse_time_field(file, to, "to", true, errors);
    if (f && t && *f == *t) {
      errors.push_back(yaml_file::error_at(
          file, to, "from and to are the same time; leave both out for the whole day"));
    }
    if (f && t) {
      w.from = *f;
      w.to = *t;
    }
  } else if (w.every_day) {
    errors.push_back(yaml_file::error_at(file, node, "time needs days, or from and to"));
  }
  if (errors.size() != errors_before) return std::nullopt;
  return w;
}

bool in_window(const TimeWindow& w, const Calendar& cal, int64_t utc_ms, std::string* why) {
  const LocalTime t = cal.local(utc_ms);
  // The day whose `days` entry decides: today, or yesterday for the hours after midnight of
  // a window that started yesterday evening.
  bool in_hours = false;
  bool from_yesterday = false;
  if (!w.wraps()) {
    in_hours = t.minute_of_day >= w.from && t.minute_of_day < w.to;
  } else if (t.minute_of_day >= w.from) {
    in_hours = true;
  } else if (t.minute_of_day < w.to) {
    in_hours = from_yesterday = true;
  }
  std::string moment = day_label(t.weekday) + " " + hh_mm(t.minute_of_day);
  bool ok = in_hours;
  if (in_hours && !w.every_day) {
    int weekday = t.weekday;
    bool holiday = false;
    if (from_yesterday) {
      using namespace std::chrono;
      const year_month_day y{sys_days{year{t.year} / month{static_cast<unsigned>(t.month)} /
                                      day{static_cast<unsigned>(t.day)}} -
                             days{1}};
      weekday = (t.weekday + 6) % 7;
      holiday = cal.holiday(static_cast<int>(y.year()), static_cast<int>(unsigned{y.month()}),
                            static_cast<int>(unsigned{y.day()})) != nullptr;
      moment += " (the night from " + std::string(holiday ? "a holiday, " : "") +
                day_label(weekday) + ")";
    } else {
      holiday = cal.is_holiday(t);
      if (holiday) moment += " (holiday)";
    }
    ok = holiday ? w.holiday : w.weekday[static_cast<std::size_t>(weekday)];
  }
  if (why) *why = moment + (ok ? " is within " : " is outside ") + w.describe();
  return ok;
}

}  // namespace sotong::rules
