#include "store_snapshot.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <memory>

namespace sotong::test_support {

namespace {

// sotongd may be in the middle of a commit; a reader waits that long at most.
constexpr int kBusyTimeoutMs = 5000;

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;
using Stmt = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

std::string text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

// Runs `sql` and hands each row to `row`; false with the SQLite message on failure.
bool each_row(sqlite3* db, const char* sql, const std::function<void(sqlite3_stmt*)>& row,
              std::string* err) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    *err = std::string(sql) + ": " + sqlite3_errmsg(db);
    return false;
  }
  Stmt stmt(raw);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) row(stmt.get());
  if (rc != SQLITE_DONE) {
    *err = std::string(sql) + ": " + sqlite3_errmsg(db);
    return false;
  }
  return true;
}

}  // namespace

std::size_t StoreSnapshot::pending_outbox() const {
  return static_cast<std::size_t>(std::count_if(
      outbox.begin(), outbox.end(), [](const OutboxRecord& o) { return o.state == "pending"; }));
}

bool read_store(const std::filesystem::path& path, StoreSnapshot* out, std::string* err) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    *err = "open " + path.string() + ": " + (raw != nullptr ? sqlite3_errmsg(raw) : "no memory");
    return false;
  }
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  // One read transaction: the four tables as of one commit.
  if (sqlite3_exec(db.get(), "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    *err = std::string("begin: ") + sqlite3_errmsg(db.get());
    return false;
  }
  StoreSnapshot snap;
  bool ok =
      each_row(
          db.get(),
          "SELECT s.platform, s.account, s.mention_id, coalesce(t.number, ''), s.decision "
          "FROM mentions_seen s LEFT JOIN tickets t ON t.id = s.ticket_id",
          [&](sqlite3_stmt* s) {
            snap.seen.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), text(s, 4)});
          },
          err) &&
      each_row(
          db.get(),
          "SELECT number, platform, account, mention_id, status, hidden FROM tickets ORDER BY id",
          [&](sqlite3_stmt* s) {
            snap.tickets.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), text(s, 4),
                                    sqlite3_column_int(s, 5) != 0});
          },
          err) &&
      each_row(
          db.get(),
          "SELECT o.id, t.number, o.kind, o.account, o.in_reply_to_id, o.text, o.state, "
          "o.platform_post_id, o.attempts, o.last_error FROM outbox o JOIN tickets t ON "
          "t.id = o.ticket_id ORDER BY o.id",
          [&](sqlite3_stmt* s) {
            OutboxRecord o;
            o.id = sqlite3_column_int64(s, 0);
            o.ticket = text(s, 1);
            o.kind = text(s, 2);
            o.account = text(s, 3);
            o.in_reply_to_id = text(s, 4);
            o.text = text(s, 5);
            o.state = text(s, 6);
            o.platform_post_id = text(s, 7);
            o.attempts = sqlite3_column_int(s, 8);
            o.last_error = text(s, 9);
            snap.outbox.push_back(std::move(o));
          },
          err) &&
      each_row(
          db.get(),
          "SELECT t.number, e.kind FROM events e JOIN tickets t ON t.id = e.ticket_id ORDER BY "
          "e.id",
          [&](sqlite3_stmt* s) {
            snap.events.push_back({text(s, 0), text(s, 1)});
          },
          err);
  sqlite3_exec(db.get(), "COMMIT", nullptr, nullptr, nullptr);
  if (ok) *out = std::move(snap);
  return ok;
}

}  // namespace sotong::test_support
