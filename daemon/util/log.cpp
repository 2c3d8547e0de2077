#include "daemon/util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>
#include <string>

namespace sotong {

void setup_logging(std::string_view level, std::string_view name) {
  auto logger = spdlog::stderr_logger_mt(std::string(name));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %n: %v");
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace sotong
