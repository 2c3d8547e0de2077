#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "connectors/http_client.hpp"
#include "daemon/config.hpp"

extern char** environ;

namespace sotong::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http_ns = beast::http;
namespace json = boost::json;

boost::json::value HttpResult::json() const {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  return ec ? json::value() : v;
}

namespace {

// One request on a connected stream (plain or TLS); throws on a socket error.
template <class Stream>
HttpResult exchange(Stream& stream, const std::string& method, const std::string& target,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult out;
  http_ns::request<http_ns::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http_ns::field::host, "127.0.0.1");
  bool has_ct = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    if (k == "Content-Type") has_ct = true;
  }
  if (!body.empty() && !has_ct) req.set(http_ns::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http_ns::write(stream, req);
  beast::flat_buffer buf;
  http_ns::response_parser<http_ns::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http_ns::read(stream, buf, parser);
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string n(f.name_string());
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[n] = std::string(f.value());
  }
  return out;
}

}  // namespace

HttpResult http(const std::string& method, uint16_t port, const std::string& target,
                const std::string& body, const std::map<std::string, std::string>& headers) {
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    auto out = exchange(stream, method, target, body, headers);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception&) {
    return {};
  }
}

HttpResult https(const std::string& ca_pem, const std::string& method, uint16_t port,
                 const std::string& target, const std::string& body,
                 const std::map<std::string, std::string>& headers) {
  try {
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(ca_pem));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    if (!set_sni(stream.native_handle(), "localhost")) return {};
    stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream.handshake(asio::ssl::stream_base::client);
    auto out = exchange(stream, method, target, body, headers);
    beast::error_code ec;
    stream.shutdown(ec);
    return out;
  } catch (const std::exception&) {
    return {};
  }
}

Process::Process(std::vector<std::string> argv, const std::filesystem::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

bool Process::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout, std::chrono::milliseconds(10));
  return running() ? -1 : status_;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

namespace {

constexpr const char* kSandboxToken = "integration-token";

uint16_t read_port_file(const std::filesystem::path& p, std::chrono::milliseconds timeout) {
  uint16_t port = 0;
  wait_until(
      [&] {
        std::ifstream in(p);
        int v = 0;
        if (in >> v && v > 0 && v < 65536) {
          port = static_cast<uint16_t>(v);
          return true;
        }
        return false;
      },
      timeout);
  return port;
}

}  // namespace

const std::map<std::string, std::string>& Fixture::department_tokens() {
  static const std::map<std::string, std::string> kTokens{
      {"safety", "tok-safety"},       {"transport", "tok-transport"}, {"roads", "tok-roads"},
      {"environment", "tok-env"},     {"housing", "tok-housing"},     {"welfare", "tok-welfare"},
      {"civil-affairs", "tok-civil"},
  };
  return kTokens;
}

Fixture::Fixture() = default;

Fixture::~Fixture() {
  if (daemon_ && daemon_->running()) {
    daemon_->signal(SIGTERM);
    daemon_->wait(std::chrono::seconds(10));
  }
  daemon_.reset();
  sandbox_.reset();
}

void Fixture::start_sandbox(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv{SANDBOX_PATH,  "--listen",    "127.0.0.1",
                                "--port",      "0",           "--token",
                                kSandboxToken, "--port-file", (dir() / "sandbox.port").string()};
  for (const auto& a : extra_args) argv.push_back(a);
  sandbox_ = std::make_unique<Process>(argv, dir() / "sandbox.log");
  sandbox_port_ = read_port_file(dir() / "sandbox.port", std::chrono::seconds(10));
  if (sandbox_port_ == 0) throw std::runtime_error("sotong-sandbox did not start");
}

HttpResult Fixture::control(const std::string& method, const std::string& target,
                            const std::string& body) {
  return http(method, sandbox_port_, target, body);
}

std::string Fixture::mention(const std::string& author, const std::string& text,
                             const std::string& visibility, const std::string& language,
                             const std::string& extra_json) {
  json::object o;
  o["author"] = author;
  o["text"] = text;
  o["visibility"] = visibility;
  if (!language.empty()) o["language"] = language;
  if (!extra_json.empty()) {
    auto extra = json::parse(extra_json).as_object();
    for (auto& kv : extra) o[kv.key()] = kv.value();
  }
  auto r = control("POST", "/_sandbox/mentions", json::serialize(o));
  if (r.status != 200) throw std::runtime_error("mention injection failed: " + r.body);
  return std::string(r.json().as_object().at("id").as_string());
}

const std::vector<std::string>& Fixture::x_sandbox_args() {
  static const std::vector<std::string> kArgs{
      "--x-consumer-key", "it-ck",  "--x-consumer-secret", "it-cs",    "--x-token", "it-at",
      "--x-token-secret", "it-ats", "--x-bearer",          "it-bearer"};
  return kArgs;
}

