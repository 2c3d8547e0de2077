// Durable ingest, measured: N mentions ingested at once through the store thread, each with its
// durable commit before its answer, grouped (up to 64 jobs per transaction) and one
// transaction per mention. On SQLite also the engine's own ceiling: plain inserts of equal rows
// (ticket, mention seen, outbox reply, event) in batches of 64 per transaction, with the same
// pragmas (WAL, synchronous=FULL, foreign keys) and nothing else. All in the same run on the
// same disk, alternating; prints the median of R runs for each and the ratios.
// Usage: sotong-bench-store [DIR|postgresql://URL] [N=1000] [R=5]
#include <sqlite3.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
  m.author = "citizen" + std::to_string(i % 97);
  m.author_acct = m.author + "@example.org";
  m.author_id = std::to_string(i % 97);
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
            return s.ingest(m, d, IngestOptions{}, draft, now_ms());
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

// Seconds to insert n mentions' rows in transactions of `batch`, into a store made by
// Store::open (the same schema and indexes), with the same pragmas the store sets.
double plain_inserts(const std::string& location, int run, int n, int batch) {
  {
    auto made = Store::open(location, "SP");
    if (!made) {
      std::fprintf(stderr, "%s\n", made.error().c_str());
      std::exit(1);
    }
  }
  sqlite3* db = nullptr;
  check(sqlite3_open(location.c_str(), &db), db, "open");
  for (const char* p :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"})
    check(sqlite3_exec(db, p, nullptr, nullptr, nullptr), db, p);
  const char* sql[] = {
      "INSERT INTO tickets (number, platform, account, mention_id, author, author_acct, text, "
      "language, visibility, department, category, priority, rule, status, created_at, "
      "updated_at, author_id) VALUES (?1, 'mastodon', 'songpa', ?2, ?3, ?4, ?5, 'ko', 0, "
      "'roads', 'footbridge', 1, 'footbridge', 'open', ?6, ?6, ?7)",
      "INSERT INTO mentions_seen (platform, account, mention_id, ticket_id, decision, seen_at) "
      "VALUES ('mastodon', 'songpa', ?1, ?2, 'ticket', ?3)",
      "INSERT INTO outbox (ticket_id, kind, account, in_reply_to_id, author_acct, text, "
      "visibility, language, priority, idempotency_key, state, next_attempt_at, created_at) "
      "VALUES (?1, 'ack', 'songpa', ?2, ?3, ?4, 0, 'ko', 1, ?5, 'pending', ?6, ?6)",
      "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?1, ?2, 'sotong', "
      "'opened', ?3)"};
  sqlite3_stmt* st[4] = {};
  for (int i = 0; i < 4; ++i)
    check(sqlite3_prepare_v2(db, sql[i], -1, &st[i], nullptr), db, sql[i]);
  auto text = [](sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (i % batch == 0)
      check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    const Mention m = mention(run, i);
    const int64_t now = now_ms();
    const std::string number = "SP-2026-" + std::to_string(100000 + i);
    text(st[0], 1, number);
    text(st[0], 2, m.id);
    text(st[0], 3, m.author);
    text(st[0], 4, m.author_acct);
    text(st[0], 5, m.text);
    sqlite3_bind_int64(st[0], 6, now);
    text(st[0], 7, m.author_id);
    check(sqlite3_step(st[0]), db, "ticket");
    const int64_t ticket = sqlite3_last_insert_rowid(db);
    text(st[1], 1, m.id);
    sqlite3_bind_int64(st[1], 2, ticket);
    sqlite3_bind_int64(st[1], 3, now);
    check(sqlite3_step(st[1]), db, "seen");
    sqlite3_bind_int64(st[2], 1, ticket);
    text(st[2], 2, m.id);
    text(st[2], 3, m.author_acct);
    text(st[2], 4, "@" + m.author_acct + " 접수번호 " + number);
    text(st[2], 5, "sotong-" + number);
    sqlite3_bind_int64(st[2], 6, now);
    check(sqlite3_step(st[2]), db, "outbox");
    sqlite3_bind_int64(st[3], 1, ticket);
    sqlite3_bind_int64(st[3], 2, now);
    text(st[3], 3, "rule footbridge → roads");
    check(sqlite3_step(st[3]), db, "event");
    for (auto* s : st) sqlite3_reset(s);
    if (i % batch == batch - 1 || i == n - 1)
      check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto* s : st) sqlite3_finalize(s);
  sqlite3_close(db);
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
  sotong::log::setup(sotong::log::Level::warn, sotong::log::Format::logfmt);
  const bool pg = db::is_postgres_url(where);
  std::vector<double> grouped, alone, plain;
  for (int r = 0; r < runs; ++r) {
    if (!pg) {
      const auto location =
          (std::filesystem::path(where) / ("sotong-bench-plain-" + std::to_string(r) + ".db"))
              .string();
      for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
      plain.push_back(n / plain_inserts(location, r, n, 64));
      for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
    }
    // Alternate, so drift on the machine touches all alike. A fresh SQLite file per run.
    for (int group : {1, 64}) {
      std::string location = where;
      if (!pg) {
        location = (std::filesystem::path(where) /
                    ("sotong-bench-" + std::to_string(group) + "-" + std::to_string(r) + ".db"))
                       .string();
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
      }
      const double s = run_once(location, group, r * 2 + (group > 1), n);
      (group > 1 ? grouped : alone).push_back(n / s);
      if (!pg)
        for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(location + ext);
    }
  }
  const double g = median(grouped), a = median(alone);
  std::printf("%s, %d mentions at once, median of %d runs:\n", pg ? "PostgreSQL" : "SQLite", n,
              runs);
  std::printf("  one transaction per mention (baseline): %8.0f mentions/s\n", a);
  std::printf("  group commit (up to 64 per transaction): %8.0f mentions/s  (%.1fx)\n", g, g / a);
  if (pg)
    std::printf(
        "row: durable ingest, PostgreSQL (%d at once) | %.0f mentions/s | one per "
        "transaction %.0f/s | %.1fx | - \n",
        n, g, a, g / a);
  if (!plain.empty()) {
    const double p = median(plain);
    std::printf(
        "  plain inserts of equal rows, 64 per transaction (engine baseline): %8.0f rows/s\n", p);
    std::printf("  durable ingest / baseline: %.0f%%\n", 100.0 * g / p);
    std::printf(
        "row: durable ingest, SQLite (%d at once) | %.0f mentions/s | plain inserts %.0f/s | "
        "%.0f%% | >= 75%%\n",
        n, g, p, 100.0 * g / p);
  }
  return 0;
}
