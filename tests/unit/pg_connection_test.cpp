// The PostgreSQL Connection against a real server (ctest's "pg" fixture): parameters,
// values, transactions, the schema version, faults and reconnecting. Each test has an empty
// schema of its own (PgTest).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "daemon/store/db.hpp"
#include "pg_support.hpp"

namespace sotong {
namespace {

using db::Fault;
using test_support::PgTest;

// Lets a failed Status show its message.
testing::AssertionResult Ok(const Status& s) {
  if (s.ok()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << s.error();
}

// Runs a one-row, one-column query and returns its text ("" and a test failure otherwise).
std::string scalar(db::Connection& c, const std::string& sql) {
  auto st = c.prepare(sql);
  if (!st->step()) {
    ADD_FAILURE() << sql << ": " << (st->ok() ? "no row" : st->error());
    return {};
  }
  return st->text(0);
}

int64_t backend_pid(db::Connection& c) {
  return std::stoll(scalar(c, "SELECT pg_backend_pid()"));
}

class PgConnectionTest : public PgTest {
 protected:
  void make_items() {
    ASSERT_TRUE(Ok(
        conn().exec("CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE, n BIGINT)")));
  }
  int64_t count_items() { return std::stoll(scalar(conn(), "SELECT count(*) FROM items")); }

  // Ends the backend behind conn() from a second connection, as an administrator would.
  void terminate_backend() {
    const int64_t pid = backend_pid(conn());
    auto other = db::open_postgres(schema_->url());
    ASSERT_TRUE(other.ok()) << other.error();
    auto st = (*other)->prepare("SELECT pg_terminate_backend(?1, 5000)");
    ASSERT_TRUE(st->bind(1, pid).step()) << st->error();
    ASSERT_EQ(st->text(0), "t");
  }
};

TEST_F(PgConnectionTest, SaysItIsPostgres) {
  EXPECT_EQ(conn().dialect(), db::Dialect::kPostgres);
}

TEST_F(PgConnectionTest, UrlPutsTablesInTheTestsOwnSchema) {
  EXPECT_EQ(scalar(conn(), "SHOW search_path"), schema_->name());
}

TEST_F(PgConnectionTest, NumberedParametersMayRepeat) {
  auto st = conn().prepare("SELECT ?1::text, ?2::text, ?1::text || ?2::text");
  st->bind(1, std::string("a")).bind(2, std::string("b"));
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->text(0), "a");
  EXPECT_EQ(st->text(1), "b");
  EXPECT_EQ(st->text(2), "ab");
  EXPECT_FALSE(st->step());
  EXPECT_TRUE(st->ok());
}

TEST_F(PgConnectionTest, TenthParameterIsNotTheFirstFollowedByZero) {
  std::string sql = "SELECT ";
  for (int i = 1; i <= 10; ++i) sql += (i > 1 ? ", ?" : "?") + std::to_string(i) + "::bigint";
  auto st = conn().prepare(sql);
  for (int i = 1; i <= 10; ++i) st->bind(i, int64_t{100} + i);
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->i64(0), 101);
  EXPECT_EQ(st->i64(9), 110);
}

TEST_F(PgConnectionTest, QuestionMarksInLiteralsAndIdentifiersAreLeftAlone) {
  auto st = conn().prepare(
      "SELECT '?1 it''s ?2', E'\\'?1', ?1::text, \"x?1\".\"?2\" "
      "FROM (SELECT 7 AS \"?2\") AS \"x?1\" -- ?3 in a comment\n");
  st->bind(1, std::string("bound"));
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->text(0), "?1 it's ?2");
  EXPECT_EQ(st->text(1), "'?1");
  EXPECT_EQ(st->text(2), "bound");
  EXPECT_EQ(st->i64(3), 7);
}

TEST_F(PgConnectionTest, TextRoundTripsIncludingUtf8) {
  make_items();
  const std::string name = "Ça roule? 東京の🚌 — ünïcödé";
  auto ins = conn().prepare("INSERT INTO items (name) VALUES (?1)");
  ASSERT_TRUE(Ok(ins->bind(1, name).run()));
  auto st = conn().prepare("SELECT name, length(name) FROM items");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->text(0), name);
  EXPECT_EQ(st->i64(1), 24);  // characters, so the server took the bytes as UTF-8
}

