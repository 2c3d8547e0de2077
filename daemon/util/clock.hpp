// Wall-clock time in milliseconds since the Unix epoch, behind a function so tests and the
// store agree on one unit. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace sotong {

int64_t now_ms();
// ISO 8601 UTC with milliseconds, e.g. 2026-11-22T09:30:00.123Z.
std::string iso8601_utc(int64_t ms);
// Parses the subset of ISO 8601 the platforms send (YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm));
// returns -1 when it cannot.
int64_t parse_iso8601(const std::string& s);

}  // namespace sotong
