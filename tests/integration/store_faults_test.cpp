// The store under real trouble, against the real sotongd and sandbox: a full disk (a small
// tmpfs of the test's own), an online backup while mentions arrive, and a second sotongd on
// one SQLite store. (A read-only remount is refused while sotongd holds the files open for
// writing; read-only faults are covered where the SQLite connection is tested.)
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../unit/sqlite_count.hpp"
#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A small tmpfs of the test's own; detached (lazily, so a running daemon does not hold it up)
// when the test ends.
class SmallFileSystem {
 public:
  SmallFileSystem(const fs::path& at, const char* size) : at_(at) {
    fs::create_directories(at);
    const std::string opts = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", at.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  SmallFileSystem(const SmallFileSystem&) = delete;
  SmallFileSystem& operator=(const SmallFileSystem&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  // Writes a filler file until the file system is full; returns the bytes written.
  std::size_t fill(const fs::path& filler) {
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    if (!f) return 0;
    std::string chunk(4096, 'x');
    std::size_t n = 0;
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size() && std::fflush(f) == 0)
      n += chunk.size();
    std::fclose(f);
    return n;
  }

 private:
  fs::path at_;
  bool mounted_ = false;
  std::string error_;
};

class StoreFaults : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  std::size_t replies_from_us() {
    std::size_t n = 0;
    for (const auto& p : f.posts())
      if (p.if_contains("in_reply_to_id") && p.at("in_reply_to_id").is_string()) ++n;
    return n;
  }
  Fixture f;
};

// Shared by the full-disk and read-only cases: trouble starts, intake and the hook stop
// (503 with Retry-After), nothing is half-written, the daemon keeps running, and once the
// trouble ends every mention is answered exactly once and the held-back close goes through.
void expect_failing_then_recovering(Fixture& f, SmallFileSystem& small, const fs::path& store,
                                    const std::function<void()>& cause,
                                    const std::function<void()>& cure) {
  std::vector<std::string> before;
  for (int i = 0; i < 3; ++i)
    before.push_back(
        f.mention("early" + std::to_string(i), "가로등이 꺼졌어요 " + std::to_string(i)));
  ASSERT_TRUE(f.wait_for_posts(3, seconds(20)));
  const std::string number = f.ticket_for_mention(before[0]);
  ASSERT_FALSE(number.empty());
  (void)small;

  cause();
  // Long texts, so the store needs new pages at once.
  std::vector<std::string> during;
  for (int i = 0; i < 12; ++i)
    during.push_back(f.mention("during" + std::to_string(i),
                               "보도블록이 깨져 있어요 " + std::string(300, 'a' + (i % 26))));
  bool failing = wait_until(
      [&] {
        auto h = http("GET", f.hook_port(), "/healthz");
        return h.status == 503 && h.body.find("\"store\":\"failing\"") != std::string::npos;
      },
      seconds(20));
  ASSERT_TRUE(failing) << "the store never reported failing";
  auto h = http("GET", f.hook_port(), "/healthz");
  EXPECT_EQ(h.headers["retry-after"], "8");

  // The hook refuses writes whole, and says when to come back.
  const auto& tokens = Fixture::department_tokens();
  std::string owner;
  for (const auto& [dept, tok] : tokens)
    if (f.hook("GET", "/v1/tickets/" + number, tok).status == 200) owner = dept;
  ASSERT_FALSE(owner.empty());
  auto close = f.hook("POST", "/v1/tickets/" + number + "/close", tokens.at(owner),
                      R"({"resolution":"가로등을 교체했습니다"})");
  EXPECT_EQ(close.status, 503) << close.body;
  EXPECT_EQ(close.headers["retry-after"], "8");
  EXPECT_NE(close.body.find("nothing was changed"), std::string::npos) << close.body;
  EXPECT_TRUE(f.daemon_running());

  // Nothing half-written: every ticket in the store has its acknowledgement queued.
  EXPECT_EQ(count_rows(store, "SELECT count(*) FROM tickets"),
            count_rows(store, "SELECT count(*) FROM outbox WHERE kind = 'ack'"));

  cure();
  // Back by itself: every mention made during the trouble is answered, once.
  ASSERT_TRUE(wait_until([&] { return f.replies_to(during.back()).size() == 1; }, seconds(30)))
      << "the daemon did not recover";
  close = f.hook("POST", "/v1/tickets/" + number + "/close", tokens.at(owner),
                 R"({"resolution":"가로등을 교체했습니다"})");
  EXPECT_EQ(close.status, 200) << close.body;
  ASSERT_TRUE(wait_until([&] { return f.replies_to(before[0]).size() == 2; }, seconds(20)));
  for (const auto& id : during) EXPECT_EQ(f.replies_to(id).size(), 1u) << id;
  for (std::size_t i = 1; i < before.size(); ++i) EXPECT_EQ(f.replies_to(before[i]).size(), 1u);
  EXPECT_TRUE(f.daemon_running());
  const auto log = f.read_log("sotongd.log");
  EXPECT_NE(log.find("store failing"), std::string::npos);
  EXPECT_NE(log.find("store takes writes again"), std::string::npos);
}

