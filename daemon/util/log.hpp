// Logging setup over spdlog. One logger for the process, lines on stderr (journald picks them
// up). setup_logging is called once from main before any thread starts; spdlog's default
// logger is thread-safe after that.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace sotong {

// level: trace, debug, info, warn, error. Unknown names fall back to info.
void setup_logging(std::string_view level, std::string_view name);

}  // namespace sotong
