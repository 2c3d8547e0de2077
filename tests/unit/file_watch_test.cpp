// FileWatch: one call per burst of edits, editor droppings ignored, directories that come back
// watched again, and a prompt stop.
#include "daemon/util/file_watch.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "temp_dir.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::TempDir;

// Long enough that a writer preempted between open() and close() on a loaded two-core machine
// does not split one save into two bursts, short enough to keep the tests quick.
constexpr auto kQuiet = 100ms;
// How long a negative test waits for a call that must not come.
constexpr auto kNoCall = 3 * kQuiet;
// How long a positive test waits: far beyond any expected delay, so only a bug fails it.
constexpr auto kPatience = 5s;

// Counts on_change calls and can note whether a condition on the files held at one of them.
// Outlives the FileWatch that calls it.
class Calls {
 public:
  std::function<void()> callback() {
    return [this] {
      std::lock_guard lock(m_);
      ++count_;
      if (state_ && state_()) seen_ = true;
      cv_.notify_all();
    };
  }
  // From now on, notes whether `state` holds at a call.
  void expect(std::function<bool()> state) {
    std::lock_guard lock(m_);
    state_ = std::move(state);
    seen_ = false;
  }
  bool wait_seen() {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, kPatience, [&] { return seen_; });
  }
  bool wait_count(int n) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, kPatience, [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard lock(m_);
    return count_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int count_ = 0;
  std::function<bool()> state_;
  bool seen_ = false;
};

void write_file(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

int count_after_quiet(Calls& calls) {
  std::this_thread::sleep_for(kNoCall);
  return calls.count();
}

TEST(FileWatch, WritingAFileCallsOnce) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  write_file(d.path() / "a.yaml", "x: 1\n");
  ASSERT_TRUE(calls.wait_count(1));
  EXPECT_EQ(count_after_quiet(calls), 1);
}

TEST(FileWatch, SaveThroughTempFileAndRenameCallsOnce) {
  TempDir d;
  write_file(d.path() / "sotong.yaml", "x: 1\n");
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  write_file(d.path() / "sotong.yaml.tmp", "x: 2\n");
  fs::rename(d.path() / "sotong.yaml.tmp", d.path() / "sotong.yaml");
  ASSERT_TRUE(calls.wait_count(1));
  EXPECT_EQ(count_after_quiet(calls), 1);
}

TEST(FileWatch, SedInPlaceWithAnOrdinaryTempNameCallsOnce) {
  TempDir d;
  write_file(d.path() / "sotong.yaml", "x: 1\n");
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  write_file(d.path() / "sedK3x9Qa", "x: 2\n");
  fs::rename(d.path() / "sedK3x9Qa", d.path() / "sotong.yaml");
  ASSERT_TRUE(calls.wait_count(1));
  EXPECT_EQ(count_after_quiet(calls), 1);
}

TEST(FileWatch, BurstOfWritesCallsOnce) {
  TempDir d;
  Calls calls;
  // Twenty writes must fit in one quiet period even when the writer is preempted.
  const auto quiet = 300ms;
  FileWatch w(calls.callback(), quiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  for (int i = 0; i < 20; ++i)
    write_file(d.path() / ("r" + std::to_string(i % 4) + ".yaml"), std::to_string(i));
  ASSERT_TRUE(calls.wait_count(1));
  std::this_thread::sleep_for(3 * quiet);
  EXPECT_EQ(calls.count(), 1);
}

TEST(FileWatch, HiddenAndEditorFilesAreIgnored) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  for (const char* name :
       {".sotong.yaml.swp", ".hidden", "sotong.yaml~", "sotong.yaml.swx", "a.swp", "b.tmp"})
    write_file(d.path() / name, "x");
  fs::remove(d.path() / "b.tmp");
  EXPECT_EQ(count_after_quiet(calls), 0);

  // The watch is alive: the same directory's real files still count.
  write_file(d.path() / "a.yaml", "x: 1\n");
  EXPECT_TRUE(calls.wait_count(1));
}

TEST(FileWatch, FilterLimitsCallsToTheNamedFile) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path(), [](std::string_view n) { return n == "sotong.yaml"; }).ok());
  ASSERT_TRUE(w.start().ok());

  write_file(d.path() / "other.yaml", "x: 1\n");
  EXPECT_EQ(count_after_quiet(calls), 0);

  write_file(d.path() / "sotong.yaml", "x: 1\n");
  ASSERT_TRUE(calls.wait_count(1));
  EXPECT_EQ(count_after_quiet(calls), 1);
}

