// sotongd: the command line. Everything else is in the sotong library.
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/daemon.hpp"
#include "daemon/explain.hpp"
#include "daemon/hook_tls.hpp"
#include "daemon/store/db.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sotongd --config PATH [--hook-port-file PATH]\n"
    "       sotongd --config PATH --check-config\n"
    "       sotongd --config PATH --explain TEXT [--lang L] [--author NAME]\n"
    "               [--platform P] [--account NAME] [--visibility V] [--at TIME]\n"
    "       sotongd --config PATH --backup FILE\n"
    "       sotongd --version | --help\n"
    "\n"
    "  --config PATH          the configuration file (YAML)\n"
    "  --check-config         load and check the configuration, rules, templates and holidays,\n"
    "                         then exit: 0 and a summary when good; 1 and every error found,\n"
    "                         one per line as file:line:column: message, otherwise\n"
    "  --explain TEXT         show which rules match TEXT and why, the decision, and the reply\n"
    "                         as the citizen would see it with its length on the platform\n"
    "    --lang L             the mention's language (ko, en, ...)\n"
    "    --author NAME        the citizen's handle (default: citizen)\n"
    "    --platform P         mastodon or x (default: the first account's)\n"
    "    --account NAME       one of the configured accounts\n"
    "    --visibility V       public, unlisted, private or direct (default: public)\n"
    "    --at TIME            \"YYYY-MM-DD HH:MM\" in the desk's time zone (default: now)\n"
    "  --backup FILE          copy the SQLite store to FILE while sotongd runs (one consistent\n"
    "                         moment; written beside FILE, checked, then renamed over it)\n"
    "  --hook-port-file PATH  write the department hook's bound port to PATH (for port 0)\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads rules, templates, holidays and\n"
    "department tokens (so do changes to those files, unless watch_files: false).\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "sotongd: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

