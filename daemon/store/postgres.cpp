// The PostgreSQL Connection over libpq. Statements run with PQexecParams, parameters and
// results as text, so the server infers every type from the SQL the Store shares with SQLite.
//
// A lost server: the statement that finds it fails with kUnavailable, and the next begin() or
// statement outside a transaction reconnects once (PQreset). A transaction open when the
// connection was lost is gone on the server; depth() drops to 0, and until the caller closes
// the levels it had open (rollback(), or commit(), which fails) or starts afresh with begin(),
// its statements fail rather than run on a new connection outside any transaction.
//
// A Statement refers to its Connection, which must outlive it.
#include "daemon/store/postgres.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/store/db.hpp"
#include "daemon/util/log.hpp"

namespace sotong::db {

namespace {

// Defaults placed before the URL in PQconnectdbParams, so the URL's own values win.
// A server that does not answer at all is given up after 5 s rather than libpq's forever.
constexpr const char* kConnectTimeoutSeconds = "5";
// Keepalive probes after 10 s idle, every 5 s, 3 unanswered: a vanished server (or the
// network to it) is noticed in about 25 s while the connection sits idle.
constexpr const char* kKeepalivesIdle = "10";
constexpr const char* kKeepalivesInterval = "5";
constexpr const char* kKeepalivesCount = "3";
// The same 25 s for a query sent into the void, which keepalives do not cover.
constexpr const char* kTcpUserTimeoutMs = "25000";
constexpr const char* kApplicationName = "sotongd";

// PQexecParams takes an int count; PostgreSQL itself stops at 65535 parameters.
constexpr int kMaxParameters = 65535;

struct ConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFree>;
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

// libpq's messages span lines ("...\n\tThis probably means..."); a log line wants one.
std::string one_line(const char* message) {
  std::string s;
  for (const char* p = message != nullptr ? message : ""; *p != '\0'; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (!space) {
      s += *p;
    } else if (!s.empty() && s.back() != ' ') {
      s += ' ';
    }
  }
  if (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "no message from libpq" : s;
}

// The server's own words without its DETAIL, which may quote the data (a citizen's name in
// a duplicate key), and with the SQLSTATE, which tells a reader the class at a glance.
std::string server_message(const PGresult* r) {
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  if (primary == nullptr) return one_line(PQresultErrorMessage(r));
  const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return one_line(primary) + " (SQLSTATE " + (sqlstate != nullptr ? sqlstate : "none") + ")";
}

// NOTICEs ("relation already exists, skipping") and lower are chatter; WARNINGs are logged.
void on_notice(void* /*arg*/, const PGresult* r) {
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && std::strcmp(severity, "WARNING") == 0)
    log::warn("database server warning", {{"warning", server_message(r)}});
}

// What one round trip to the server came to.
struct Outcome {
  ResultPtr result;
  Fault fault = Fault::kNone;
  std::string error;
  bool ok() const { return fault == Fault::kNone; }
};

Outcome failure(Fault f, std::string message) {
  return {nullptr, f, std::move(message)};
}

Status status(Outcome o) {
  if (o.ok()) return Status::Ok();
  return Error{std::move(o.error)};
}

class PgConnection final : public Connection {
 public:
  PgConnection(ConnPtr conn, std::string where)
      : conn_(std::move(conn)), where_(std::move(where)) {}

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::unique_ptr<Statement> prepare(std::string_view sql) override;
  Status exec(std::string_view sql) override { return status(execute(std::string(sql), nullptr)); }

  Status begin() override;
  Status commit() override;
  void rollback() override;
  int depth() const override { return depth_; }
  bool in_transaction() const override {
    // In error, the transaction is still open but can only be rolled back.
    const auto t = conn_ ? PQtransactionStatus(conn_.get()) : PQTRANS_UNKNOWN;
    return t == PQTRANS_INTRANS || t == PQTRANS_ACTIVE;
  }

  Result<int> schema_version() override;
  Status set_schema_version(int v) override;

  Fault last_fault() const override { return last_fault_; }
  Fault take_environmental_fault() override {
    return std::exchange(environmental_fault_, Fault::kNone);
  }

