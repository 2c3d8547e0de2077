// Start, memory, reload and stop of a real sotongd, as systemd sees them: the bench binds a
// NOTIFY_SOCKET, starts `sotongd --config CONFIG`, and times exec → READY=1, SIGHUP →
// READY=1 (the whole reload, as `systemctl reload` waits for it) and SIGTERM → exit. RSS
// (VmRSS) is read at READY and after IDLE seconds idle. R runs; prints medians and worsts.
// The baseline in the same run is `/bin/true`'s exec → exit, the cost of starting a process.
// Usage: sotong-bench-start SOTONGD CONFIG [R=5] [IDLE=3]
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path_.copy(a.sun_path, sizeof(a.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      std::perror("bind NOTIFY_SOCKET");
      std::exit(1);
    }
    timeval tv{0, 10'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // True once a message containing `what` arrives within `timeout`.
  bool wait_for(const std::string& what, std::chrono::seconds timeout) {
    const auto end = Clock::now() + timeout;
    char buf[4096];
    while (Clock::now() < end) {
      const auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0 && std::string(buf, static_cast<std::size_t>(n)).find(what) != std::string::npos)
        return true;
    }
    return false;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

pid_t spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  return pid;
}

double rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double worst(const std::vector<double>& v) {
  return *std::max_element(v.begin(), v.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: sotong-bench-start SOTONGD CONFIG [R=5] [IDLE=3]\n");
    return 2;
  }
  const std::string sotongd = argv[1];
  const std::string config = argv[2];
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  const int idle = argc > 4 ? std::atoi(argv[4]) : 3;
  NotifySocket sock("/tmp/sotong-bench-notify-" + std::to_string(::getpid()));
  ::setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  std::vector<double> ready, reload, stop, rss_ready, rss_idle, baseline;
  for (int r = 0; r < runs; ++r) {
    auto t = Clock::now();
    pid_t p = spawn({"/bin/true"});
    ::waitpid(p, nullptr, 0);
    baseline.push_back(ms_since(t));

    t = Clock::now();
    const pid_t pid = spawn({sotongd, "--config", config});
    if (!sock.wait_for("READY=1", std::chrono::seconds(30))) {
      std::fprintf(stderr, "sotongd sent no READY=1\n");
      ::kill(pid, SIGKILL);
      return 1;
    }
    ready.push_back(ms_since(t));
    rss_ready.push_back(rss_mb(pid));
    std::this_thread::sleep_for(std::chrono::seconds(idle));
    rss_idle.push_back(rss_mb(pid));
    t = Clock::now();
    ::kill(pid, SIGHUP);
    if (!sock.wait_for("READY=1", std::chrono::seconds(30))) {
      std::fprintf(stderr, "sotongd did not finish a reload\n");
      ::kill(pid, SIGKILL);
      return 1;
    }
    reload.push_back(ms_since(t));
    t = Clock::now();
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    stop.push_back(ms_since(t));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "sotongd exited with status %d\n", status);
      return 1;
    }
  }
  std::printf("sotongd start, memory, reload and stop, %d runs (median / worst):\n", runs);
  std::printf(
      "  exec -> READY=1            %7.1f ms / %7.1f ms   (exec -> exit of /bin/true: %.1f ms, "
      "%.0fx)\n",
      median(ready), worst(ready), median(baseline), median(ready) / median(baseline));
  std::printf("  RSS at READY               %7.1f MB / %7.1f MB\n", median(rss_ready),
              worst(rss_ready));
  std::printf("  RSS after %d s idle         %7.1f MB / %7.1f MB\n", idle, median(rss_idle),
              worst(rss_idle));
  std::printf("  SIGHUP -> READY=1 (reload) %7.1f ms / %7.1f ms\n", median(reload), worst(reload));
  std::printf("  SIGTERM -> exit 0 (idle)   %7.1f ms / %7.1f ms\n", median(stop), worst(stop));
  // For bench/all's table: figure | median | baseline | ratio | target.
  std::printf("row: start-up, exec to READY=1 | %.1f ms | /bin/true %.1f ms | %.0fx | - \n",
              median(ready), median(baseline), median(ready) / median(baseline));
  std::printf("row: RSS idle (%d s after READY) | %.1f MB | - | - | <= 15 MB\n", idle,
              median(rss_idle));
  std::printf("row: reload, SIGHUP to READY=1 | %.1f ms | - | - | - \n", median(reload));
  std::printf("row: stop, SIGTERM to exit 0 (idle) | %.1f ms | - | - | - \n", median(stop));
  return 0;
}
