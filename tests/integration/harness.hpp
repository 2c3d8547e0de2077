// The integration harness: starts the real sotong-sandbox and sotongd as child processes on
// loopback, talks to them over real sockets (a small blocking HTTP client), and offers the
// waits the tests need. Each Fixture owns a temporary folder with the config, the store and
// both processes' logs; the logs are printed when a test fails.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../unit/temp_dir.hpp"

namespace sotong::test_support {

struct HttpResult {
  int status = 0;  // 0 when the request failed at the socket level
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  boost::json::value json() const;
};

// One blocking request on a fresh connection, with a 10 s deadline.
HttpResult http(const std::string& method, uint16_t port, const std::string& target,
                const std::string& body = "",
                const std::map<std::string, std::string>& headers = {});

// The same over TLS, trusting only the CA in `ca_pem` and checking the name "localhost".
HttpResult https(const std::string& ca_pem, const std::string& method, uint16_t port,
                 const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {});

// A child process; killed (SIGKILL) if still running when destroyed.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::filesystem::path& log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code, 128+signal, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(25));

struct DaemonSettings {
  bool streaming = true;
  int poll_interval_seconds = 1;
  int request_timeout_seconds = 2;
  std::string extra_yaml;  // appended to the config
  std::string log_level = "debug";
  std::string log_format = "logfmt";
  // Lines added under a department's entry (indented by four spaces), by department id.
  std::map<std::string, std::string> department_yaml;
  std::string store;                // an SQLite path or postgresql:// URL; default: in dir()
  std::string rules_dir;            // default: the shipped rules/
  std::string templates_dir;        // default: the shipped templates/
  bool mastodon = true;             // a Mastodon account "songpa" (ticket prefix SP)
  bool x = false;                   // an X account "songpa_x" (ticket prefix SPX)
  int x_mentions_per_window = 900;  // fast polling against the sandbox
  int x_posts_per_window = 1000;
  bool x_bearer = false;                // read mentions with the app-only bearer token
  int idempotency_window_seconds = -1;  // Mastodon; -1: the default
  // Departments always in, so acknowledgements do not depend on when the test runs.
  std::string business_hours = "always";
  int acks_per_author_per_hour = 0;
  int posts_per_hour = 0;  // Mastodon account's budget; 0: the default  // 0: no limit (tests post
                           // bursts from one author)
  // The hook's limits; 0: sotongd's default. No rate limit unless asked: the harness polls.
  int hook_max_connections = 0;
  int hook_request_timeout_seconds = 0;
  int hook_idle_timeout_seconds = 0;
  int hook_requests_per_minute = 0;
  // Both set: the hook speaks HTTPS, and the harness's requests trust `hook_tls_ca_pem`.
  std::filesystem::path hook_tls_cert_file;
  std::filesystem::path hook_tls_key_file;
  std::string hook_tls_ca_pem;
};

class Fixture {
 public:
  Fixture();
  ~Fixture();

  // Sandbox.
  void start_sandbox(const std::vector<std::string>& extra_args = {});
  uint16_t sandbox_port() const { return sandbox_port_; }
  // A citizen mentions the handle; returns the new status id.
  std::string mention(const std::string& author, const std::string& text,
                      const std::string& visibility = "public", const std::string& language = "ko",
                      const std::string& extra_json = "");
  std::vector<boost::json::object> posts();
  // The same on the sandbox's X API.
  std::string x_mention(const std::string& author, const std::string& text,
                        const std::string& lang = "ko", const std::string& in_reply_to_id = "");
  std::vector<boost::json::object> x_posts();
  // The sandbox's X credentials (OAuth 1.0a user context).
  static const std::vector<std::string>& x_sandbox_args();
  // `delay_ms` only for the "delay" kind.
  void fault(const std::string& kind, int count, const std::string& path_prefix = "",
             int delay_ms = 0);
  HttpResult control(const std::string& method, const std::string& target,
                     const std::string& body = "");

  // Daemon.
  void write_config(const DaemonSettings& s = {});
  // spawn_daemon() and wait_daemon_ready(); throws if it does not get ready.
  void start_daemon();
  // Starts sotongd and returns at once: it may not have opened its store yet.
  void spawn_daemon();
  // Waits for the hook's port file, then for /healthz to answer 200; false on timeout.
  bool wait_daemon_ready(std::chrono::milliseconds timeout = std::chrono::seconds(25));
  // The port in the hook's port file now, 0 if there is none yet (sotongd starting; after a
  // kill the file names the dead process's port until the next spawn). Reads only the file,
  // so other threads may call it while this one restarts sotongd.
  uint16_t hook_port_from_file() const;
  int stop_daemon(int sig = SIGTERM);  // and wait; the exit code
  void kill_daemon();                  // SIGKILL and wait
  void signal_daemon(int sig);
  bool daemon_running() { return daemon_ && daemon_->running(); }
  uint16_t hook_port() const { return hook_port_; }
  HttpResult hook(const std::string& method, const std::string& target, const std::string& token,
                  const std::string& body = "");
  // Any request to the hook, over HTTPS when the config asks for it.
  HttpResult hook_request(const std::string& method, const std::string& target,
                          const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {});
  // The ticket opened for a mention id, found through the hook with an admin-like sweep over
  // every department's token; "" if none.
  std::string ticket_for_mention(const std::string& mention_id);
  // Posts whose in_reply_to_id is `status_id`.
  std::vector<boost::json::object> replies_to(const std::string& status_id);
  bool wait_for_posts(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::string read_log(const std::string& name) const;
  void dump_logs() const;

  // The departments' tokens (plain), as the config holds their SHA-256.
  static const std::map<std::string, std::string>& department_tokens();

 private:
  TempDir tmp_;
  std::unique_ptr<Process> sandbox_;
  std::unique_ptr<Process> daemon_;
  uint16_t sandbox_port_ = 0;
  uint16_t hook_port_ = 0;
  int daemon_starts_ = 0;
  std::string hook_ca_pem_;  // set: the hook speaks HTTPS
};

}  // namespace sotong::test_support
