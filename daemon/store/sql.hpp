// The store's statement and transaction helpers, shared by the files that hold its
// transactions (store.cpp, store_hook.cpp, store_notify.cpp). Internal to the store.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "daemon/store/db.hpp"

namespace sotong::store_sql {

// A statement on the store's connection; forwards to db::Statement so the transactions
// below read the same for both engines. Bind indexes are 1-based.
class Stmt {
 public:
  Stmt(db::Connection& c, std::string_view sql) : s_(c.prepare(sql)) {}
  bool ok() const { return s_->ok(); }
  std::string error() const { return s_->error(); }
  template <class T>
  Stmt& bind(int i, const T& v) {
    s_->bind(i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    s_->bind_null(i);
    return *this;
  }
  bool step() { return s_->step(); }
  Status run() { return s_->run(); }
  std::string text(int col) const { return s_->text(col); }
  int64_t i64(int col) const { return s_->i64(col); }
  bool is_null(int col) const { return s_->is_null(col); }

 private:
  std::unique_ptr<db::Statement> s_;
};

// Rolls back unless commit() succeeded: every early return leaves nothing half-written.
// Inside the store thread's group transaction it is a savepoint.
class Transaction {
 public:
  explicit Transaction(db::Connection& c) : c_(c) {
    auto s = c_.begin();
    begun_ = s.ok();
    if (!begun_) error_ = s.error();
  }
  ~Transaction() {
    if (begun_ && !done_) c_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool begun() const { return begun_; }
  const std::string& error() const { return error_; }
  Status commit() {
    if (auto s = c_.commit(); !s) return s;
    done_ = true;
    return Status::Ok();
  }

 private:
  db::Connection& c_;
  bool begun_ = false;
  bool done_ = false;
  std::string error_;
};

// Runs an INSERT of one row (`sql` without RETURNING; `bind` binds its parameters) and gives
// the new row's id. SQLite runs RETURNING through a temporary table, which cost more than the
// insert itself on the ingest path; its own rowid is free.
template <class Bind>
Result<int64_t> insert_id(db::Connection& db, std::string_view sql, Bind&& bind) {
  const bool returning = db.dialect() != db::Dialect::kSqlite;
  const std::string text = returning ? std::string(sql) + " RETURNING id" : std::string(sql);
  Stmt s(db, text);
  bind(s);
  if (!returning) {
    if (auto st = s.run(); !st) return Error{st.error()};
    return db.last_insert_id();
  }
  if (!s.step()) return Error{s.ok() ? std::string("no row inserted") : s.error()};
  const int64_t id = s.i64(0);
  if (auto st = s.run(); !st) return Error{st.error()};
  return id;
}

// Takes a pending row of `table` (outbox, notifications) for `claimant` until now + lease,
// unless another instance holds it (PostgreSQL: FOR UPDATE SKIP LOCKED); true when taken.
inline Result<bool> claim_row(db::Connection& db, std::string_view table, int64_t id,
                              const std::string& claimant, int64_t now_ms, int64_t lease_ms) {
  const std::string t(table);
  Stmt s(db,
         "UPDATE " + t + " SET claimed_by = ?2, claimed_until = ?3 WHERE id = (SELECT id FROM " +
             t +
             " WHERE id = ?1 AND state = 'pending' AND (claimed_until <= ?4 OR claimed_by = ?2) "
             "FOR UPDATE SKIP LOCKED) RETURNING id");
  s.bind(1, id).bind(2, claimant).bind(3, now_ms + lease_ms).bind(4, now_ms);
  const bool won = s.step();
  if (!s.ok()) return Error{"claim in " + t + ": " + s.error()};
  return won;
}

}  // namespace sotong::store_sql
