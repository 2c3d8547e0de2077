// Structured logs: one event per line on stderr, as logfmt (key=value) or JSON.
//
//   log::info("reply posted", {{"ticket", n}, {"kind", "ack"}, {"latency_ms", 42}});
//   logfmt: ts=2026-11-22T10:00:01.250+09:00 level=info msg="reply posted" ticket=SP-2026-0001 ...
//   json:   {"ts":"2026-11-22T10:00:01.250+09:00","level":"info","msg":"reply posted",...}
//
// The message is a fixed phrase and the variables are fields, so lines can be grepped and
// shipped without parsing prose. When stderr is the journal (JOURNAL_STREAM names it), each
// line starts with a syslog priority prefix such as <6>, and ts is left to journald.
// Empty text fields are left out. A line about a ticket carries ticket= (or tickets= for a batch):
// the correlation id. Mention text never goes in at info or above; secrets never go in at all.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sotong::log {

enum class Level { trace, debug, info, warn, error, critical };
enum class Format { logfmt, json };

// "trace" ... "critical" (and "warning"); nullopt for anything else.
std::optional<Level> level_from(std::string_view name);
std::optional<Format> format_from(std::string_view name);
std::string_view name_of(Level level);

struct Field {
  enum class Kind { text, number, boolean };

  std::string_view key;
  std::string value;
  Kind kind = Kind::text;

  template <class S>
  requires std::convertible_to<const S&, std::string_view> Field(std::string_view k, const S& v)
      : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), kind(Kind::boolean) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Field(std::string_view k, T v)
      : key(k), value(std::to_string(v)), kind(Kind::number) {}
  Field(std::string_view k, double v);
};

using Fields = std::initializer_list<Field>;

struct Style {
  Format format = Format::logfmt;
  bool journal = false;  // a priority prefix instead of ts=
};

// The whole line, newline included; `ts` is empty under the journal.
std::string render(const Style& style, std::string_view ts, Level level, std::string_view msg,
                   std::span<const Field> fields);

// Called once from main before any thread starts. The program name goes on no line (journald
// and the unit already say it); it names the process in logs written before setup.
void setup(Level level, Format format);
// Level and format change on reload; safe from any thread.
void configure(Level level, Format format);
bool enabled(Level level);
// True when stderr is the journal's stream (JOURNAL_STREAM matches fd 2's device and inode).
bool stderr_is_journal();

void write(Level level, std::string_view msg, std::span<const Field> fields);

inline void trace(std::string_view msg, Fields f = {}) {
  if (enabled(Level::trace)) write(Level::trace, msg, {f.begin(), f.size()});
}
inline void debug(std::string_view msg, Fields f = {}) {
  if (enabled(Level::debug)) write(Level::debug, msg, {f.begin(), f.size()});
}
inline void info(std::string_view msg, Fields f = {}) {
  if (enabled(Level::info)) write(Level::info, msg, {f.begin(), f.size()});
}
inline void warn(std::string_view msg, Fields f = {}) {
  if (enabled(Level::warn)) write(Level::warn, msg, {f.begin(), f.size()});
}
inline void error(std::string_view msg, Fields f = {}) {
  if (enabled(Level::error)) write(Level::error, msg, {f.begin(), f.size()});
}
inline void critical(std::string_view msg, Fields f = {}) {
  write(Level::critical, msg, {f.begin(), f.size()});
}

}  // namespace sotong::log