TEST(FileWatch, DirectoryRemovedAndRecreatedIsWatchedAgain) {
  TempDir d;
  const auto rules = d.path() / "rules";
  fs::create_directory(rules);
  write_file(rules / "a.yaml", "x: 1\n");
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(rules).ok());
  ASSERT_TRUE(w.start().ok());

  calls.expect([&] { return !fs::exists(rules); });
  fs::remove_all(rules);
  ASSERT_TRUE(calls.wait_seen());

  calls.expect([&] { return fs::exists(rules); });
  fs::create_directory(rules);
  ASSERT_TRUE(calls.wait_seen());

  calls.expect([&] { return fs::exists(rules / "b.yaml"); });
  write_file(rules / "b.yaml", "x: 2\n");
  EXPECT_TRUE(calls.wait_seen());
}

TEST(FileWatch, DirectoryReplacedByRenameIsWatchedAgain) {
  TempDir d;
  const auto rules = d.path() / "rules";
  fs::create_directory(rules);
  fs::create_directory(d.path() / "rules.new");
  write_file(d.path() / "rules.new" / "marker.yaml", "x: 1\n");
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(rules).ok());
  ASSERT_TRUE(w.start().ok());

  // However the two renames fall into bursts, a call eventually sees the new directory.
  calls.expect([&] { return fs::exists(rules / "marker.yaml"); });
  fs::rename(rules, d.path() / "rules.old");
  fs::rename(d.path() / "rules.new", rules);
  ASSERT_TRUE(calls.wait_seen());

  const int before = calls.count();
  write_file(d.path() / "rules.old" / "stale.yaml", "x: 1\n");
  EXPECT_EQ(count_after_quiet(calls), before) << "the replaced directory is still watched";

  calls.expect([&] { return fs::exists(rules / "b.yaml"); });
  write_file(rules / "b.yaml", "x: 2\n");
  EXPECT_TRUE(calls.wait_seen());
}

TEST(FileWatch, MissingDirectoryIsWatchedOnceCreated) {
  TempDir d;
  const auto holidays = d.path() / "conf" / "holidays";
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(holidays).ok());
  ASSERT_TRUE(w.start().ok());

  calls.expect([&] { return fs::exists(holidays); });
  fs::create_directories(holidays);
  ASSERT_TRUE(calls.wait_seen());

  calls.expect([&] { return fs::exists(holidays / "2026.yaml"); });
  write_file(holidays / "2026.yaml", "- 2026-01-01\n");
  EXPECT_TRUE(calls.wait_seen());
}

TEST(FileWatch, DirectorySharedWithAnAncestorWatchKeepsItsWatch) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  // rules/ is missing, so it waits through the config folder's own watch.
  ASSERT_TRUE(w.watch(d.path(), [](std::string_view n) { return n == "sotong.yaml"; }).ok());
  ASSERT_TRUE(w.watch(d.path() / "rules").ok());
  ASSERT_TRUE(w.start().ok());

  calls.expect([&] { return fs::exists(d.path() / "rules"); });
  fs::create_directory(d.path() / "rules");
  ASSERT_TRUE(calls.wait_seen());
  const int before = calls.count();
  EXPECT_EQ(count_after_quiet(calls), before) << "the config folder's watch was dropped";

  calls.expect([&] { return fs::exists(d.path() / "sotong.yaml"); });
  write_file(d.path() / "sotong.yaml", "x: 1\n");
  EXPECT_TRUE(calls.wait_seen());
}

TEST(FileWatch, ThrowingCallbackDoesNotEndTheWatch) {
  TempDir d;
  Calls calls;
  auto count = calls.callback();
  FileWatch w(
      [&] {
        count();
        throw std::runtime_error("reload failed");
      },
      kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());

  write_file(d.path() / "a.yaml", "x: 1\n");
  ASSERT_TRUE(calls.wait_count(1));
  write_file(d.path() / "a.yaml", "x: 2\n");
  EXPECT_TRUE(calls.wait_count(2));
}

TEST(FileWatch, StopReturnsPromptlyWhileIdle) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());
  std::this_thread::sleep_for(50ms);  // let the thread reach poll()

  const auto t0 = std::chrono::steady_clock::now();
  w.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(FileWatch, StopDuringABurstReturnsPromptlyWithoutCalling) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), 60s);
  ASSERT_TRUE(w.watch(d.path()).ok());
  ASSERT_TRUE(w.start().ok());
  write_file(d.path() / "a.yaml", "x: 1\n");
  std::this_thread::sleep_for(50ms);

  const auto t0 = std::chrono::steady_clock::now();
  w.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(calls.count(), 0);
}

TEST(FileWatch, WatchAfterStartIsRefused) {
  TempDir d;
  Calls calls;
  FileWatch w(calls.callback(), kQuiet);
  ASSERT_TRUE(w.start().ok());
  EXPECT_FALSE(w.watch(d.path()).ok());
  EXPECT_FALSE(w.start().ok());
}

}  // namespace
}  // namespace sotong
