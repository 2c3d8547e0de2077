// Durable ingest, measured: N mentions ingested at once through the store thread, each with its
// durable commit before its answer, grouped (up to 64 jobs per transaction) and one
// transaction per mention. On SQLite also the engine's own ceiling: plain inserts of equal rows
// (ticket, mention seen, outbox reply, event) in batches of 64 per transaction, with the same
// pragmas (WAL, synchronous=FULL, foreign keys) and nothing else. All in the same run on the
// same disk, alternating; prints the median of R runs for each and the ratios.
// Usage: sotong-bench-store [DIR|postgresql://URL] [N=1000] [R=5] [only: grouped|alone|plain]
// (`only` runs one of the three, for a profiler.)
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "daemon/store/db.hpp"
#include "daemon/store_thread.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace {

namespace asio = boost::asio;
using namespace sotong;

Mention mention(int run, int i) {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.id = std::to_string(run) + "-" + std::to_string(i);
  // A backlog from many citizens: each under the per-author acknowledgement limit.
  m.author = "citizen" + std::to_string(i);
  m.author_acct = m.author + "@example.org";
  m.author_id = std::to_string(1000000 + i);
  m.text = "만리재로 193 앞 육교에 구멍이 났어요, 빨리 고쳐 주세요 " + std::to_string(i);
  m.language = "ko";
  return m;
}

// Seconds to ingest n mentions submitted at once; every one must succeed.
double run_once(const std::string& location, int group, int run, int n) {
  auto store = Store::open(location, "SP");
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().c_str());
    std::exit(1);
  }
  StoreThread st(std::move(*store), StoreThreadOptions{group, std::chrono::milliseconds(1000)});
  Decision d;
  d.department = "roads";
  d.category = "footbridge";
  d.rule = "footbridge";
  KeyedDraftFn draft = [](const TicketRow& t, const std::string&) -> Result<ReplyDraft> {
    return ReplyDraft{"@" + t.author_acct + " 접수번호 " + t.number, "ko"};
  };
  asio::io_context ioc;
  int failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          auto job = [m = mention(run, i), d, draft](Store& s) {
            IngestOptions o;
            o.author_ack_limit = 5;  // the daemon's default, so its query runs as in sotongd
            o.ticket_year = 2026;
            return s.ingest(m, d, o, draft, now_ms());
          };
          auto r = co_await st.run(std::move(job));
          if (!r) ++failed;
        },
        asio::detached);
  }
  ioc.run();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "%d ingests failed\n", failed);
    std::exit(1);
  }
  return secs;
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::fprintf(stderr, "baseline %s: %s\n", what, sqlite3_errmsg(db));
  std::exit(1);
}