TEST_F(PgConnectionTest, OneMegabyteTextRoundTrips) {
  ASSERT_TRUE(Ok(conn().exec("CREATE TABLE bodies (body TEXT)")));  // no index: it caps row size
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('a' + (i / 1000) % 26);
  auto ins = conn().prepare("INSERT INTO bodies (body) VALUES (?1)");
  ASSERT_TRUE(Ok(ins->bind(1, big).run()));
  auto st = conn().prepare("SELECT body FROM bodies");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->text(0), big);
}

TEST_F(PgConnectionTest, Int64ExtremesRoundTrip) {
  make_items();
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  auto ins = conn().prepare("INSERT INTO items (name, n) VALUES (?1, ?2)");
  ASSERT_TRUE(Ok(ins->bind(1, std::string("lo")).bind(2, lo).run()));
  ins = conn().prepare("INSERT INTO items (name, n) VALUES (?1, ?2)");
  ASSERT_TRUE(Ok(ins->bind(1, std::string("hi")).bind(2, hi).run()));
  auto st = conn().prepare("SELECT n FROM items ORDER BY n");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->i64(0), lo);
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->i64(0), hi);
  EXPECT_FALSE(st->step());
  EXPECT_TRUE(st->ok());
}

TEST_F(PgConnectionTest, NullBindsAndReadsAsNull) {
  make_items();
  auto ins = conn().prepare("INSERT INTO items (name, n) VALUES (?1, ?2)");
  ASSERT_TRUE(Ok(ins->bind(1, std::string("a")).bind_null(2).run()));
  auto st = conn().prepare("SELECT n, name FROM items");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_TRUE(st->is_null(0));
  EXPECT_FALSE(st->is_null(1));
  EXPECT_EQ(st->i64(0), 0);
  EXPECT_EQ(st->text(0), "");
}

TEST_F(PgConnectionTest, UnboundParameterIsNull) {
  auto st = conn().prepare("SELECT ?1::text IS NULL");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->i64(0), 1);
}

TEST_F(PgConnectionTest, BooleansReadAsOneAndZero) {
  auto st = conn().prepare("SELECT true, false");
  ASSERT_TRUE(st->step()) << st->error();
  EXPECT_EQ(st->i64(0), 1);
  EXPECT_EQ(st->i64(1), 0);
}

TEST_F(PgConnectionTest, StatementWithoutRowsStepsToFalseAndIsOk) {
  make_items();
  auto st = conn().prepare("INSERT INTO items (name) VALUES ('a')");
  EXPECT_FALSE(st->step());
  EXPECT_TRUE(st->ok()) << st->error();
  EXPECT_FALSE(st->step());
  EXPECT_EQ(count_items(), 1);
}

TEST_F(PgConnectionTest, InsertReturningGivesTheNewId) {
  make_items();
  auto first = conn().prepare("INSERT INTO items (name) VALUES (?1) RETURNING id");
  ASSERT_TRUE(first->bind(1, std::string("a")).step()) << first->error();
  auto second = conn().prepare("INSERT INTO items (name) VALUES (?1) RETURNING id");
  ASSERT_TRUE(second->bind(1, std::string("b")).step()) << second->error();
  EXPECT_GT(first->i64(0), 0);
  EXPECT_EQ(second->i64(0), first->i64(0) + 1);
}

TEST_F(PgConnectionTest, OnConflictDoNothingKeepsTheFirstRow) {
  make_items();
  for (int i = 0; i < 2; ++i) {
    auto st = conn().prepare(
        "INSERT INTO items (name, n) VALUES ('a', ?1) ON CONFLICT DO NOTHING RETURNING id");
    const bool row = st->bind(1, i).step();
    EXPECT_TRUE(st->ok()) << st->error();
    EXPECT_EQ(row, i == 0);  // RETURNING gives no row when nothing was inserted
  }
  EXPECT_EQ(count_items(), 1);
  EXPECT_EQ(scalar(conn(), "SELECT n FROM items"), "0");
}

