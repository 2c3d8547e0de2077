// Daemon: wires the parts together for one process: the store and its thread, the pipeline,
// one connector and one sender per account, the department hook, signals (SIGTERM/SIGINT
// stop gracefully, SIGHUP reloads rules and templates) and systemd notification.
// run() blocks on the network loop until the daemon stops; it returns the exit code.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "daemon/pipeline.hpp"

namespace sotong {

struct DaemonOptions {
  std::filesystem::path config_path;
  std::filesystem::path hook_port_file;  // if set, the bound hook port is written there
};

int run_daemon(const DaemonOptions& options, std::shared_ptr<const Runtime> runtime);

}  // namespace sotong
