// The SQLite Connection: the embedded default. WAL with synchronous=FULL, so a committed
// ticket survives a power cut before its reply is posted.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "daemon/store/db.hpp"

namespace sotong::db {
namespace {

// How long a writer waits for a lock held by another connection (a backup, an admin's sqlite3).
constexpr int kBusyTimeoutMs = 5000;

Fault classify(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Fault::kNone;
    case SQLITE_FULL:
      return Fault::kFull;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Fault::kReadOnly;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Fault::kIo;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Fault::kBusy;
    case SQLITE_CONSTRAINT:
      return Fault::kConstraint;
    default:
      return Fault::kOther;
  }
}

class SqliteConnection;

class SqliteStatement final : public Statement {
 public:
  SqliteStatement(SqliteConnection& conn, sqlite3* db, std::string_view sql);
  ~SqliteStatement() override;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  Statement& bind(int i, const std::string& s) override {
    if (ok())
      track(sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, int64_t v) override {
    if (ok()) track(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& bind_null(int i) override {
    if (ok()) track(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  bool step() override {
    if (!ok() || done_) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      done_ = true;
      return false;
    }
    track(rc);
    return false;
  }
  bool ok() const override { return rc_ == SQLITE_OK; }
  std::string error() const override { return error_; }
  Fault fault() const override { return classify(rc_); }
  std::string text(int col) const override {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t i64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  void track(int rc);

  SqliteConnection& conn_;
  sqlite3* db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  bool done_ = false;
  std::string error_;
};

// Checkpoints the WAL into the database file on a thread and connection of its own, so a
// commit never waits for one. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold: copying a thousand pages and syncing the file stalled the store
// thread for tens of milliseconds every few dozen mentions, a stall every acknowledgement
// queued behind it felt.
class Checkpointer {
 public:
  // Past this many WAL pages the store asks for a checkpoint (SQLite's default threshold).
  static constexpr int kPages = 1000;
  // Far past it (the thread fell behind, about 80 MB of WAL) a commit checkpoints itself.
  static constexpr int kInlinePages = 20 * kPages;

  static std::unique_ptr<Checkpointer> start(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      sqlite3_close_v2(db);
      return nullptr;  // the commits then checkpoint inline, past kInlinePages
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    // A connection learns the file is in WAL mode, and opens the WAL, at its first read;
    // until then a checkpoint on it does nothing at all.
    if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
        SQLITE_OK) {
      sqlite3_close_v2(db);
      return nullptr;
    }
    return std::unique_ptr<Checkpointer>(new Checkpointer(db));
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    sqlite3_close_v2(db_);
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // From the store's commits (SQLite's WAL hook).
  void poke() {
    {
      std::lock_guard lock(mutex_);
      due_ = true;
    }
    wake_.notify_one();
  }

 private:
  explicit Checkpointer(sqlite3* db) : db_(db), thread_([this] { loop(); }) {}
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return due_ || stopping_; });
      if (stopping_) return;
      due_ = false;
      lock.unlock();
      // PASSIVE: copies what no reader still needs, never waits for the writer. A failure
      // (a full disk) leaves the pages in the WAL for the next try.
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
    checkpointer_.reset();  // its connection closes first: the last one checkpoints fully
    sqlite3_close_v2(db_);
  }

  // Hands checkpoints to a thread of their own (replaces SQLite's automatic checkpoint).
  void checkpoint_in_background(const std::string& path) {
    checkpointer_ = Checkpointer::start(path);
    sqlite3_wal_hook(db_, &SqliteConnection::on_wal, this);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  int64_t last_insert_id() const override { return sqlite3_last_insert_rowid(db_); }
  int64_t work_steps() const override { return work_steps_; }
  std::unique_ptr<Statement> prepare(std::string_view sql) override {
    return std::make_unique<SqliteStatement>(*this, db_, sql);
  }
  Status exec(std::string_view sql) override {
    // One statement (BEGIN, SAVEPOINT, RELEASE ...) runs from the cache like any other.
    if (sql.find(';') == std::string_view::npos) {
      SqliteStatement one(*this, db_, sql);
      while (one.step()) {
      }
      if (!one.ok()) return Error{one.error()};
      return Status::Ok();
    }
    const std::string s(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      note(rc);
      return Error{msg};
    }
    return Status::Ok();
  }
  Status begin() override {
    // A savepoint outside a transaction would start one of its own and commit alone.
    if (depth_ > 0 && !in_transaction()) return Error{"begin: the transaction was rolled back"};
    const std::string sql =
        depth_ == 0 ? std::string("BEGIN IMMEDIATE") : "SAVEPOINT s" + std::to_string(depth_);
    if (auto s = exec(sql); !s) return Error{"begin: " + s.error()};
    ++depth_;
    return Status::Ok();
  }
  Status commit() override {
    if (depth_ == 0) return Error{"commit without a transaction"};
    const std::string sql =
        depth_ == 1 ? std::string("COMMIT") : "RELEASE SAVEPOINT s" + std::to_string(depth_ - 1);
    if (auto s = exec(sql); !s) return Error{"commit failed: " + s.error()};
    --depth_;
    return Status::Ok();
  }
  void rollback() override {
    if (depth_ == 0) return;
    const std::string name = "s" + std::to_string(depth_ - 1);
    const std::string sql = depth_ == 1
                                ? std::string("ROLLBACK")
                                : "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name;
    sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    --depth_;
    // A failed COMMIT may have ended the transaction already; never leave one open.
    if (depth_ == 0 && !sqlite3_get_autocommit(db_))
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  int depth() const override { return depth_; }
  bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }

  Result<int> schema_version() override {
    SqliteStatement s(*this, db_, "PRAGMA user_version");
    if (!s.step()) return Error{s.error()};
    return static_cast<int>(s.i64(0));
  }
  Status set_schema_version(int v) override {
    return exec("PRAGMA user_version=" + std::to_string(v));
  }

  Fault last_fault() const override { return last_; }
  Fault take_environmental_fault() override {
    const Fault f = environmental_;
    environmental_ = Fault::kNone;
    return f;
  }

  static int on_wal(void* self, sqlite3* db, const char* name, int pages) {
    auto* c = static_cast<SqliteConnection*>(self);
    if (pages >= Checkpointer::kInlinePages || (pages >= Checkpointer::kPages && !c->checkpointer_))
      sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    else if (pages >= Checkpointer::kPages)
      c->checkpointer_->poke();
    return SQLITE_OK;
  }

  // A prepared statement for `sql`: an idle one from the cache, else a new one.
  int acquire(const std::string& sql, sqlite3_stmt** stmt) {
    if (auto it = idle_.find(sql); it != idle_.end()) {
      *stmt = it->second;
      idle_.erase(it);
      return SQLITE_OK;
    }
    return sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, stmt, nullptr);
  }
  // Back to the cache, reset, unless one for the same SQL is idle already (a statement
  // nested in a loop over its own kind) or the cache is full (SQL built from filters).
  void release(std::string&& sql, sqlite3_stmt* stmt) {
    if (!stmt) return;
    work_steps_ += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (idle_.size() < kMaxIdle && !idle_.contains(sql)) {
      idle_.emplace(std::move(sql), stmt);
      return;
    }
    sqlite3_finalize(stmt);
  }

  void note(int rc) {
    last_ = classify(rc);
    if (is_environmental(last_)) environmental_ = last_;
  }

 private:
  // The store runs the same few dozen statements for every mention: parsing them each time
  // cost more than the writes did.
  static constexpr std::size_t kMaxIdle = 256;
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
  std::unique_ptr<Checkpointer> checkpointer_;
  sqlite3* db_;
  int depth_ = 0;
  int64_t work_steps_ = 0;
  Fault last_ = Fault::kNone;
  Fault environmental_ = Fault::kNone;
};

SqliteStatement::SqliteStatement(SqliteConnection& conn, sqlite3* db, std::string_view sql)
    : conn_(conn), db_(db), sql_(sql) {
  track(conn_.acquire(sql_, &stmt_));
}

SqliteStatement::~SqliteStatement() {
  conn_.release(std::move(sql_), stmt_);
}

void SqliteStatement::track(int rc) {
  if (rc == SQLITE_OK) return;
  rc_ = rc;
  error_ = sqlite3_errmsg(db_);
  conn_.note(rc);
}

}  // namespace

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path) {
  // Allocation counters take a global mutex per malloc; nothing reads them. Before SQLite
  // initialises, or not at all (then SQLITE_MISUSE, harmless).
  static std::once_flag config;
  std::call_once(config, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  // NOMUTEX: a Connection is used by one thread at a time (db.hpp), so SQLite's own locking
  // per call is not needed.
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error{"cannot open store " + path + ": " + msg};
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // synchronous=FULL: a reply is posted only after its ticket is on disk. temp_store=MEMORY:
  // each job of a group commit is a savepoint, and its sub-journal (what rolls one job back)
  // would otherwise spill to a temporary file, one write(2) per page touched.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
    if (auto s = conn->exec(pragma); !s) return Error{path + ": " + s.error()};
  }
  auto check = conn->prepare("PRAGMA quick_check");
  if (check->step() && check->text(0) != "ok")
    return Error{path + ": the store is damaged (quick_check: " + check->text(0) +
                 "); restore it from a backup (sotongd --backup makes one)"};
  if (!check->ok()) return Error{path + ": " + check->error()};
  check.reset();
  if (path != ":memory:" && !path.empty()) conn->checkpoint_in_background(path);
  return std::unique_ptr<Connection>(std::move(conn));
}

namespace {

// Closes a raw connection on scope exit (the backup uses two beside the Connection class).
struct RawDb {
  sqlite3* db = nullptr;
  ~RawDb() { sqlite3_close_v2(db); }
};

Status sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open " + path + " to sync it: " + std::strerror(errno)};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Error{"cannot sync " + path + ": " + std::strerror(errno)};
  return Status::Ok();
}

}  // namespace

