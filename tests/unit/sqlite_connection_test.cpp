// The SQLite Connection: faults classified, nested transactions as savepoints, a transaction
// the engine ended by itself noticed, and the online backup while a writer goes on.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/store.hpp"
#include "daemon/store/db.hpp"
#include "temp_dir.hpp"

namespace sotong::db {
namespace {

using test_support::TempDir;

std::unique_ptr<Connection> open_at(const TempDir& dir, const char* name = "c.db") {
  auto c = open_sqlite((dir.path() / name).string());
  EXPECT_TRUE(c.ok()) << c.error();
  auto conn = std::move(*c);
  EXPECT_TRUE(conn->exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER)").ok());
  return conn;
}

int64_t count(Connection& c) {
  auto s = c.prepare("SELECT count(*) FROM t");
  return s->step() ? s->i64(0) : -1;
}

TEST(SqliteConnection, AReadOnlyStoreIsAnEnvironmentalFault) {
  TempDir dir;
  auto c = open_at(dir);
  ASSERT_TRUE(c->exec("PRAGMA query_only=1").ok());
  auto s = c->prepare("INSERT INTO t (k, v) VALUES (?1, ?2)");
  s->bind(1, std::string("a")).bind(2, 1);
  EXPECT_FALSE(s->run().ok());
  EXPECT_EQ(s->fault(), Fault::kReadOnly);
  EXPECT_EQ(c->last_fault(), Fault::kReadOnly);
  EXPECT_EQ(c->take_environmental_fault(), Fault::kReadOnly);
  EXPECT_EQ(c->take_environmental_fault(), Fault::kNone) << "taken once";
}

TEST(SqliteConnection, AConstraintIsTheDatasFaultNotTheMachines) {
  TempDir dir;
  auto c = open_at(dir);
  ASSERT_TRUE(c->exec("INSERT INTO t VALUES ('a', 1)").ok());
  auto s = c->prepare("INSERT INTO t (k, v) VALUES ('a', 2)");
  EXPECT_FALSE(s->run().ok());
  EXPECT_EQ(s->fault(), Fault::kConstraint);
  EXPECT_EQ(c->take_environmental_fault(), Fault::kNone);
  EXPECT_FALSE(is_environmental(Fault::kConstraint));
  EXPECT_TRUE(is_environmental(Fault::kFull));
}

TEST(SqliteConnection, InnerTransactionsAreSavepoints) {
  TempDir dir;
  auto c = open_at(dir);
  ASSERT_TRUE(c->begin().ok());
  ASSERT_TRUE(c->exec("INSERT INTO t VALUES ('outer', 1)").ok());
  ASSERT_TRUE(c->begin().ok());
  EXPECT_EQ(c->depth(), 2);
  ASSERT_TRUE(c->exec("INSERT INTO t VALUES ('inner', 2)").ok());
  c->rollback();
  EXPECT_EQ(c->depth(), 1);
  EXPECT_TRUE(c->in_transaction());
  ASSERT_TRUE(c->begin().ok());
  ASSERT_TRUE(c->exec("INSERT INTO t VALUES ('kept', 3)").ok());
  ASSERT_TRUE(c->commit().ok());
  ASSERT_TRUE(c->commit().ok());
  EXPECT_EQ(c->depth(), 0);
  EXPECT_FALSE(c->in_transaction());
  EXPECT_EQ(count(*c), 2);
}

TEST(SqliteConnection, ASavepointIsRefusedOnceTheTransactionIsGone) {
  TempDir dir;
  auto c = open_at(dir);
  ASSERT_TRUE(c->begin().ok());
  // The engine ending the transaction by itself (as on a full disk) looks like this.
  ASSERT_TRUE(c->exec("ROLLBACK").ok());
  EXPECT_FALSE(c->in_transaction());
  auto inner = c->begin();
  EXPECT_FALSE(inner.ok()) << "a savepoint here would start and commit a transaction alone";
  c->rollback();
  EXPECT_EQ(c->depth(), 0);
}

TEST(SqliteBackup, ACopyTakenWhileAWriterGoesOnIsWholeAndChecked) {
  TempDir dir;
  const auto path = (dir.path() / "s.db").string();
  {
    auto store = Store::open(path, "SP");
    ASSERT_TRUE(store.ok()) << store.error();
  }
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    auto store = Store::open(path, "SP");
    ASSERT_TRUE(store.ok());
    Decision d;
    d.department = "roads";
    DraftFn ack = [](const TicketRow& t) -> Result<ReplyDraft> {
      return ReplyDraft{"접수 " + t.number, "ko"};
    };
    for (int i = 0; !stop; ++i) {
      Mention m;
      m.platform = "mastodon";
      m.account = "songpa";
      m.id = std::to_string(i);
      m.author_acct = "c@example.org";
      m.text = std::string(500, 'x');
      ASSERT_TRUE((*store)->ingest(m, d, ack, 1'790'000'000'000).ok());
      ++written;
    }
  });
  while (written < 50) std::this_thread::yield();
  const auto copy = (dir.path() / "copy.db").string();
  auto line = backup_sqlite(path, copy);
  stop = true;
  writer.join();
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_NE(line->find("tickets"), std::string::npos) << *line;
  auto c = open_sqlite(copy);
  ASSERT_TRUE(c.ok()) << c.error();
  auto q = (*c)->prepare(
      "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM outbox), "
      "(SELECT count(*) FROM mentions_seen)");
  ASSERT_TRUE(q->step());
  EXPECT_GE(q->i64(0), 50);
  EXPECT_EQ(q->i64(0), q->i64(1)) << "each ticket with its acknowledgement";
  EXPECT_EQ(q->i64(0), q->i64(2));
  EXPECT_FALSE(std::filesystem::exists(copy + ".partial"));
  EXPECT_FALSE(backup_sqlite(path, path).ok()) << "never over the store itself";
}

}  // namespace
}  // namespace sotong::db