// Rows per table of a store file, to check the baseline writes what the store writes.
std::string row_counts(const std::string& location) {
  sqlite3* db = nullptr;
  check(sqlite3_open_v2(location.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), db, "open");
  std::string out;
  for (const char* table :
       {"tickets", "mentions_seen", "outbox", "events", "thread_posts", "notifications"}) {
    sqlite3_stmt* st = nullptr;
    const std::string sql = std::string("SELECT count(*) FROM ") + table;
    check(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), db, "count");
    check(sqlite3_step(st), db, "count");
    out += std::string(table) + "=" + std::to_string(sqlite3_column_int64(st, 0)) + " ";
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

// The rows an ingest writes, as plain statements (?N: SQLite; PostgreSQL gets $N).
constexpr const char* kPlainRows[] = {
    "INSERT INTO ticket_sequence_by_prefix (prefix, year, last) VALUES ('', 2026, 1) "
    "ON CONFLICT (prefix, year) DO UPDATE SET last = ticket_sequence_by_prefix.last + 1",
    "INSERT INTO tickets (number, platform, account, mention_id, author, author_acct, text, "
    "language, visibility, department, category, priority, rule, status, created_at, "
    "updated_at, author_id) VALUES (?1, 'mastodon', 'songpa', ?2, ?3, ?4, ?5, 'ko', 0, "
    "'roads', 'footbridge', 1, 'footbridge', 'open', ?6, ?6, ?7)",
    "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?1, ?2, 'sotongd', "
    "'opened', 'rule=footbridge department=roads priority=normal')",
    "INSERT INTO thread_posts (platform, account, post_id, ticket_id) VALUES ('mastodon', "
    "'songpa', ?1, ?2)",
    "INSERT INTO outbox (ticket_id, kind, account, in_reply_to_id, author_acct, text, "
    "visibility, language, priority, idempotency_key, state, next_attempt_at, created_at) "
    "VALUES (?1, 'ack', 'songpa', ?2, ?3, ?4, 0, 'ko', 1, ?5, 'pending', ?6, ?6)",
    "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?1, ?2, 'sotongd', "
    "'ack_queued', ?3)",
    "INSERT INTO mentions_seen (platform, account, mention_id, ticket_id, decision, seen_at) "
    "VALUES ('mastodon', 'songpa', ?1, ?2, 'ticket', ?3)"};

// Seconds to write n mentions' rows in transactions of `batch`, into a store made by
// Store::open (the same schema and indexes), with the same pragmas the store sets: the rows
// an ingest writes (the ticket, its number's sequence, the "opened" event, the mention as a
// post of the thread, the acknowledgement in the outbox with its event, the mention seen),
// as plain prepared inserts with nothing else.
double plain_inserts(const std::string& location, int run, int n, int batch) {
  {
    auto made = Store::open(location, "SP");
    if (!made) {
      std::fprintf(stderr, "%s\n", made.error().c_str());
      std::exit(1);
    }
  }
  sqlite3* db = nullptr;
  // One thread, as the store's connection: no locking per call.
  check(
      sqlite3_open_v2(location.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr),
      db, "open");
  for (const char* p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                        "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"})
    check(sqlite3_exec(db, p, nullptr, nullptr, nullptr), db, p);
  const auto& sql = kPlainRows;
  constexpr int kStatements = sizeof sql / sizeof sql[0];
  sqlite3_stmt* st[kStatements] = {};
  for (int i = 0; i < kStatements; ++i)
    check(sqlite3_prepare_v2(db, sql[i], -1, &st[i], nullptr), db, sql[i]);
  auto text = [](sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  auto step = [&](sqlite3_stmt* s, const char* what) {
    check(sqlite3_step(s), db, what);
    sqlite3_reset(s);
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (i % batch == 0)
      check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    const Mention m = mention(run, i);
    const int64_t now = now_ms();
    step(st[0], "sequence");
    const std::string number = "SP-2026-" + std::to_string(100000 + i);
    text(st[1], 1, number);
    text(st[1], 2, m.id);
    text(st[1], 3, m.author);
    text(st[1], 4, m.author_acct);
    text(st[1], 5, m.text);
    sqlite3_bind_int64(st[1], 6, now);
    text(st[1], 7, m.author_id);
    step(st[1], "ticket");
    const int64_t ticket = sqlite3_last_insert_rowid(db);
    sqlite3_bind_int64(st[2], 1, ticket);
    sqlite3_bind_int64(st[2], 2, now);
    step(st[2], "opened");
    text(st[3], 1, m.id);
    sqlite3_bind_int64(st[3], 2, ticket);
    step(st[3], "thread post");
    sqlite3_bind_int64(st[4], 1, ticket);
    text(st[4], 2, m.id);
    text(st[4], 3, m.author_acct);
    text(st[4], 4, "@" + m.author_acct + " 접수번호 " + number);
    text(st[4], 5, number + "-ack-0123456789abcdef");
    sqlite3_bind_int64(st[4], 6, now);
    step(st[4], "outbox");
    const int64_t outbox = sqlite3_last_insert_rowid(db);
    sqlite3_bind_int64(st[5], 1, ticket);
    sqlite3_bind_int64(st[5], 2, now);
    text(st[5], 3, "outbox=" + std::to_string(outbox) + " template=ack");
    step(st[5], "ack queued");
    text(st[6], 1, m.id);
    sqlite3_bind_int64(st[6], 2, ticket);
    sqlite3_bind_int64(st[6], 3, now);
    step(st[6], "seen");
    if (i % batch == batch - 1 || i == n - 1)
      check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto* s : st) sqlite3_finalize(s);
  sqlite3_close(db);
  return secs;
}

void check_pg(PGresult* r, PGconn* c, const char* what) {
  const auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    PQclear(r);
    return;
  }
  std::fprintf(stderr, "baseline %s: %s\n", what, PQerrorMessage(c));
  std::exit(1);
}

// The bench's PostgreSQL database is a throwaway one: emptied before each run.
void wipe_pg(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "cannot connect: %s\n", PQerrorMessage(c));
    std::exit(1);
  }
  check_pg(PQexec(c,
                  "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                  "CREATE SCHEMA public"),
           c, "wipe");
  PQfinish(c);
}

