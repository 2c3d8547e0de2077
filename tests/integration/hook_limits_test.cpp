// The hook's hardening, through the real sotongd: size limits, slow and idle clients, the
// connection cap, the per-client rate limit and TLS. Raw sockets where a test must stall,
// hold a connection open or speak from another loopback address (127.0.0.2 is loopback too).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "../unit/throwaway_ca.hpp"
#include "harness.hpp"

namespace sotong::test_support {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking TCP client that can stall mid-request and tell when the server hangs up.
class RawClient {
 public:
  RawClient(uint16_t port, const char* from = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until the server closes or `timeout` passes; what arrived is in received().
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;  // closed or reset
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }
  // Reads one whole response (headers and a Content-Length body) on a kept-alive connection.
  std::string read_response(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      const auto head = received_.find("\r\n\r\n");
      if (head != std::string::npos) {
        const auto cl = received_.find("Content-Length: ");
        const std::size_t body =
            cl == std::string::npos ? 0 : std::stoul(received_.substr(cl + 16));
        if (received_.size() >= head + 4 + body) {
          std::string r = received_.substr(0, head + 4 + body);
          received_.erase(0, r.size());
          return r;
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return {};
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: sotong\r\n\r\n";

// The status code of the first response in `raw`, 0 if none.
int status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return 0;
  return std::stoi(raw.substr(9, 3));
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class HookLimits : public ::testing::Test {
 protected:
  void start(DaemonSettings s) {
    f.start_sandbox();
    f.write_config(s);
    f.start_daemon();
  }
  Fixture f;
};

TEST_F(HookLimits, SlowClientIsDroppedAfterTheRequestTimeout) {
  DaemonSettings s;
  s.hook_request_timeout_seconds = 1;
  s.hook_idle_timeout_seconds = 10;
  start(s);
  RawClient c(f.hook_port());
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  ASSERT_TRUE(
      c.send("POST /v1/tickets/SP-2026-000001/close HTTP/1.1\r\nHost: sotong\r\n"
             "Content-Length: 100\r\n\r\n{\"resolution\""));
  ASSERT_TRUE(c.wait_closed(5s));
  EXPECT_GE(seconds_since(t0), 0.8);
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST_F(HookLimits, IdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  DaemonSettings s;
  s.hook_request_timeout_seconds = 1;
  s.hook_idle_timeout_seconds = 3;
  start(s);
  RawClient c(f.hook_port());
  ASSERT_TRUE(c.send(kHealth));
  EXPECT_EQ(status_of(c.read_response(5s)), 200);
  const auto t0 = Clock::now();
  ASSERT_TRUE(c.wait_closed(8s));
  // Longer than a request may take: idle and request timeouts are separate.
  EXPECT_GE(seconds_since(t0), 2.5);
  EXPECT_LT(seconds_since(t0), 5.0);
}

TEST_F(HookLimits, BodyOverTheLimitIs413) {
  start({});
  const std::string body(5000, 'x');  // the harness's max_body_bytes is 4096
  RawClient c(f.hook_port());
  ASSERT_TRUE(
      c.send("POST /v1/tickets/SP-2026-000001/close HTTP/1.1\r\nHost: sotong\r\n"
             "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n" +
             body));
  c.wait_closed(5s);
  EXPECT_EQ(status_of(c.received()), 413);
  EXPECT_NE(c.received().find("{\"error\":\"request body too large\"}"), std::string::npos);
}

TEST_F(HookLimits, HeadersOverTheLimitAre431) {
  start({});
  RawClient c(f.hook_port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: sotong\r\nX-Pad: " + std::string(20000, 'a') +
                     "\r\n\r\n"));
  c.wait_closed(5s);
  EXPECT_EQ(status_of(c.received()), 431);
}

TEST_F(HookLimits, ConnectionsOverTheCapAre503WhileOpenOnesKeepWorking) {
  DaemonSettings s;
  s.hook_max_connections = 3;
  s.hook_request_timeout_seconds = 10;
  s.hook_idle_timeout_seconds = 10;
  start(s);
  RawClient a(f.hook_port()), b(f.hook_port()), c(f.hook_port());
  ASSERT_TRUE(a.connected() && b.connected() && c.connected());
  std::this_thread::sleep_for(200ms);  // accepted by now
  RawClient over(f.hook_port());
  ASSERT_TRUE(over.wait_closed(3s));
  EXPECT_EQ(status_of(over.received()), 503);
  EXPECT_NE(over.received().find("Retry-After: 1"), std::string::npos);

  ASSERT_TRUE(a.send(kHealth));
  EXPECT_EQ(status_of(a.read_response(5s)), 200);
  // A slot freed is a slot taken again.
  ASSERT_TRUE(b.send("GET /healthz HTTP/1.1\r\nHost: sotong\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(b.wait_closed(5s));
  EXPECT_TRUE(wait_until([&] { return f.hook_request("GET", "/healthz").status == 200; }, 3s));
}

TEST_F(HookLimits, ClientOverItsRateGets429WithRetryAfterAndOthersDoNot) {
  // Started without a limit, so that the harness's readiness polls are not counted; the
  // limit comes with a reload, as an admin would set it.
  DaemonSettings s;
  start(s);
  s.hook_requests_per_minute = 3;
  f.write_config(s);
  f.signal_daemon(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] { return f.read_log("sotongd.log").find("reloaded") != std::string::npos; }, 10s));
  auto get = [&](const char* from) {
    RawClient c(f.hook_port(), from);
    c.send("GET /healthz HTTP/1.1\r\nHost: sotong\r\nConnection: close\r\n\r\n");
    c.wait_closed(5s);
    return c.received();
  };
  for (int i = 0; i < 3; ++i) ASSERT_EQ(status_of(get("127.0.0.2")), 200) << i;
  const std::string refused = get("127.0.0.2");
  EXPECT_EQ(status_of(refused), 429);
  EXPECT_NE(refused.find("Retry-After: 20"), std::string::npos) << refused;
  EXPECT_NE(refused.find("{\"error\":\"too many requests; retry after 20 seconds\"}"),
            std::string::npos)
      << refused;
  EXPECT_EQ(status_of(get("127.0.0.3")), 200);
}

class HookTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto issued = ca.issue({"localhost", "localhost"});
    std::ofstream(f.dir() / "hook.crt") << issued.cert_pem;
    std::ofstream(f.dir() / "hook.key") << issued.key_pem;
    s.hook_tls_cert_file = f.dir() / "hook.crt";
    s.hook_tls_key_file = f.dir() / "hook.key";
    s.hook_tls_ca_pem = ca.cert_pem();
    s.hook_request_timeout_seconds = 1;
  }
  tls_test::ThrowawayCa ca;
  DaemonSettings s;
  Fixture f;
};

TEST_F(HookTls, RequestsOverHttpsWorkAndPlainHttpIsRefused) {
  f.start_sandbox();
  f.write_config(s);
  f.start_daemon();  // ready means /healthz answered over HTTPS
  auto r = f.hook("GET", "/v1/tickets", Fixture::department_tokens().at("roads"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http("GET", f.hook_port(), "/healthz").status, 0);
}

TEST_F(HookTls, SilentClientIsDroppedBeforeTheHandshake) {
  f.start_sandbox();
  f.write_config(s);
  f.start_daemon();
  RawClient c(f.hook_port());
  const auto t0 = Clock::now();
  ASSERT_TRUE(c.wait_closed(5s));
  EXPECT_LT(seconds_since(t0), 3.0);
}

TEST_F(HookTls, MissingKeyFileStopsStartupNamingTheFile) {
  s.hook_tls_key_file = f.dir() / "missing.key";
  f.start_sandbox();
  f.write_config(s);
  f.spawn_daemon();
  ASSERT_TRUE(wait_until([&] { return !f.daemon_running(); }, 20s));
  EXPECT_EQ(f.stop_daemon(), 1);
  EXPECT_NE(f.read_log("sotongd.log").find("tls_key_file " + s.hook_tls_key_file.string()),
            std::string::npos)
      << f.read_log("sotongd.log");

  const auto log = f.dir() / "check.log";
  Process check({SOTONGD_PATH, "--config", (f.dir() / "sotong.yaml").string(), "--check-config"},
                log);
  EXPECT_EQ(check.wait(20s), 1);
  std::ifstream in(log);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(out.find("tls_key_file " + s.hook_tls_key_file.string()), std::string::npos) << out;
}

}  // namespace
}  // namespace sotong::test_support
