#include "daemon/util/file_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <utility>

#include "daemon/util/log.hpp"

namespace sotong {

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;

// A few hundred events per read(); a bigger burst just takes more reads.
constexpr std::size_t kReadBuffer = 16 * 1024;

// A directory that keeps vanishing and coming back while its watch is set up is looked up this
// many times; whatever it does after that shows up as events on the watches in place.
constexpr int kLookups = 3;

std::string errno_text(int e) {
  return std::system_category().message(e);
}

Error watch_error(const fs::path& dir, int e) {
  std::string m = "cannot watch " + dir.string() + ": " + errno_text(e);
  if (e == ENOSPC)
    m += " (the inotify watch limit is reached: raise the sysctl fs.inotify.max_user_watches)";
  return Error{std::move(m)};
}

bool editor_dropping(std::string_view name) {
  if (name.front() == '.' || name.back() == '~') return true;
  return name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with(".tmp");
}

bool is_dir(const fs::path& p, struct stat* st) {
  return ::stat(p.c_str(), st) == 0 && S_ISDIR(st->st_mode);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

FileWatch::FileWatch(std::function<void()> on_change, std::chrono::milliseconds quiet)
    : on_change_(std::move(on_change)), quiet_(quiet) {}

FileWatch::~FileWatch() {
  stop();
  close_fd(inotify_fd_);
  close_fd(wake_fd_);
}

Status FileWatch::watch(const fs::path& dir, Filter filter) {
  if (inotify_fd_ >= 0)
    return Error{"cannot watch " + dir.string() + ": the file watch was started"};
  std::error_code ec;
  auto p = fs::absolute(dir, ec).lexically_normal();
  if (ec) return Error{"cannot watch " + dir.string() + ": " + ec.message()};
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  Dir d;
  d.path = std::move(p);
  d.filter = std::move(filter);
  dirs_.push_back(std::move(d));
  return Status::Ok();
}

Status FileWatch::start() {
  if (inotify_fd_ >= 0) return Error{"the file watch was already started"};
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    const int e = errno;
    std::string m = "cannot start inotify: " + errno_text(e);
    if (e == EMFILE) m += " (raise the sysctl fs.inotify.max_user_instances)";
    return Error{std::move(m)};
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  Status s;
  if (wake_fd_ < 0) s = Error{"cannot create an eventfd: " + errno_text(errno)};
  for (auto& d : dirs_) {
    if (!s) break;
    s = refresh(d);
  }
  if (s) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      s = Error{std::string("cannot start the file watch thread: ") + e.what()};
    }
  }
  if (!s) {
    // Closing the inotify fd drops every watch with it.
    for (auto& d : dirs_) d.wd = d.ancestor_wd = -1;
    close_fd(inotify_fd_);
    close_fd(wake_fd_);
  }
  return s;
}

void FileWatch::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  // Cannot fail short of the counter overflowing, which one write per stop never does.
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void FileWatch::run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;  // a burst has begun and on_change is due at `due`
  Clock::time_point due{};
  try {
    for (;;) {
      int timeout = -1;
      if (pending) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now());
        timeout = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, INT_MAX));
      }
      pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
      if (::poll(fds, 2, timeout) < 0) {
        if (errno == EINTR) continue;
        log::error("file watch stopped: poll failed", {{"error", errno_text(errno)}});
        return;
      }
      if (fds[0].revents != 0) return;
      if ((fds[1].revents & (POLLERR | POLLNVAL)) != 0) {
        log::error("file watch stopped: the inotify descriptor failed");
        return;
      }
      if ((fds[1].revents & POLLIN) != 0 && drain_events()) {
        pending = true;
        due = Clock::now() + quiet_;
      }
      if (pending && Clock::now() >= due) {
        pending = false;
        // Before the call, so that what on_change reads is what the watches now cover.
        refresh_all();
        try {
          on_change_();
        } catch (const std::exception& e) {
          log::error("reacting to a file change failed", {{"error", e.what()}});
        } catch (...) {
          log::error("reacting to a file change failed");
        }
      }
    }
  } catch (const std::exception& e) {
    log::error("file watch stopped", {{"error", e.what()}});
  } catch (...) {
    log::error("file watch stopped by an unknown exception");
  }
}

