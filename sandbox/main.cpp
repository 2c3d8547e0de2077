// sotong-sandbox: parses flags, starts the server, announces the port, runs until SIGTERM or
// SIGINT. Everything else lives in sandbox_server and sandbox_state.
#include <unistd.h>

// Asio's -Wnull-dereference false positive: see sandbox_server.hpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/signal_set.hpp>
#pragma GCC diagnostic pop
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/util/log.hpp"
#include "sandbox/sandbox_server.hpp"

namespace {

constexpr const char* kUsage =
    "usage: sotong-sandbox [--listen ADDR] [--port N] [--token TOKEN] [--handle NAME]\n"
    "                      [--max-characters N] [--rate-limit N] [--rate-window-seconds S]\n"
    "                      [--domain HOST] [--port-file PATH] [--log-level LEVEL]\n"
    "                      [--x-handle NAME] [--x-consumer-key K] [--x-consumer-secret S]\n"
    "                      [--x-token T] [--x-token-secret S] [--x-bearer B]\n"
    "                      [--x-mentions-limit N] [--x-post-limit N] [--x-post-day-limit N]\n"
    "                      [--x-users-me-limit N]\n"
    "The token may also come from SOTONG_SANDBOX_TOKEN, the X credentials from\n"
    "SOTONG_SANDBOX_X_CONSUMER_KEY, _CONSUMER_SECRET, _TOKEN, _TOKEN_SECRET and _BEARER.\n"
    "See sandbox/README.md.\n";

std::optional<int64_t> to_int(std::string_view s, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

bool valid_handle(std::string_view s) {
  if (s.empty() || s.size() > 30) return false;
  for (char c : s) {
    bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

// Readers poll for the file; the rename makes it appear complete or not at all.
bool write_port_file(const std::string& path, uint16_t port) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fprintf(f, "%u\n", static_cast<unsigned>(port)) > 0;
  ok = std::fclose(f) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  sotong::sandbox::ServerOptions options;
  if (const char* env = std::getenv("SOTONG_SANDBOX_TOKEN"); env != nullptr && *env != '\0') {
    options.token = env;
  }
  for (auto [name, field] :
       {std::pair{"SOTONG_SANDBOX_X_CONSUMER_KEY", &options.x.consumer_key},
        std::pair{"SOTONG_SANDBOX_X_CONSUMER_SECRET", &options.x.consumer_secret},
        std::pair{"SOTONG_SANDBOX_X_TOKEN", &options.x.token},
        std::pair{"SOTONG_SANDBOX_X_TOKEN_SECRET", &options.x.token_secret},
        std::pair{"SOTONG_SANDBOX_X_BEARER", &options.x.bearer}}) {
    if (const char* env = std::getenv(name); env != nullptr && *env != '\0') *field = env;
  }
  std::string port_file;
  std::string log_level = "info";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "sotong-sandbox: " << arg << " needs a value\n" << kUsage;
      return 2;
    }
    std::optional<int64_t> n;
    bool ok = true;
    if (arg == "--listen") {
      options.listen = value;
    } else if (arg == "--port") {
      ok = (n = to_int(value, 0, 65535)).has_value();
      if (ok) options.port = static_cast<uint16_t>(*n);
    } else if (arg == "--token") {
      options.token = value;
      ok = !value.empty();
    } else if (arg == "--handle") {
      options.state.handle = value;
      ok = valid_handle(value);
    } else if (arg == "--max-characters") {
      ok = (n = to_int(value, 1, 1'000'000)).has_value();
      if (ok) options.state.max_characters = static_cast<std::size_t>(*n);
    } else if (arg == "--rate-limit") {
      ok = (n = to_int(value, 0, 1'000'000'000)).has_value();
      if (ok) options.state.rate_limit = *n;
    } else if (arg == "--rate-window-seconds") {
      ok = (n = to_int(value, 0, 366LL * 86'400)).has_value();
      if (ok) options.state.rate_window_ms = *n * 1000;
    } else if (arg == "--domain") {
      options.domain = value;
    } else if (arg == "--port-file") {
      port_file = value;
    } else if (arg == "--log-level") {
      log_level = value;
    } else if (arg == "--x-handle") {
      options.x.handle = value;
      ok = valid_handle(value) && value.size() <= 15;
    } else if (arg == "--x-consumer-key" || arg == "--x-consumer-secret" || arg == "--x-token" ||
               arg == "--x-token-secret" || arg == "--x-bearer") {
      std::string* field = arg == "--x-consumer-key"      ? &options.x.consumer_key
                           : arg == "--x-consumer-secret" ? &options.x.consumer_secret
                           : arg == "--x-token"           ? &options.x.token
                           : arg == "--x-token-secret"    ? &options.x.token_secret
                                                          : &options.x.bearer;
      *field = value;
      ok = !value.empty();
    } else if (arg == "--x-mentions-limit" || arg == "--x-post-limit" ||
               arg == "--x-post-day-limit" || arg == "--x-users-me-limit") {
      ok = (n = to_int(value, 0, 1'000'000'000)).has_value();
      int64_t* field = arg == "--x-mentions-limit"   ? &options.x.mentions_limit
                       : arg == "--x-post-limit"     ? &options.x.post_limit
                       : arg == "--x-users-me-limit" ? &options.x.users_me_limit
                                                     : &options.x.post_day_limit;
      if (ok) *field = *n;
    } else {
      std::cerr << "sotong-sandbox: unknown flag " << arg << "\n" << kUsage;
      return 2;
    }
    if (!ok) {
      std::cerr << "sotong-sandbox: invalid value for " << arg << ": " << value << "\n";
      return 2;
    }
  }
  // Unknown level names fall back to info.
  sotong::log::setup(sotong::log::level_from(log_level).value_or(sotong::log::Level::info),
                     sotong::log::Format::logfmt);

  sotong::sandbox::SandboxServer server(options);
  if (auto st = server.listen(); !st) {
    sotong::log::critical("cannot listen", {{"error", st.error()}});
    return 1;
  }
  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  signals.async_wait([&server](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    sotong::log::info("signal received; stopping", {{"signal", sig}});
    server.stop();
  });
  std::string host =
      options.listen.find(':') != std::string::npos ? "[" + options.listen + "]" : options.listen;
  std::cout << "sotong-sandbox listening on " << host << ":" << server.port() << std::endl;
  if (!port_file.empty() && !write_port_file(port_file, server.port())) {
    sotong::log::critical("cannot write the port file", {{"path", port_file}});
    return 1;
  }
  server.run();
  return 0;
}