// The PostgreSQL twin of plain_inserts: the same rows, prepared once, 64 per transaction.
double plain_inserts_pg(const std::string& url, int run, int n, int batch) {
  wipe_pg(url);
  {
    auto made = Store::open(url, "SP");
    if (!made) {
      std::fprintf(stderr, "%s\n", made.error().c_str());
      std::exit(1);
    }
  }
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "cannot connect: %s\n", PQerrorMessage(c));
    std::exit(1);
  }
  // The same statements: $N for ?N, and the ticket's and the reply's ids read back.
  std::vector<std::string> sql;
  for (const char* q : kPlainRows) {
    std::string t = std::regex_replace(q, std::regex(R"(\?(\d+))"), "$$$1");
    if (t.starts_with("INSERT INTO tickets") || t.starts_with("INSERT INTO outbox"))
      t += " RETURNING id";
    sql.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < sql.size(); ++i)
    check_pg(PQprepare(c, ("s" + std::to_string(i)).c_str(), sql[i].c_str(), 0, nullptr), c,
             sql[i].c_str());
  // Runs prepared statement k with text parameters; gives the first column of its row, if any.
  auto exec = [&](int k, std::vector<std::string> params) {
    std::vector<const char*> v;
    for (const auto& p : params) v.push_back(p.c_str());
    PGresult* r = PQexecPrepared(c, ("s" + std::to_string(k)).c_str(), static_cast<int>(v.size()),
                                 v.data(), nullptr, nullptr, 0);
    std::string first =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    check_pg(r, c, sql[k].c_str());
    return first;
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (i % batch == 0) check_pg(PQexec(c, "BEGIN"), c, "begin");
    const Mention m = mention(run, i);
    const std::string now = std::to_string(now_ms());
    exec(0, {});
    const std::string number = "SP-2026-" + std::to_string(100000 + i);
    const std::string ticket =
        exec(1, {number, m.id, m.author, m.author_acct, m.text, now, m.author_id});
    exec(2, {ticket, now});
    exec(3, {m.id, ticket});
    const std::string outbox =
        exec(4, {ticket, m.id, m.author_acct, "@" + m.author_acct + " 접수번호 " + number,
                 number + "-ack-0123456789abcdef", now});
    exec(5, {ticket, now, "outbox=" + outbox + " template=ack"});
    exec(6, {m.id, ticket, now});
    if (i % batch == batch - 1 || i == n - 1) check_pg(PQexec(c, "COMMIT"), c, "commit");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PQfinish(c);
  return secs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string where = argc > 1 ? argv[1] : std::filesystem::temp_directory_path().string();
  const int n = argc > 2 ? std::stoi(argv[2]) : 1000;
  const int runs = argc > 3 ? std::stoi(argv[3]) : 5;
  const std::string only = argc > 4 ? argv[4] : "";
  auto wanted = [&](const char* what) { return only.empty() || only == what; };
  sotong::log::setup(sotong::log::Level::warn, sotong::log::Format::logfmt);
  const bool pg = db::is_postgres_url(where);
  std::vector<double> grouped, alone, plain;
  auto file = [&](const std::string& name) {
    const auto location = (std::filesystem::path(where) / name).string();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
    return location;
  };
  auto remove = [](const std::string& location) {
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
  };
  std::string plain_rows, ingest_rows;
  for (int r = 0; r < runs; ++r) {
    // Alternate, so drift on the machine touches all alike. A fresh store per run.
    if (wanted("plain")) {
      if (pg) {
        plain.push_back(n / plain_inserts_pg(where, r, n, 64));
      } else {
        const auto location = file("sotong-bench-plain-" + std::to_string(r) + ".db");
        plain.push_back(n / plain_inserts(location, r, n, 64));
        plain_rows = row_counts(location);
        remove(location);
      }
    }
    for (int group : {1, 64}) {
      if (!wanted(group > 1 ? "grouped" : "alone")) continue;
      std::string location = where;
      if (pg)
        wipe_pg(where);
      else
        location = file("sotong-bench-" + std::to_string(group) + "-" + std::to_string(r) + ".db");
      const double s = run_once(location, group, r * 2 + (group > 1), n);
      (group > 1 ? grouped : alone).push_back(n / s);
      if (!pg) {
        ingest_rows = row_counts(location);
        remove(location);
      }
    }
  }
  // The baseline is only fair if it writes what an ingest writes.
  if (!plain_rows.empty() && !ingest_rows.empty() && plain_rows != ingest_rows) {
    std::fprintf(stderr,
                 "the baseline's rows differ from the store's:\n  plain:  %s\n  store:  %s\n",
                 plain_rows.c_str(), ingest_rows.c_str());
    return 1;
  }
  if (!only.empty()) {
    const auto& v = only == "plain" ? plain : only == "grouped" ? grouped : alone;
    if (v.empty()) {
      std::fprintf(stderr, "nothing measured for %s\n", only.c_str());
      return 2;
    }
    std::printf("%s: %.0f mentions/s (median of %d runs)\n", only.c_str(), median(v), runs);
    return 0;
  }
  const double g = median(grouped), a = median(alone);
  std::printf("%s, %d mentions at once, median of %d runs:\n", pg ? "PostgreSQL" : "SQLite", n,
              runs);
  std::printf("  one transaction per mention (baseline): %8.0f mentions/s\n", a);
  std::printf("  group commit (up to 64 per transaction): %8.0f mentions/s  (%.1fx)\n", g, g / a);
  if (!plain.empty()) {
    const double p = median(plain);
    const char* engine = pg ? "PostgreSQL" : "SQLite";
    std::printf(
        "  plain inserts of the same rows, 64 per transaction (engine baseline): %8.0f "
        "mentions/s\n",
        p);
    if (!ingest_rows.empty()) std::printf("  rows written by each: %s\n", ingest_rows.c_str());
    std::printf("  durable ingest / baseline: %.0f%%\n", 100.0 * g / p);
    std::printf(
        "row: durable ingest, %s (%d at once) | %.0f mentions/s | plain inserts %.0f/s | "
        "%.0f%% | %s\n",
        engine, n, g, p, 100.0 * g / p, pg ? "-" : ">= 75%");
  }
  return 0;
}