TEST_F(StoreFaults, AFullDiskStopsIntakeAndTheHookThenRecoversByItself) {
  const auto mnt = f.dir() / "small";
  SmallFileSystem small(mnt, "3m");
  if (!small.mounted()) GTEST_SKIP() << "cannot mount a small tmpfs here: " << small.error();
  f.start_sandbox();
  DaemonSettings s;
  s.store = (mnt / "sotong.db").string();
  // A full disk flaps (SQLite reuses the space its WAL already holds): a slow retry keeps the
  // failing window open long enough to look at.
  s.extra_yaml = "store_retry_seconds: 8\n";
  f.write_config(s);
  f.start_daemon();
  expect_failing_then_recovering(
      f, small, mnt / "sotong.db", [&] { ASSERT_GT(small.fill(mnt / "filler"), 0u); },
      [&] { fs::remove(mnt / "filler"); });
}

TEST_F(StoreFaults, ABackupTakenWhileMentionsArriveIsWholeAndRestores) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(f.mention("c" + std::to_string(i), "쓰레기 무단투기"));
  const auto backup = f.dir() / "backup.db";
  Process p(
      {SOTONGD_PATH, "--config", (f.dir() / "sotong.yaml").string(), "--backup", backup.string()},
      f.dir() / "backup.log");
  ASSERT_EQ(p.wait(seconds(30)), 0) << slurp(f.dir() / "backup.log");
  EXPECT_NE(slurp(f.dir() / "backup.log").find("written to " + backup.string()), std::string::npos);
  EXPECT_FALSE(fs::exists(backup.string() + ".partial"));
  for (int i = 10; i < 20; ++i)
    ids.push_back(f.mention("c" + std::to_string(i), "쓰레기 무단투기"));
  ASSERT_TRUE(wait_until([&] { return f.replies_to(ids.back()).size() == 1; }, seconds(20)));

  // One moment of the store: each ticket in the copy with its acknowledgement.
  const auto tickets = count_rows(backup, "SELECT count(*) FROM tickets");
  EXPECT_GE(tickets, 0);
  EXPECT_EQ(tickets, count_rows(backup, "SELECT count(*) FROM outbox WHERE kind = 'ack'"));
  EXPECT_EQ(tickets, count_rows(backup, "SELECT count(*) FROM mentions_seen"));
  EXPECT_EQ(count_rows(backup, "SELECT count(*) FROM pragma_quick_check WHERE quick_check = 'ok'"),
            1);

  // Restoring a copy taken when all was answered: the daemon goes on from it, and nothing is
  // answered twice. (A copy older than the last mentions would answer those again: restore
  // the newest.)
  Process again(
      {SOTONGD_PATH, "--config", (f.dir() / "sotong.yaml").string(), "--backup", backup.string()},
      f.dir() / "backup2.log");
  ASSERT_EQ(again.wait(seconds(30)), 0) << slurp(f.dir() / "backup2.log");
  ASSERT_EQ(f.stop_daemon(), 0);
  const auto store = f.dir() / "sotong.db";
  fs::remove(store.string() + "-wal");
  fs::remove(store.string() + "-shm");
  fs::copy_file(backup, store, fs::copy_options::overwrite_existing);
  f.start_daemon();
  ids.push_back(f.mention("after", "restored desk"));
  ASSERT_TRUE(wait_until([&] { return f.replies_to(ids.back()).size() == 1; }, seconds(20)));
  EXPECT_EQ(count_rows(store, "SELECT count(*) FROM tickets"), 21);
  for (const auto& id : ids) EXPECT_EQ(f.replies_to(id).size(), 1u) << id;
}

TEST_F(StoreFaults, ASecondSotongdOnTheSameSqliteStoreIsRefused) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  Process second({SOTONGD_PATH, "--config", (f.dir() / "sotong.yaml").string(), "--hook-port-file",
                  (f.dir() / "second.port").string()},
                 f.dir() / "second.log");
  EXPECT_EQ(second.wait(seconds(20)), 1);
  EXPECT_NE(slurp(f.dir() / "second.log").find("another sotongd is using the store"),
            std::string::npos)
      << slurp(f.dir() / "second.log");
  EXPECT_TRUE(f.daemon_running());
}

}  // namespace
}  // namespace sotong::test_support
