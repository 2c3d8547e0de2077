// The store thread: group commit (many jobs, one transaction, answers only after the commit),
// a failing job rolled back alone, and the store's health through a real write fault (a file
// size limit on this process, so SQLite's writes fail as on a full disk).
#include "daemon/store_thread.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <set>

#include "sqlite_count.hpp"
#include "temp_dir.hpp"

namespace sotong {
namespace {

namespace asio = boost::asio;
using test_support::count_rows;
using test_support::TempDir;

Mention mention(int i) {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.id = std::to_string(1000 + i);
  m.author = "citizen" + std::to_string(i);
  m.author_acct = m.author + "@example.org";
  m.author_id = std::to_string(i);
  m.text = "가로등이 꺼졌어요 " + std::to_string(i);
  m.language = "ko";
  return m;
}

Decision lights() {
  Decision d;
  d.department = "roads";
  d.category = "streetlight";
  d.rule = "streetlight";
  return d;
}

struct Outcome {
  bool ok = false;
  std::string number;
  std::string error;
  bool visible_to_others = false;  // committed when the answer arrived
};

// Ingests `n` mentions at once from coroutines on one loop; mention `fail_at` gets a reply
// template that fails to render.
std::vector<Outcome> ingest_burst(StoreThread& st, const std::filesystem::path& db, int n,
                                  int fail_at = -1, int first = 0) {
  asio::io_context ioc;
  std::vector<Outcome> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          KeyedDraftFn draft = [i, fail_at](const TicketRow& t,
                                            const std::string&) -> Result<ReplyDraft> {
            if (i == fail_at) return Error{"template failed"};
            return ReplyDraft{"@" + t.author_acct + " " + t.number, "ko"};
          };
          auto job = [m = mention(first + i), draft](Store& s) {
            return s.ingest(m, lights(), IngestOptions{}, draft, 1'790'000'000'000);
          };
          auto r = co_await st.run(std::move(job));
          auto& o = out[static_cast<std::size_t>(i)];
          o.ok = r.ok();
          if (!r) {
            o.error = r.error();
            co_return;
          }
          o.number = r->ticket_number;
          const std::string sql = "SELECT count(*) FROM tickets WHERE number = '" + o.number + "'";
          o.visible_to_others = count_rows(db, sql.c_str()) == 1;
        },
        asio::detached);
  }
  ioc.run();
  return out;
}

TEST(StoreThread, ABurstIsCommittedInGroupsAndAnsweredOnlyOnceDurable) {
  TempDir dir;
  const auto db = dir.path() / "s.db";
  auto store = Store::open(db.string(), "SP");
  ASSERT_TRUE(store.ok()) << store.error();
  StoreThread st(std::move(*store));
  auto out = ingest_burst(st, db, 200);
  std::set<std::string> numbers;
  for (const auto& o : out) {
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_TRUE(o.visible_to_others) << o.number << " was answered before it was committed";
    numbers.insert(o.number);
  }
  EXPECT_EQ(numbers.size(), 200u);
  const auto stats = st.stats();
  EXPECT_EQ(stats.jobs, 200u);
  EXPECT_GT(stats.groups, 0u) << "200 jobs queued at once should share transactions";
  EXPECT_LT(stats.groups, 200u);
  EXPECT_EQ(stats.group_failures, 0u);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM tickets"), 200);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM outbox"), 200);
}

TEST(StoreThread, AFailingJobRollsBackAloneInsideItsGroup) {
  TempDir dir;
  const auto db = dir.path() / "s.db";
  auto store = Store::open(db.string(), "SP");
  ASSERT_TRUE(store.ok()) << store.error();
  StoreThread st(std::move(*store));
  auto out = ingest_burst(st, db, 50, 17);
  for (int i = 0; i < 50; ++i) {
    const auto& o = out[static_cast<std::size_t>(i)];
    if (i == 17) {
      EXPECT_FALSE(o.ok);
      EXPECT_NE(o.error.find("template failed"), std::string::npos) << o.error;
    } else {
      EXPECT_TRUE(o.ok) << o.error;
    }
  }
  EXPECT_GT(st.stats().groups, 0u);
  // Mention 17 left nothing behind: no ticket, no reply, not even "seen" (it is read again).
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM tickets"), 49);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM outbox"), 49);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM mentions_seen WHERE mention_id = '1017'"), 0);
}

TEST(StoreThread, WithoutGroupsEveryJobCommitsAlone) {
  TempDir dir;
  const auto db = dir.path() / "s.db";
  auto store = Store::open(db.string(), "SP");
  ASSERT_TRUE(store.ok()) << store.error();
  StoreThread st(std::move(*store), StoreThreadOptions{1, std::chrono::milliseconds(1000)});
  auto out = ingest_burst(st, db, 40);
  for (const auto& o : out) EXPECT_TRUE(o.ok && o.visible_to_others) << o.error;
  EXPECT_EQ(st.stats().groups, 0u);
  EXPECT_EQ(st.stats().jobs, 40u);
}

// Lowers this process's file size limit so that SQLite's next writes past the files' current
// ends fail (EFBIG, as a full disk fails them), and lifts it again on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // a write fails instead of killing us
    rlimit r = saved_;
    r.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &r);
  }
  ~FileSizeLimit() { lift(); }
  void lift() {
    if (lifted_) return;
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
    lifted_ = true;
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
  bool lifted_ = false;
};

TEST(StoreThread, AWriteFaultMarksTheStoreFailingAndAProbeWriteHealsIt) {
  TempDir dir;
  const auto db = dir.path() / "s.db";
  auto store = Store::open(db.string(), "SP");
  ASSERT_TRUE(store.ok()) << store.error();
  StoreThread st(std::move(*store), StoreThreadOptions{64, std::chrono::milliseconds(50)});
  std::atomic<int> changes{0};
  st.on_health_change([&](bool, db::Fault) { ++changes; });
  ASSERT_TRUE(ingest_burst(st, db, 1)[0].ok);
  const auto before = count_rows(db, "SELECT count(*) FROM tickets");

  std::vector<Outcome> during;
  {
    FileSizeLimit limit(std::filesystem::file_size(db));
    // The WAL may still have room from earlier writes: write until it runs out.
    for (int round = 0; round < 50 && st.healthy(); ++round) {
      auto out = ingest_burst(st, db, 20, -1, 100 + round * 20);
      during.insert(during.end(), out.begin(), out.end());
    }
    EXPECT_FALSE(st.healthy()) << "writes past the file size limit should have failed";
    limit.lift();
  }
  // Nothing half-written: every ticket committed has its reply queued, and each answer given
  // as a success is in the store.
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM tickets"),
            count_rows(db, "SELECT count(*) FROM outbox"));
  int64_t answered_ok = 0;
  for (const auto& o : during) answered_ok += o.ok ? 1 : 0;
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM tickets"), before + answered_ok);

  // The thread probes while idle and finds the store writable again.
  for (int i = 0; i < 100 && !st.healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(st.healthy());
  EXPECT_GE(changes.load(), 2);
  auto after = ingest_burst(st, db, 5, -1, 5000);
  for (const auto& o : after) EXPECT_TRUE(o.ok) << o.error;
}

}  // namespace
}  // namespace sotong