  // Runs one statement; params == nullptr runs `sql` as a simple query (several statements
  // allowed, no parameters). Failures are noted on the connection.
  Outcome execute(const std::string& sql, const std::vector<std::optional<std::string>>* params);
  // Notes a failure found before the server was asked (a bad bind).
  void note_local_failure(Fault f) { note(failure(f, {})); }

 private:
  Outcome ready();
  Outcome checked(PGresult* raw);
  Outcome note(Outcome o);
  void connection_lost();
  Status ensure_schema_table();

  ConnPtr conn_;
  std::string where_;  // the redacted URL, for messages
  int depth_ = 0;
  // Transaction levels the caller still has open on a connection that was lost.
  int lost_levels_ = 0;
  Fault last_fault_ = Fault::kNone;
  Fault environmental_fault_ = Fault::kNone;
};

class PgStatement final : public Statement {
 public:
  PgStatement(PgConnection& conn, std::string sql, int parameters)
      : conn_(conn), sql_(std::move(sql)), params_(static_cast<size_t>(parameters)) {}

  Statement& bind(int i, const std::string& s) override { return set(i, s); }
  Statement& bind(int i, int64_t v) override { return set(i, std::to_string(v)); }
  Statement& bind_null(int i) override { return set(i, std::nullopt); }

  bool step() override {
    if (fault_ != Fault::kNone) return false;
    if (!ran_) {
      ran_ = true;
      auto o = conn_.execute(sql_, &params_);
      if (!o.ok()) {
        fault_ = o.fault;
        error_ = std::move(o.error);
        return false;
      }
      result_ = std::move(o.result);
      rows_ = PQresultStatus(result_.get()) == PGRES_TUPLES_OK ? PQntuples(result_.get()) : 0;
    }
    if (row_ < rows_) ++row_;
    return row_ < rows_;
  }

  bool ok() const override { return fault_ == Fault::kNone; }
  std::string error() const override { return error_; }
  Fault fault() const override { return fault_; }

  std::string text(int col) const override {
    if (!has(col) || PQgetisnull(result_.get(), row_, col)) return {};
    return {PQgetvalue(result_.get(), row_, col),
            static_cast<size_t>(PQgetlength(result_.get(), row_, col))};
  }

  int64_t i64(int col) const override {
    if (!has(col) || PQgetisnull(result_.get(), row_, col)) return 0;
    const char* v = PQgetvalue(result_.get(), row_, col);
    const int len = PQgetlength(result_.get(), row_, col);
    if (len == 1 && (v[0] == 't' || v[0] == 'f')) return v[0] == 't' ? 1 : 0;  // boolean
    int64_t out = 0;
    std::from_chars(v, v + len, out);  // "12.5" reads as 12, like SQLite's integer read
    return out;
  }

  bool is_null(int col) const override {
    return !has(col) || PQgetisnull(result_.get(), row_, col) != 0;
  }

 private:
  Statement& set(int i, std::optional<std::string> value) {
    if (fault_ != Fault::kNone) return *this;
    std::string problem;
    if (ran_) {
      problem = "bind after the statement ran";
    } else if (i < 1 || static_cast<size_t>(i) > params_.size()) {
      problem = "parameter ?" + std::to_string(i) + " is not in the statement";
    }
    if (!problem.empty()) {
      fault_ = Fault::kOther;
      error_ = std::move(problem);
      conn_.note_local_failure(fault_);
      return *this;
    }
    params_[static_cast<size_t>(i - 1)] = std::move(value);
    return *this;
  }

  bool has(int col) const {
    return result_ != nullptr && row_ >= 0 && row_ < rows_ && col >= 0 &&
           col < PQnfields(result_.get());
  }