TEST_F(PgConnectionTest, ExecRunsSeveralStatements) {
  ASSERT_TRUE(
      Ok(conn().exec("CREATE TABLE a (x INT); CREATE TABLE b (y INT); INSERT INTO a VALUES (1)")));
  EXPECT_EQ(scalar(conn(), "SELECT count(*) FROM a, b"), "0");
}

TEST_F(PgConnectionTest, NoticesAreNotPrinted) {
  testing::internal::CaptureStderr();
  ASSERT_TRUE(Ok(conn().exec("CREATE TABLE IF NOT EXISTS quiet (x INT)")));
  ASSERT_TRUE(Ok(conn().exec("CREATE TABLE IF NOT EXISTS quiet (x INT)")));  // NOTICE: skipping
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST_F(PgConnectionTest, RolledBackSavepointLeavesTheOuterTransactionToCommit) {
  make_items();
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('outer')")));
  ASSERT_TRUE(Ok(conn().begin()));
  EXPECT_EQ(conn().depth(), 2);
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('inner')")));
  conn().rollback();
  EXPECT_EQ(conn().depth(), 1);
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('kept')")));
  ASSERT_TRUE(Ok(conn().commit()));
  EXPECT_EQ(conn().depth(), 1);
  ASSERT_TRUE(Ok(conn().commit()));
  EXPECT_EQ(conn().depth(), 0);
  EXPECT_EQ(scalar(conn(), "SELECT string_agg(name, ',' ORDER BY id) FROM items"), "outer,kept");
}

TEST_F(PgConnectionTest, FailedStatementInASavepointCanBeRolledBack) {
  make_items();
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('b')")));
  ASSERT_TRUE(Ok(conn().begin()));
  EXPECT_FALSE(conn().exec("INSERT INTO items (name) VALUES ('a')"));
  conn().rollback();
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('c')")));
  ASSERT_TRUE(Ok(conn().commit()));
  EXPECT_EQ(count_items(), 3);
}

TEST_F(PgConnectionTest, RollbackDiscardsTheTransaction) {
  make_items();
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  conn().rollback();
  EXPECT_EQ(conn().depth(), 0);
  EXPECT_EQ(count_items(), 0);
}

TEST_F(PgConnectionTest, CommitAfterAFailedStatementFails) {
  make_items();
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('b')")));
  EXPECT_FALSE(conn().exec("INSERT INTO items (name) VALUES ('a')"));
  const Status s = conn().commit();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().find("rolled back"), std::string::npos) << s.error();
  EXPECT_EQ(conn().depth(), 0);
  EXPECT_EQ(count_items(), 1);
}

TEST_F(PgConnectionTest, SchemaVersionStartsAtZeroAndRoundTrips) {
  auto v = conn().schema_version();
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 0);
  ASSERT_TRUE(Ok(conn().set_schema_version(3)));
  v = conn().schema_version();
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 3);
  EXPECT_EQ(scalar(conn(), "SELECT count(*) FROM sotong_schema"), "1");
}

TEST_F(PgConnectionTest, SchemaVersionFollowsItsTransaction) {
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().set_schema_version(5)));
  auto v = conn().schema_version();
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 5);
  conn().rollback();
  v = conn().schema_version();
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, 0);
}

TEST_F(PgConnectionTest, UniqueViolationIsAConstraintFault) {
  make_items();
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  auto st = conn().prepare("INSERT INTO items (name) VALUES (?1)");
  EXPECT_FALSE(st->bind(1, std::string("a")).step());
  EXPECT_FALSE(st->ok());
  EXPECT_EQ(st->fault(), Fault::kConstraint);
  EXPECT_NE(st->error().find("duplicate key"), std::string::npos) << st->error();
  EXPECT_EQ(conn().last_fault(), Fault::kConstraint);
  EXPECT_EQ(conn().take_environmental_fault(), Fault::kNone);
}

