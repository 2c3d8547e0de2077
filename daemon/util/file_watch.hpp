// FileWatch: calls on_change once per burst of changes in a few directories (the config file's
// folder, rules/, templates/, holidays/), so edits are picked up without a SIGHUP. A burst ends
// when `quiet` passes with no relevant event; an editor that saves through a temp file and a
// rename (vim, sed -i) makes one burst, so one call.
//
// Relevant: a file created, written and closed, deleted, renamed in or out, or its attributes
// changed; the watched directory itself deleted or moved. Not relevant: hidden names (".x") and
// editor droppings ("~", ".swp", ".swx", ".tmp"), and names the directory's filter refuses. A
// rename *into* a kept name counts whatever the temp file was called.
//
// Directories replaced or removed: on each burst, before on_change, every directory is looked up
// again by path. One that is now another directory (mv rules rules.old; mv rules.new rules) is
// watched afresh and the old one dropped; one that is missing is waited for through its nearest
// existing ancestor, and its return is a burst of its own. Not noticed, SIGHUP covers them: a
// symlink on the way that is re-pointed (ln -sfn), since only its target is watched, and an
// ancestor of a watched directory renamed while the directory itself stays.
//
// Threads: watch() and start() from one thread, before the watch runs. on_change runs on the
// watch's own thread (hand the work to your loop from there); it must not call stop(). stop()
// and the destructor wake that thread through an eventfd and join it.
// Errors: watch() and start() return a Status naming the directory and the errno text. Later
// failures (re-adding a watch after a directory came back) are logged as warnings.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong {

class FileWatch {
 public:
  // Decides from a file's name (no directory) whether its changes count; empty means all.
  using Filter = std::function<bool(std::string_view file_name)>;

  explicit FileWatch(std::function<void()> on_change,
                     std::chrono::milliseconds quiet = std::chrono::milliseconds(500));
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // Adds a directory, before start(). It need not exist yet.
  Status watch(const std::filesystem::path& dir, Filter filter = {});
  // Sets up inotify and starts the thread; once.
  Status start();
  // Wakes the thread and joins it; on_change is not called afterwards. Idempotent.
  void stop();

 private:
  struct Dir {
    std::filesystem::path path;  // absolute, without a trailing slash
    Filter filter;
    int wd = -1;  // the watch on path itself; -1 while it is missing
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;       // the directory wd watches, to notice a replacement
    int ancestor_wd = -1;        // while missing: the nearest existing ancestor
    std::string ancestor_child;  // the name under that ancestor that leads to path
  };

  void run();
  bool drain_events();
  Status refresh(Dir& d);
  void refresh_all();
  void release(int wd);

  std::function<void()> on_change_;
  std::chrono::milliseconds quiet_;
  std::vector<Dir> dirs_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace sotong