  PgConnection& conn_;
  std::string sql_;
  std::vector<std::optional<std::string>> params_;  // unbound: NULL, as in SQLite
  bool ran_ = false;
  ResultPtr result_;
  int rows_ = 0;
  int row_ = -1;
  Fault fault_ = Fault::kNone;
  std::string error_;
};

std::unique_ptr<Statement> PgConnection::prepare(std::string_view sql) {
  int parameters = 0;
  std::string rewritten = pg::rewrite_parameters(sql, &parameters);
  return std::make_unique<PgStatement>(*this, std::move(rewritten),
                                       std::min(parameters, kMaxParameters));
}

// The session's own limits: the server gives up on a vanished client in about 25 s (its
// keepalives), and a transaction left open by one never holds rows that other instances
// wait on for longer than these.
bool apply_session_settings(PGconn* c) {
  PGresult* r = PQexec(c,
                       "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                       "SET tcp_keepalives_count = 3; "
                       "SET idle_in_transaction_session_timeout = '30s'; "
                       "SET lock_timeout = '10s'");
  const bool ok = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return ok;
}

// Whether a statement may go to the server now, reconnecting first if the connection is bad
// and no transaction is open.
Outcome PgConnection::ready() {
  if (lost_levels_ > 0)
    return failure(Fault::kUnavailable,
                   "the connection to PostgreSQL at " + where_ +
                       " was lost in a transaction, which the server rolled back; roll it back "
                       "before going on");
  if (PQstatus(conn_.get()) == CONNECTION_OK) return {};
  if (depth_ > 0) {
    connection_lost();
    return failure(Fault::kUnavailable,
                   "the connection to PostgreSQL at " + where_ + " was lost in a transaction");
  }
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) == CONNECTION_OK && !apply_session_settings(conn_.get()))
    return failure(Fault::kUnavailable, "cannot set up the PostgreSQL session at " + where_);
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    return failure(Fault::kUnavailable, "cannot reconnect to PostgreSQL at " + where_ + ": " +
                                            one_line(PQerrorMessage(conn_.get())));
  // Host, port and database from the live connection: the URL may hold a password.
  log::info("reconnected to the database", {{"host", PQhost(conn_.get())},
                                            {"port", PQport(conn_.get())},
                                            {"dbname", PQdb(conn_.get())}});
  return {};
}

Outcome PgConnection::execute(const std::string& sql,
                              const std::vector<std::optional<std::string>>* params) {
  if (auto o = ready(); !o.ok()) return note(std::move(o));
  PGresult* r = nullptr;
  if (params == nullptr) {
    r = PQexec(conn_.get(), sql.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& p : *params) values.push_back(p ? p->c_str() : nullptr);
    r = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                     values.data(), nullptr, nullptr, 0);
  }
  return note(checked(r));
}

Outcome PgConnection::checked(PGresult* raw) {
  ResultPtr r(raw);
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
    return {std::move(r), Fault::kNone, {}};
  std::string message = r ? server_message(r.get()) : one_line(PQerrorMessage(conn_.get()));
  if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
    message = "COPY is not supported here";
  if (PQstatus(conn_.get()) == CONNECTION_BAD) {
    connection_lost();
    return failure(Fault::kUnavailable,
                   "lost the connection to PostgreSQL at " + where_ + ": " + message);
  }
  const char* sqlstate = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  return failure(pg::classify_sqlstate(sqlstate != nullptr ? sqlstate : ""), std::move(message));
}

Outcome PgConnection::note(Outcome o) {
  if (!o.ok()) {
    last_fault_ = o.fault;
    if (is_environmental(o.fault)) environmental_fault_ = o.fault;
  }
  return o;
}

void PgConnection::connection_lost() {
  lost_levels_ += depth_;
  depth_ = 0;
}

Status PgConnection::begin() {
  lost_levels_ = 0;  // the caller starts afresh; whatever was lost is behind it
  auto o = execute(depth_ == 0 ? "BEGIN" : "SAVEPOINT s" + std::to_string(depth_), nullptr);
  if (!o.ok()) return Error{std::move(o.error)};
  ++depth_;
  return Status::Ok();
}

