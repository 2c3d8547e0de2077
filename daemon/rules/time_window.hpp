// TimeWindow: a rule's `time:` condition, e.g. {days: [mon-fri], from: "09:00", to: "18:00"},
// judged on the desk's wall clock (Calendar). A window whose `from` is after its `to` runs past
// midnight, and the hours after midnight belong to the day the window started on: "fri
// 22:00-06:00" is Friday night, so it holds on Saturday at 01:00 and not on Friday at 01:00.
// On a public holiday only `holiday` in `days` counts, never the weekday.
// Plain value; thread-safe to read. Parse errors are collected, not thrown.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong {

class Calendar;

namespace rules {

inline constexpr int kMinutesPerDay = 24 * 60;

struct TimeWindow {
  bool every_day = true;          // no `days`: every day, holidays included
  std::array<bool, 7> weekday{};  // Monday first
  bool holiday = false;
  int from = 0;              // minute of the day, inclusive
  int to = kMinutesPerDay;   // exclusive; before `from` when the window wraps midnight
  std::string days_written;  // `days` as the admin wrote them, for messages: "sat,sun"

  bool wraps() const { return to <= from; }
  // "sat,sun 09:00-18:00", "every day 22:00-06:00", "holiday all day".
  std::string describe() const;
};

// Parses a `time:` map; on errors appends them (file:line:column) and returns nullopt.
std::optional<TimeWindow> parse_time_window(std::string_view file, const YAML::Node& node,
                                            std::vector<Error>& errors);

// Whether the moment utc_ms is in the window on cal's clock and holidays; `why` (when given)
// gets e.g. "Sat 23:10 is outside sat,sun 09:00-18:00".
bool in_window(const TimeWindow& w, const Calendar& cal, int64_t utc_ms, std::string* why);

}  // namespace rules
}  // namespace sotong
