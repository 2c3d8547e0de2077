// The store's database connection behind one small interface, so the Store's transactions
// are written once for SQLite (embedded, the default) and PostgreSQL (several instances).
//
// SQL is written once, in the dialect both engines share: parameters are `?1`, `?2` ...
// (a PostgreSQL connection rewrites them to `$1` ...), `INSERT ... ON CONFLICT DO NOTHING`,
// `RETURNING`, no engine-specific functions. Where the engines differ the Store asks
// dialect().
//
// Errors carry a Fault so the daemon can tell a full disk or a lost server (wait and retry;
// nothing was written) from a bug (log it).
//
// Threading: a Connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/util/result.hpp"

namespace sotong::db {

enum class Dialect { kSqlite, kPostgres };

// Why a statement failed. kFull, kReadOnly, kIo and kUnavailable are the machine's trouble,
// not the data's: the write is refused whole and the same write may succeed later.
enum class Fault {
  kNone,
  kFull,         // disk (or quota, or file size limit) full
  kReadOnly,     // the file system or the server is read-only
  kIo,           // an I/O error
  kUnavailable,  // the server is gone (connection lost, shutting down)
  kBusy,         // a lock held elsewhere did not free in time
  kConstraint,   // a unique or check constraint
  kOther,        // a bug or bad SQL
};
const char* to_string(Fault f);
// Whether the fault is the environment's (space, permissions, server) rather than the data's.
bool is_environmental(Fault f);

// A prepared statement: bind, then step() through rows. The first step() runs it. Indexes
// are 1-based for bind() (as `?1`) and 0-based for columns. After a failed bind or step,
// ok() is false and error()/fault() say why; later calls do nothing.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual Statement& bind(int i, const std::string& s) = 0;
  virtual Statement& bind(int i, int64_t v) = 0;
  Statement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  virtual Statement& bind_null(int i) = 0;
  // True while there is a row; check ok() after the loop.
  virtual bool step() = 0;
  virtual bool ok() const = 0;
  virtual std::string error() const = 0;
  virtual Fault fault() const = 0;
  virtual std::string text(int col) const = 0;
  virtual int64_t i64(int col) const = 0;
  virtual bool is_null(int col) const = 0;
  // Runs to the end (for statements without rows, or when the rows do not matter).
  Status run() {
    while (step()) {
    }
    if (!ok()) return Error{error()};
    return Status::Ok();
  }
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  virtual std::unique_ptr<Statement> prepare(std::string_view sql) = 0;
  // The rowid of the last INSERT on this connection (SQLite); 0 where the engine has none
  // (PostgreSQL: use RETURNING).
  virtual int64_t last_insert_id() const { return 0; }
  // The engine's work so far, in virtual machine steps of the statements finished (SQLite; 0
  // elsewhere). A query that cannot seek by an index grows with the store; a test catches
  // that here long before a city's store is big enough to feel it.
  virtual int64_t work_steps() const { return 0; }
  // Runs one or more statements without parameters (schema, pragmas).
  virtual Status exec(std::string_view sql) = 0;

  // Transactions nest: the outermost begin() starts a transaction (SQLite: BEGIN IMMEDIATE,
  // so writers queue at the start rather than fail at commit), inner ones are savepoints.
  // commit() and rollback() end the innermost.
  virtual Status begin() = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  virtual int depth() const = 0;  // 0: no transaction open
  // The engine's own view: false once it rolled back by itself (SQLite on a full disk, a lost
  // PostgreSQL connection), even while depth() still counts the transaction.
  virtual bool in_transaction() const = 0;

  // The schema version this store is at (0: empty) and its update, inside a transaction.
  virtual Result<int> schema_version() = 0;
  virtual Status set_schema_version(int v) = 0;

  // The fault of the most recent failure on this connection (statements, begin, commit).
  virtual Fault last_fault() const = 0;
  // The most recent environmental fault since the last call, then forgotten (the store
  // thread's health check after each job).
  virtual Fault take_environmental_fault() = 0;
};

// Whether a store location is a PostgreSQL URL rather than an SQLite file's path.
inline bool is_postgres_url(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

// SQLite: WAL, synchronous=FULL, foreign keys, busy timeout; quick_check at open.
Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path);
// An online copy of a running store's SQLite file, consistent as of one moment: read in one
// pass while the daemon goes on writing (WAL), written to DEST.partial, checked, synced, then
// renamed over DEST. Returns a line for the admin (pages and tickets copied).
Result<std::string> backup_sqlite(const std::string& source, const std::string& dest);
// PostgreSQL from a libpq URL ("postgresql://user@host/db?..."). Reconnects when the server
// went away, at the next begin() or statement outside a transaction.
Result<std::unique_ptr<Connection>> open_postgres(const std::string& url);

}  // namespace sotong::db