TEST_F(PgConnectionTest, WriteInAReadOnlyTransactionIsAReadOnlyFault) {
  make_items();
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("SET TRANSACTION READ ONLY")));
  auto st = conn().prepare("INSERT INTO items (name) VALUES ('a')");
  EXPECT_FALSE(st->step());
  EXPECT_EQ(st->fault(), Fault::kReadOnly) << st->error();
  conn().rollback();
  EXPECT_EQ(conn().take_environmental_fault(), Fault::kReadOnly);
  EXPECT_EQ(conn().take_environmental_fault(), Fault::kNone);  // taken once
}

TEST_F(PgConnectionTest, LockNotAvailableIsABusyFault) {
  make_items();
  auto other = db::open_postgres(schema_->url());
  ASSERT_TRUE(other.ok()) << other.error();
  ASSERT_TRUE(Ok((*other)->begin()));
  ASSERT_TRUE(Ok((*other)->exec("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")));
  ASSERT_TRUE(Ok(conn().exec("SET lock_timeout = '100ms'")));
  auto st = conn().prepare("SELECT count(*) FROM items");
  EXPECT_FALSE(st->step());
  EXPECT_EQ(st->fault(), Fault::kBusy) << st->error();
  EXPECT_EQ(conn().take_environmental_fault(), Fault::kNone);
  (*other)->rollback();
}

TEST_F(PgConnectionTest, TerminatedBackendIsUnavailableAndTheNextStatementReconnects) {
  const int64_t before = backend_pid(conn());
  terminate_backend();
  auto st = conn().prepare("SELECT 1");
  EXPECT_FALSE(st->step());
  EXPECT_EQ(st->fault(), Fault::kUnavailable) << st->error();
  EXPECT_EQ(conn().take_environmental_fault(), Fault::kUnavailable);

  auto again = conn().prepare("SELECT pg_backend_pid()");
  ASSERT_TRUE(again->step()) << again->error();
  EXPECT_NE(again->i64(0), before);
  EXPECT_EQ(scalar(conn(), "SHOW search_path"), schema_->name());  // same settings
}

TEST_F(PgConnectionTest, TransactionLostWithItsConnectionIsNotContinuedOnANewOne) {
  make_items();
  ASSERT_TRUE(Ok(conn().begin()));
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  terminate_backend();
  EXPECT_FALSE(conn().exec("INSERT INTO items (name) VALUES ('b')"));
  EXPECT_EQ(conn().last_fault(), Fault::kUnavailable);
  EXPECT_EQ(conn().depth(), 0);
  // Still the caller's transaction: no reconnect, no autocommitted leftovers.
  EXPECT_FALSE(conn().exec("INSERT INTO items (name) VALUES ('c')"));
  EXPECT_EQ(conn().last_fault(), Fault::kUnavailable);
  conn().rollback();
  EXPECT_EQ(count_items(), 0);
}

TEST_F(PgConnectionTest, BeginAfterALostConnectionReconnects) {
  make_items();
  terminate_backend();
  EXPECT_FALSE(conn().exec("SELECT 1"));
  ASSERT_TRUE(Ok(conn().begin()));  // reconnected
  ASSERT_TRUE(Ok(conn().exec("INSERT INTO items (name) VALUES ('a')")));
  ASSERT_TRUE(Ok(conn().commit()));
  EXPECT_EQ(count_items(), 1);
}

TEST_F(PgConnectionTest, BindOutsideTheStatementFails) {
  auto st = conn().prepare("SELECT ?1::text");
  st->bind(2, std::string("x"));
  EXPECT_FALSE(st->ok());
  EXPECT_FALSE(st->step());
  EXPECT_NE(st->error().find("?2"), std::string::npos) << st->error();
}

TEST(PgOpen, UnreachableServerFailsQuicklyWithAClearMessage) {
  const auto start = std::chrono::steady_clock::now();
  auto c = db::open_postgres(
      "postgresql:///postgres?host=/nonexistent/sotong-sock&port=54329&user=postgres&"
      "password=hunter2");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("cannot connect to PostgreSQL"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("/nonexistent/sotong-sock"), std::string::npos) << c.error();
  EXPECT_EQ(c.error().find("hunter2"), std::string::npos) << c.error();
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(PgOpen, MalformedUrlDoesNotEchoThePassword) {
  auto c = db::open_postgres("postgresql://user:hunter2@[::1/db");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().find("hunter2"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace sotong
