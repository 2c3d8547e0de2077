#include "daemon/util/log.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace sotong::log {
namespace {

// A platform's error body or a broken file's contents must not make a line unbounded.
constexpr std::size_t kMaxValueBytes = 1024;

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::logfmt)};
std::atomic<bool> g_journal{false};
std::mutex g_write;

// Appends `v` escaped for a JSON string or a quoted logfmt value: invalid UTF-8 becomes U+FFFD
// and control characters are escaped, so a line is always one line of valid text.
void escape_into(std::string& out, std::string_view v) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(v.data());
  std::size_t i = 0;
  while (i < v.size()) {
    if (i >= kMaxValueBytes) {
      out += "...";
      return;
    }
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(v.size() - i), &cp);
    if (n <= 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
          out += fmt::format("\\u{:04x}", cp);
        else
          out.append(v.data() + i, static_cast<std::size_t>(n));
    }
    i += static_cast<std::size_t>(n);
  }
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v)
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c >= 0x7f) return true;
  return false;
}

void logfmt_pair(std::string& out, std::string_view key, std::string_view value, bool raw) {
  if (!out.empty()) out += ' ';
  out += key;
  out += '=';
  if (raw || !needs_quotes(value)) {
    out += value;
    return;
  }
  out += '"';
  escape_into(out, value);
  out += '"';
}

void json_pair(std::string& out, std::string_view key, std::string_view value, bool raw) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += key;
  out += "\":";
  if (raw) {
    out += value;
    return;
  }
  out += '"';
  escape_into(out, value);
  out += '"';
}

// syslog priorities, as sd-daemon.h's SD_DEBUG ... SD_CRIT.
int priority(Level level) {
  switch (level) {
    case Level::trace:
    case Level::debug:
      return 7;
    case Level::info:
      return 6;
    case Level::warn:
      return 4;
    case Level::error:
      return 3;
    case Level::critical:
      return 2;
  }
  return 6;
}

std::string local_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  const long off_min = tm.tm_gmtoff / 60;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}:{:02}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000,
                     off_min < 0 ? '-' : '+', std::labs(off_min) / 60, std::labs(off_min) % 60);
}

}  // namespace

Field::Field(std::string_view k, double v)
    : key(k), value(fmt::format("{:.3f}", v)), kind(Kind::number) {}

std::optional<Level> level_from(std::string_view name) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "critical") return Level::critical;
  return std::nullopt;
}

std::optional<Format> format_from(std::string_view name) {
  if (name == "logfmt") return Format::logfmt;
  if (name == "json") return Format::json;
  return std::nullopt;
}

std::string_view name_of(Level level) {
  switch (level) {
    case Level::trace:
      return "trace";
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::critical:
      return "critical";
  }
  return "info";
}

std::string render(const Style& style, std::string_view ts, Level level, std::string_view msg,
                   std::span<const Field> fields) {
  std::string out;
  out.reserve(128 + msg.size());
  const bool json = style.format == Format::json;
  auto pair = json ? json_pair : logfmt_pair;
  if (json) out += '{';
  if (!style.journal && !ts.empty()) pair(out, "ts", ts, false);
  pair(out, "level", name_of(level), false);
  pair(out, "msg", msg, false);
  for (const auto& f : fields)
    if (f.kind != Field::Kind::text || !f.value.empty())
      pair(out, f.key, f.value, f.kind != Field::Kind::text);
  if (json) out += '}';
  out += '\n';
  if (style.journal) out.insert(0, fmt::format("<{}>", priority(level)));
  return out;
}

bool stderr_is_journal() {
  // "device:inode" of the stream journald connected, as systemd.exec(5) describes.
  const char* js = std::getenv("JOURNAL_STREAM");  // NOLINT(concurrency-mt-unsafe): nothing sets it
  if (js == nullptr) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void setup(Level level, Format format) {
  g_journal.store(stderr_is_journal());
  configure(level, format);
}

void configure(Level level, Format format) {
  g_level.store(static_cast<int>(level));
  g_format.store(static_cast<int>(format));
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load();
}

void write(Level level, std::string_view msg, std::span<const Field> fields) {
  Style style{static_cast<Format>(g_format.load()), g_journal.load()};
  const std::string line =
      render(style, style.journal ? std::string() : local_timestamp(), level, msg, fields);
  // One write per line so lines from threads never interleave; a full or closed stderr must
  // not stop the daemon, so a failed write is dropped.
  const std::lock_guard lock(g_write);
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace sotong::log
