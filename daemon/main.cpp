// sotongd: the command line. Everything else is in the sotong library.
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/daemon.hpp"
#include "daemon/util/log.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sotongd --config PATH [--check-config] [--hook-port-file PATH]\n"
    "       sotongd --version | --help\n"
    "\n"
    "  --config PATH          the configuration file (YAML)\n"
    "  --check-config         load and check configuration, rules and templates, then exit\n"
    "                         (0 when good; the error, with file:line:column, otherwise)\n"
    "  --hook-port-file PATH  write the department hook's bound port to PATH (for port 0)\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads rules and templates.\n";

}  // namespace

int main(int argc, char** argv) {
  sotong::DaemonOptions opts;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sotongd: %s needs a value\n%s", name, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config")
      opts.config_path = value("--config");
    else if (a == "--hook-port-file")
      opts.hook_port_file = value("--hook-port-file");
    else if (a == "--check-config")
      check = true;
    else if (a == "--version") {
      std::printf("sotongd 0.1.0\n");
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      std::fprintf(stderr, "sotongd: unknown argument %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (opts.config_path.empty()) {
    std::fprintf(stderr, "sotongd: --config is required\n%s", kUsage);
    return 2;
  }
  auto rt = sotong::load_runtime(opts.config_path);
  if (!rt) {
    std::fprintf(stderr, "sotongd: %s\n", rt.error().c_str());
    return 1;
  }
  if (check) {
    std::printf(
        "sotongd: %s is good: %zu account(s), %zu department(s), %zu rule(s), "
        "languages:",
        opts.config_path.c_str(), (*rt)->config.accounts.size(), (*rt)->config.departments.size(),
        (*rt)->rules.size());
    for (const auto& l : (*rt)->templates.languages()) std::printf(" %s", l.c_str());
    std::printf("\n");
    return 0;
  }
  sotong::setup_logging((*rt)->config.log_level, "sotongd");
  return sotong::run_daemon(opts, *rt);
}