std::string Fixture::x_mention(const std::string& author, const std::string& text,
                               const std::string& lang, const std::string& in_reply_to_id) {
  json::object o;
  o["author"] = author;
  o["text"] = text;
  o["lang"] = lang;
  if (!in_reply_to_id.empty()) o["in_reply_to_id"] = in_reply_to_id;
  auto r = control("POST", "/_sandbox/x/mentions", json::serialize(o));
  if (r.status != 200) throw std::runtime_error("X mention injection failed: " + r.body);
  return std::string(r.json().as_object().at("id").as_string());
}

std::vector<json::object> Fixture::x_posts() {
  auto r = control("GET", "/_sandbox/x/posts");
  std::vector<json::object> out;
  auto v = r.json();
  if (v.is_array())
    for (auto& p : v.as_array()) out.push_back(p.as_object());
  return out;
}

std::vector<json::object> Fixture::posts() {
  auto r = control("GET", "/_sandbox/posts");
  std::vector<json::object> out;
  auto v = r.json();
  if (v.is_array())
    for (auto& p : v.as_array()) out.push_back(p.as_object());
  return out;
}

void Fixture::fault(const std::string& kind, int count, const std::string& path_prefix,
                    int delay_ms) {
  json::object o;
  o["kind"] = kind;
  o["count"] = count;
  if (!path_prefix.empty()) o["path_prefix"] = path_prefix;
  if (delay_ms > 0) o["delay_ms"] = delay_ms;
  auto r = control("POST", "/_sandbox/faults", json::serialize(o));
  if (r.status != 200) throw std::runtime_error("fault injection failed: " + r.body);
}

void Fixture::write_config(const DaemonSettings& s) {
  hook_ca_pem_ = s.hook_tls_ca_pem;
  std::ofstream(dir() / "mastodon.token") << kSandboxToken << "\n";
  std::ostringstream y;
  y << "ticket_prefix: SP\n"
    << "store: " << (s.store.empty() ? (dir() / "sotong.db").string() : s.store) << "\n"
    << "rules_dir: "
    << (s.rules_dir.empty() ? std::string(SOTONG_SOURCE_DIR) + "/rules" : s.rules_dir) << "\n"
    << "templates_dir: "
    << (s.templates_dir.empty() ? std::string(SOTONG_SOURCE_DIR) + "/templates" : s.templates_dir)
    << "\n"
    << "holidays_dir: " << SOTONG_SOURCE_DIR << "/holidays\n"
    << "business_hours: " << s.business_hours << "\n"
    << "limits:\n  acks_per_author_per_hour: " << s.acks_per_author_per_hour << "\n"
    << "log_level: " << s.log_level << "\nlog_format: " << s.log_format << "\n"
    << "hook:\n  listen: 127.0.0.1\n  port: 0\n  max_body_bytes: 4096\n"
    << "  requests_per_minute: " << s.hook_requests_per_minute << "\n"
    << (s.hook_max_connections > 0
            ? "  max_connections: " + std::to_string(s.hook_max_connections) + "\n"
            : "")
    << (s.hook_request_timeout_seconds > 0
            ? "  request_timeout_seconds: " + std::to_string(s.hook_request_timeout_seconds) + "\n"
            : "")
    << (s.hook_idle_timeout_seconds > 0
            ? "  idle_timeout_seconds: " + std::to_string(s.hook_idle_timeout_seconds) + "\n"
            : "")
    << (s.hook_tls_cert_file.empty() ? ""
                                     : "  tls_cert_file: " + s.hook_tls_cert_file.string() + "\n")
    << (s.hook_tls_key_file.empty() ? "" : "  tls_key_file: " + s.hook_tls_key_file.string() + "\n")
    << "sender:\n  initial_backoff_ms: 100\n  max_backoff_ms: 2000\n"
    << "accounts:\n";
  if (s.mastodon)
    y << "  - name: songpa\n    platform: mastodon\n"
      << "    base_url: http://127.0.0.1:" << sandbox_port_ << "\n"
      << "    token_file: mastodon.token\n"
      << "    posts_per_3_hours: 1000000\n"
      << (s.posts_per_hour > 0 ? "    posts_per_hour: " + std::to_string(s.posts_per_hour) + "\n"
                               : std::string())
      << "    streaming: " << (s.streaming ? "true" : "false") << "\n"
      << "    poll_interval_seconds: " << s.poll_interval_seconds << "\n"
      << "    request_timeout_seconds: " << s.request_timeout_seconds << "\n";
  if (s.mastodon && s.idempotency_window_seconds >= 0)
    y << "    idempotency_window_seconds: " << s.idempotency_window_seconds << "\n";
  if (s.x) {
    const auto& a = x_sandbox_args();
    std::ofstream(dir() / "x.consumer_key") << a[1] << "\n";
    std::ofstream(dir() / "x.consumer_secret") << a[3] << "\n";
    std::ofstream(dir() / "x.access_token") << a[5] << "\n";
    std::ofstream(dir() / "x.access_token_secret") << a[7] << "\n";
    std::ofstream(dir() / "x.bearer") << a[9] << "\n";
    y << "  - name: songpa_x\n    platform: x\n"
      << "    base_url: http://127.0.0.1:" << sandbox_port_ << "\n"
      << "    ticket_prefix: SPX\n"
      << "    consumer_key_file: x.consumer_key\n"
      << "    consumer_secret_file: x.consumer_secret\n"
      << "    access_token_file: x.access_token\n"
      << "    access_token_secret_file: x.access_token_secret\n"
      << "    mentions_per_window: " << s.x_mentions_per_window << "\n"
      << "    posts_per_window: " << s.x_posts_per_window << "\n"
      << (s.x_bearer ? "    bearer_token_file: x.bearer\n" : "")
      << "    poll_interval_seconds: " << s.poll_interval_seconds << "\n"
      << "    request_timeout_seconds: " << s.request_timeout_seconds << "\n";
  }
  y << "departments:\n";
  for (const auto& [id, tok] : department_tokens()) {
    y << "  " << id << ":\n    token_sha256: " << sha256_hex(tok) << "\n";
    if (auto extra = s.department_yaml.find(id); extra != s.department_yaml.end())
      y << extra->second;
  }
  y << s.extra_yaml;
  std::ofstream(dir() / "sotong.yaml") << y.str();
}

