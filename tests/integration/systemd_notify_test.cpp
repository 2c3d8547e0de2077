// sotongd as systemd sees it (Type=notify): READY=1 with a STATUS once it serves, WATCHDOG=1
// from the event loop at half the watchdog interval, RELOADING=1 and READY=1 around a reload,
// STOPPING=1 on SIGTERM, and STATUS= lines with the store's counts. The test plays systemd's part:
// a NOTIFY_SOCKET and WATCHDOG_USEC.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof(a.sun_path) - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // Every message until `pred` holds of one, or the time is up.
  bool wait_for(const std::function<bool(const std::string&)>& pred,
                std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      char buf[4096];
      const auto n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      messages.emplace_back(buf, static_cast<std::size_t>(n));
      if (pred(messages.back())) return true;
    }
    return false;
  }
  std::vector<std::string> messages;

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

bool has(const std::string& m, const char* what) {
  return m.find(what) != std::string::npos;
}

TEST(SystemdNotify, ReadyWatchdogReloadAndStopAreSentAsSystemdExpects) {
  Fixture f;
  f.start_sandbox();
  f.write_config();
  NotifySocket sock((f.dir() / "notify.sock").string());
  ASSERT_TRUE(sock.bound());
  setenv("NOTIFY_SOCKET", (f.dir() / "notify.sock").c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);  // 0.4 s: fed every 0.2 s
  f.spawn_daemon();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  EXPECT_TRUE(sock.wait_for([](const std::string& m) { return has(m, "READY=1"); },
                            std::chrono::seconds(15)));
  EXPECT_TRUE(has(sock.messages.back(), "STATUS=reading mentions"));
  // Fed from the event loop: several times a second while it runs.
  int fed = 0;
  sock.wait_for([&](const std::string& m) { return has(m, "WATCHDOG=1") && ++fed >= 5; },
                std::chrono::seconds(3));
  EXPECT_GE(fed, 5);
  ASSERT_TRUE(f.wait_daemon_ready());
  // The counts follow the store: a mention becomes one open ticket in the next STATUS.
  f.mention("citizen1", "잠실동 육교에 구멍이 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  EXPECT_TRUE(sock.wait_for(
      [](const std::string& m) { return has(m, "STATUS=") && has(m, " 1 open ticket(s)"); },
      std::chrono::seconds(15)));
  f.signal_daemon(SIGHUP);
  EXPECT_TRUE(sock.wait_for([](const std::string& m) { return has(m, "RELOADING=1"); },
                            std::chrono::seconds(10)));
  EXPECT_TRUE(sock.wait_for([](const std::string& m) { return has(m, "READY=1"); },
                            std::chrono::seconds(10)));
  f.signal_daemon(SIGTERM);
  EXPECT_TRUE(sock.wait_for([](const std::string& m) { return has(m, "STOPPING=1"); },
                            std::chrono::seconds(10)));
  EXPECT_EQ(f.stop_daemon(), 0);
}

}  // namespace
}  // namespace sotong::test_support