// Reads every queued event; true if one of them is relevant.
bool FileWatch::drain_events() {
  alignas(inotify_event) char buf[kReadBuffer];
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN)
        log::warn("file watch read failed", {{"error", errno_text(errno)}});
      return relevant;
    }
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      inotify_event ev;
      std::memcpy(&ev, buf + off, sizeof ev);
      const char* name_start = buf + off + sizeof ev;
      const std::string_view name(name_start, ::strnlen(name_start, ev.len));
      off += static_cast<ssize_t>(sizeof ev + ev.len);

      if (ev.wd < 0) {
        // Events were dropped (IN_Q_OVERFLOW): anything may have changed.
        relevant = true;
        continue;
      }
      for (auto& d : dirs_) {
        if ((ev.mask & IN_IGNORED) != 0) {
          // The kernel dropped a watch we still rely on (directory deleted, unmounted); the
          // watches refresh() removes itself are no longer referenced and so change nothing.
          if (d.wd == ev.wd || d.ancestor_wd == ev.wd) relevant = true;
          if (d.wd == ev.wd) d.wd = -1;
          if (d.ancestor_wd == ev.wd) d.ancestor_wd = -1;
          continue;
        }
        if (d.wd == ev.wd) {
          if (name.empty()) {
            if ((ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) relevant = true;
          } else if (!editor_dropping(name) && (!d.filter || d.filter(name))) {
            relevant = true;
          }
        }
        if (d.ancestor_wd == ev.wd && name == d.ancestor_child) relevant = true;
      }
    }
  }
}

Status FileWatch::refresh(Dir& d) {
  for (int lookup = 0; lookup < kLookups; ++lookup) {
    struct stat st {};
    if (is_dir(d.path, &st)) {
      const auto dev = static_cast<std::uint64_t>(st.st_dev);
      const auto ino = static_cast<std::uint64_t>(st.st_ino);
      if (d.wd >= 0 && d.dev == dev && d.ino == ino) return Status::Ok();
      // Looked up before the watch is added: if the path is swapped in between, the watch is on
      // the newer directory and the recorded inode is the older one, so the next burst re-adds
      // the same watch. The other order could leave the older one watched for good.
      const int wd = ::inotify_add_watch(inotify_fd_, d.path.c_str(), kMask);
      if (wd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) continue;  // gone again
        return watch_error(d.path, errno);
      }
      const int old_wd = std::exchange(d.wd, wd);
      const int old_ancestor = std::exchange(d.ancestor_wd, -1);
      d.dev = dev;
      d.ino = ino;
      d.ancestor_child.clear();
      release(old_wd);
      release(old_ancestor);
      return Status::Ok();
    }

    // Missing (or not a directory): its return shows up as an event on the nearest ancestor.
    release(std::exchange(d.wd, -1));
    fs::path ancestor = d.path.parent_path();
    std::string child = d.path.filename();
    while (!is_dir(ancestor, &st) && ancestor.has_relative_path()) {
      child = ancestor.filename();
      ancestor = ancestor.parent_path();
    }
    const int wd = ::inotify_add_watch(inotify_fd_, ancestor.c_str(), kMask);
    if (wd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return watch_error(ancestor, errno);
    }
    const int old_ancestor = std::exchange(d.ancestor_wd, wd);
    d.ancestor_child = std::move(child);
    release(old_ancestor);
    // It may have come back before the ancestor's watch was in place, which no event tells.
    if (!is_dir(d.path, &st)) return Status::Ok();
  }
  return Status::Ok();
}

void FileWatch::refresh_all() {
  for (auto& d : dirs_)
    if (auto s = refresh(d); !s)
      log::warn(
          "directory not watched",
          {{"path", d.path.string()}, {"error", s.error()}, {"hint", "edits there need a SIGHUP"}});
}

// Removes a watch no directory refers to any more; the same directory watched for two paths
// (the config folder is also rules/'s parent) shares one watch descriptor.
void FileWatch::release(int wd) {
  if (wd < 0) return;
  for (const auto& d : dirs_)
    if (d.wd == wd || d.ancestor_wd == wd) return;
  // May fail when the kernel dropped it already; nothing to do then.
  ::inotify_rm_watch(inotify_fd_, wd);
}

}  // namespace sotong