void print_summary(const std::string& path, const sotong::Runtime& rt) {
  const auto& cfg = rt.config;
  std::string out = path + ": good\n";
  out += fmt::format("  accounts     {}:", cfg.accounts.size());
  for (const auto& a : cfg.accounts)
    out += fmt::format(" {} ({}, {} posts/hour)", a.name, a.platform, a.posts_per_hour);
  int own_hours = 0;
  std::string deps;
  for (const auto& [id, d] : cfg.departments) {
    deps += " " + id;
    own_hours += d.own_hours ? 1 : 0;
  }
  out += fmt::format("\n  departments  {}:{} ({} with their own hours)\n", cfg.departments.size(),
                     deps, own_hours);
  out += fmt::format("  rules        {} in {}, {} neighbourhood list(s)\n", rt.rules.size(),
                     cfg.rules_dir.string(), rt.rules.neighbourhood_list_count());
  out += "  templates   ";
  for (const auto& lang : rt.templates.languages()) {
    std::size_t variants = 0;
    const auto keys = rt.templates.keys(lang);
    for (const auto& k : keys) variants += rt.templates.variant_count(k, lang);
    out += fmt::format(" {}: {} keys, {} variants;", lang, keys.size(), variants);
  }
  if (!rt.account_templates.empty())
    out += fmt::format(" plus {} account(s) with their own", rt.account_templates.size());
  std::string years;
  for (int y : rt.calendar.holiday_years()) years += " " + std::to_string(y);
  out += fmt::format("\n  calendar     {}, {} public holiday(s) for{}\n", rt.calendar.zone_name(),
                     rt.calendar.holiday_count(), years.empty() ? " no year" : years);
  out += fmt::format(
      "  limits       {} acknowledgements per author per hour; replies under open "
      "tickets {}\n",
      cfg.acks_per_author_per_hour,
      cfg.ack_thread_additions ? "acknowledged" : "recorded silently");
  out += fmt::format(
      "  hook         {}:{} over {}; bodies up to {} bytes, {} connections, {} s per request, "
      "{} s idle, {}\n",
      cfg.hook_listen, cfg.hook_port, cfg.hook_tls_cert_file.empty() ? "HTTP" : "HTTPS",
      cfg.hook_max_body_bytes, cfg.hook_max_connections, cfg.hook_request_timeout.count(),
      cfg.hook_idle_timeout.count(),
      cfg.hook_requests_per_minute == 0
          ? std::string("no rate limit")
          : fmt::format("{} requests per minute per client", cfg.hook_requests_per_minute));
  std::printf("%s", out.c_str());
  const int year = rt.calendar.local(sotong::now_ms()).year;
  bool covered = false;
  for (int y : rt.calendar.holiday_years()) covered = covered || y == year;
  if (!covered)
    std::printf("  warning: no public holidays listed for %d; add them to %s\n", year,
                cfg.holidays_dir.empty() ? "a holidays_dir" : cfg.holidays_dir.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file size limit (systemd's LimitFSIZE=) a write should fail like a full disk, which
  // the store handles, rather than kill the daemon.
  std::signal(SIGXFSZ, SIG_IGN);
  sotong::DaemonOptions opts;
  bool check = false;
  bool explain = false;
  std::string backup_to;
  sotong::ExplainInput ex;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) usage_error(std::string(name) + " needs a value");
      return argv[++i];
    };
    if (a == "--config")
      opts.config_path = value("--config");
    else if (a == "--hook-port-file")
      opts.hook_port_file = value("--hook-port-file");
    else if (a == "--backup")
      backup_to = value("--backup");
    else if (a == "--check-config")
      check = true;
    else if (a == "--explain") {
      explain = true;
      ex.text = value("--explain");
    } else if (a == "--lang")
      ex.language = value("--lang");
    else if (a == "--author")
      ex.author = value("--author");
    else if (a == "--platform")
      ex.platform = value("--platform");
    else if (a == "--account")
      ex.account = value("--account");
    else if (a == "--visibility")
      ex.visibility = value("--visibility");
    else if (a == "--at")
      ex.at = value("--at");
    else if (a == "--version") {
      std::printf("sotongd %s (%s)\n", SOTONG_VERSION, SOTONG_GIT_REVISION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      usage_error("unknown argument " + a);
    }
  }
  if (opts.config_path.empty()) usage_error("--config is required");
  if (check && explain) usage_error("--check-config and --explain do not go together");
  if (!backup_to.empty()) {
    // Only the configuration: a backup must work while the rules are being edited.
    auto cfg = sotong::load_config(opts.config_path);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", cfg.error().c_str());
      return 1;
    }
    if (sotong::db::is_postgres_url(cfg->store)) {
      std::fprintf(stderr,
                   "sotongd: the store is PostgreSQL: back it up with pg_dump or the server's "
                   "own backups\n");
      return 1;
    }
    auto line = sotong::db::backup_sqlite(cfg->store, backup_to);
    if (!line) {
      std::fprintf(stderr, "sotongd: %s\n", line.error().c_str());
      return 1;
    }
    std::printf("%s\n", line->c_str());
    return 0;
  }
  auto rt = sotong::load_runtime(opts.config_path);
  if (!rt) {
    // One error per line, file:line:column first, as compilers print them.
    std::fprintf(stderr, "%s\n", rt.error().c_str());
    return 1;
  }
  if (check) {
    // As the daemon will load them: a certificate that does not parse, or a key that is not
    // its own, fails here rather than at the next restart.
    const auto& cfg = (*rt)->config;
    if (!cfg.hook_tls_cert_file.empty()) {
      if (auto tls = sotong::make_hook_tls_context(cfg.hook_tls_cert_file, cfg.hook_tls_key_file);
          !tls) {
        std::fprintf(stderr, "%s: %s\n", opts.config_path.c_str(), tls.error().c_str());
        return 1;
      }
    }
    print_summary(opts.config_path.string(), **rt);
    return 0;
  }
  if (explain) {
    auto report = sotong::explain(**rt, ex, sotong::now_ms());
    if (!report) {
      std::fprintf(stderr, "sotongd: %s\n", report.error().c_str());
      return 2;
    }
    std::printf("%s", report->c_str());
    return 0;
  }
  const auto& cfg = (*rt)->config;
  sotong::log::setup(*sotong::log::level_from(cfg.log_level),
                     *sotong::log::format_from(cfg.log_format));
  sotong::log::info("sotongd starting", {{"version", SOTONG_VERSION},
                                         {"revision", SOTONG_GIT_REVISION},
                                         {"config", opts.config_path.string()},
                                         {"journal", sotong::log::stderr_is_journal()}});
  return sotong::run_daemon(opts, *rt);
}