Status PgConnection::commit() {
  if (lost_levels_ > 0) {
    --lost_levels_;
    return status(note(failure(Fault::kUnavailable,
                               "the connection to PostgreSQL at " + where_ +
                                   " was lost in this transaction; the server rolled it back")));
  }
  if (depth_ == 0) return status(note(failure(Fault::kOther, "commit without a transaction")));
  if (depth_ > 1) {
    auto o = execute("RELEASE SAVEPOINT s" + std::to_string(depth_ - 1), nullptr);
    if (!o.ok()) return Error{std::move(o.error)};
    --depth_;
    return Status::Ok();
  }
  auto o = execute("COMMIT", nullptr);
  // A COMMIT ends the transaction whatever its outcome; this call closed the caller's level.
  depth_ = 0;
  if (lost_levels_ > 0) --lost_levels_;
  if (!o.ok()) return Error{std::move(o.error)};
  // The server answers COMMIT with ROLLBACK when an earlier statement had failed.
  if (std::strcmp(PQcmdStatus(o.result.get()), "ROLLBACK") == 0)
    return status(note(
        failure(Fault::kOther, "the transaction was rolled back: a statement in it had failed")));
  return Status::Ok();
}

void PgConnection::rollback() {
  if (lost_levels_ > 0) {
    --lost_levels_;
    return;
  }
  if (depth_ == 0) return;
  const int remaining = depth_ - 1;
  if (remaining == 0) {
    (void)execute("ROLLBACK", nullptr);
  } else {
    const std::string name = "s" + std::to_string(remaining);
    (void)execute("ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name, nullptr);
  }
  if (lost_levels_ > 0) {
    lost_levels_ = remaining;  // lost on the way: this level is closed, the outer ones are not
  } else {
    depth_ = remaining;
  }
}

Status PgConnection::ensure_schema_table() {
  // One round trip, one implicit transaction at depth 0: the table never exists without its row.
  return exec(
      "CREATE TABLE IF NOT EXISTS sotong_schema (version INTEGER NOT NULL);"
      "INSERT INTO sotong_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "
      "sotong_schema)");
}

Result<int> PgConnection::schema_version() {
  // Created only when missing, so a read-only transaction can still read it.
  auto exists = prepare("SELECT to_regclass('sotong_schema') IS NOT NULL");
  if (!exists->step()) return Error{"cannot read the schema version: " + exists->error()};
  if (exists->i64(0) == 0) {
    if (auto s = ensure_schema_table(); !s)
      return Error{"cannot create the schema version table: " + s.error()};
  }
  // max(): two instances creating the table at once may each have added a row.
  auto st = prepare("SELECT max(version) FROM sotong_schema");
  if (!st->step()) return Error{"cannot read the schema version: " + st->error()};
  return static_cast<int>(st->i64(0));
}

Status PgConnection::set_schema_version(int v) {
  if (auto s = ensure_schema_table(); !s)
    return Error{"cannot set the schema version: " + s.error()};
  auto st = prepare("UPDATE sotong_schema SET version = ?1");
  if (auto s = st->bind(1, v).run(); !s)
    return Error{"cannot set the schema version: " + s.error()};
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Connection>> open_postgres(const std::string& url) {
  const std::string where = pg::redact_url(url);
  if (url.empty()) return Error{"cannot connect to PostgreSQL: the URL is empty"};
  // Defaults first, then the URL expanded from dbname: later entries win (libpq's rule).
  const char* keywords[] = {"connect_timeout",           "keepalives",       "keepalives_idle",
                            "keepalives_interval",       "keepalives_count", "tcp_user_timeout",
                            "fallback_application_name", "dbname",           nullptr};
  const char* values[] = {kConnectTimeoutSeconds,
                          "1",
                          kKeepalivesIdle,
                          kKeepalivesInterval,
                          kKeepalivesCount,
                          kTcpUserTimeoutMs,
                          kApplicationName,
                          url.c_str(),
                          nullptr};
  ConnPtr conn(PQconnectdbParams(keywords, values, 1));
  if (conn == nullptr) return Error{"cannot connect to PostgreSQL at " + where + ": out of memory"};
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Error{"cannot connect to PostgreSQL at " + where + ": " +
                 pg::redact_message(one_line(PQerrorMessage(conn.get())), url)};
  PQsetNoticeReceiver(conn.get(), on_notice, nullptr);
  if (!apply_session_settings(conn.get()))
    return Error{"cannot set up the PostgreSQL session at " + where + ": " +
                 one_line(PQerrorMessage(conn.get()))};
  return std::unique_ptr<Connection>(std::make_unique<PgConnection>(std::move(conn), where));
}

}  // namespace sotong::db