Result<std::string> backup_sqlite(const std::string& source, const std::string& dest) {
  if (source == dest) return Error{"the backup must not overwrite the store itself"};
  RawDb src;
  if (sqlite3_open_v2(source.c_str(), &src.db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
    return Error{"cannot open store " + source + ": " + sqlite3_errmsg(src.db)};
  sqlite3_busy_timeout(src.db, kBusyTimeoutMs);
  const std::string partial = dest + ".partial";
  std::remove(partial.c_str());
  RawDb dst;
  if (sqlite3_open_v2(partial.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK)
    return Error{"cannot create " + partial + ": " + sqlite3_errmsg(dst.db)};
  sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
  if (!b) return Error{"cannot start the backup: " + std::string(sqlite3_errmsg(dst.db))};
  // One step holds one read snapshot: the daemon's writes go on into the WAL meanwhile, and
  // the copy is the store as of the moment the step began.
  int rc = sqlite3_backup_step(b, -1);
  const int pages = sqlite3_backup_pagecount(b);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    std::remove(partial.c_str());
    return Error{"backup failed: " + std::string(sqlite3_errstr(rc))};
  }
  // A single self-contained file, checked before it replaces anything.
  std::string check;
  {
    SqliteConnection copy(dst.db);
    dst.db = nullptr;  // owned by `copy` now
    if (auto s = copy.exec("PRAGMA journal_mode=DELETE"); !s)
      return Error{partial + ": " + s.error()};
    auto q = copy.prepare("PRAGMA quick_check");
    if (!q->step() || q->text(0) != "ok") {
      std::remove(partial.c_str());
      return Error{"the copy failed its check: " + (q->ok() ? q->text(0) : q->error())};
    }
    auto n = copy.prepare("SELECT count(*) FROM tickets");
    check = n->step() ? std::to_string(n->i64(0)) + " tickets" : "no tickets table";
  }
  if (auto s = sync_path(partial, false); !s) return Error{s.error()};
  if (std::rename(partial.c_str(), dest.c_str()) != 0)
    return Error{"cannot rename " + partial + " to " + dest + ": " + std::strerror(errno)};
  auto dir = std::filesystem::path(dest).parent_path();
  if (auto s = sync_path(dir.empty() ? "." : dir.string(), true); !s) return Error{s.error()};
  return "backup of " + source + " written to " + dest + ": " + std::to_string(pages) + " pages, " +
         check;
}

}  // namespace sotong::db