void Fixture::start_daemon() {
  spawn_daemon();
  if (!wait_daemon_ready()) {
    dump_logs();
    throw std::runtime_error(hook_port_ == 0 ? "sotongd did not start"
                                             : "sotongd did not become ready");
  }
}

void Fixture::spawn_daemon() {
  std::filesystem::remove(dir() / "hook.port");
  hook_port_ = 0;
  ++daemon_starts_;
  daemon_ = std::make_unique<Process>(
      std::vector<std::string>{SOTONGD_PATH, "--config", (dir() / "sotong.yaml").string(),
                               "--hook-port-file", (dir() / "hook.port").string()},
      dir() / "sotongd.log");
}

bool Fixture::wait_daemon_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  hook_port_ = read_port_file(
      dir() / "hook.port", std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(10)));
  if (hook_port_ == 0) return false;
  // Ready: the connector has verified the account and finished its first poll.
  return wait_until([&] { return hook_request("GET", "/healthz").status == 200; },
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
}

uint16_t Fixture::hook_port_from_file() const {
  std::ifstream in(dir() / "hook.port");
  int v = 0;
  return in >> v && v > 0 && v < 65536 ? static_cast<uint16_t>(v) : 0;
}

int Fixture::stop_daemon(int sig) {
  if (!daemon_) return -1;
  daemon_->signal(sig);
  return daemon_->wait(std::chrono::seconds(40));
}

void Fixture::signal_daemon(int sig) {
  if (daemon_) daemon_->signal(sig);
}

void Fixture::kill_daemon() {
  if (!daemon_) return;
  daemon_->signal(SIGKILL);
  daemon_->wait(std::chrono::seconds(10));
}

HttpResult Fixture::hook(const std::string& method, const std::string& target,
                         const std::string& token, const std::string& body) {
  std::map<std::string, std::string> h;
  if (!token.empty()) h["Authorization"] = "Bearer " + token;
  return hook_request(method, target, body, h);
}

HttpResult Fixture::hook_request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  if (hook_ca_pem_.empty()) return http(method, hook_port_, target, body, headers);
  return https(hook_ca_pem_, method, hook_port_, target, body, headers);
}

std::string Fixture::ticket_for_mention(const std::string& mention_id) {
  for (const auto& [dept, tok] : department_tokens()) {
    auto r = hook("GET", "/v1/tickets?status=any&limit=200", tok);
    auto v = r.json();
    if (!v.is_object()) continue;
    for (const auto& t : v.as_object().at("tickets").as_array())
      if (t.as_object().at("mention_id").as_string() == mention_id)
        return std::string(t.as_object().at("ticket").as_string());
  }
  return {};
}

std::vector<json::object> Fixture::replies_to(const std::string& status_id) {
  std::vector<json::object> out;
  for (auto& p : posts()) {
    const auto& r = p.at("in_reply_to_id");
    if (r.is_string() && r.as_string() == status_id) out.push_back(p);
  }
  return out;
}

bool Fixture::wait_for_posts(std::size_t n, std::chrono::milliseconds timeout) {
  return wait_until([&] { return posts().size() >= n; }, timeout, std::chrono::milliseconds(50));
}

std::string Fixture::read_log(const std::string& name) const {
  std::ifstream in(dir() / name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Fixture::dump_logs() const {
  for (const char* name : {"sotongd.log", "sandbox.log"}) {
    std::string log = read_log(name);
    if (log.size() > 20000) log = "...\n" + log.substr(log.size() - 20000);
    std::cerr << "---- " << name << " ----\n" << log << "\n";
  }
}

}  // namespace sotong::test_support
