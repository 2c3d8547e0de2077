#include "daemon/leadership.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>

#include "daemon/util/log.hpp"

namespace sotong {
namespace {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// The session that holds the locks: keepalives both ways, so a vanished peer is noticed in
// about 25 s by this process and by the server (which then frees the locks).
Conn connect(const std::string& url) {
  // The URL comes last, so what it sets itself wins over these defaults.
  const char* keys[] = {
      "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count", "application_name", "dbname",          nullptr};
  const char* values[] = {"5", "1", "10", "5", "3", "sotongd-leadership", url.c_str(), nullptr};
  Conn c(PQconnectdbParams(keys, values, 1));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) return nullptr;
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  PgResult r(PQexec(c.get(),
                    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
                    "SET tcp_keepalives_count = 3; LISTEN sotong_outbox"));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return nullptr;
  return c;
}

// Where the URL points, for the log: host, port and database, never the password.
struct Where {
  std::string host;
  std::string port;
  std::string dbname;
};

Where where_of(const std::string& url) {
  Where w;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return w;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "host")
      w.host = o->val;
    else if (key == "port")
      w.port = o->val;
    else if (key == "dbname")
      w.dbname = o->val;
  }
  PQconninfoFree(options);
  return w;
}

}  // namespace

int64_t Leadership::lock_key(std::string_view scope, std::string_view account) {
  // FNV-1a, 64 bits, over a prefix that keeps sotong's locks apart from other programs'.
  uint64_t h = 14695981039346656037ULL;
  for (char ch : "sotong:" + std::string(scope) + ":" + std::string(account)) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return static_cast<int64_t>(h);
}

Leadership::Leadership(Options options, ChangeFn on_change, QueuedFn on_queued)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      on_queued_(std::move(on_queued)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Leadership::~Leadership() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Leadership::start() {
  thread_ = std::thread([this] { loop(); });
}

void Leadership::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof one) < 0) {
      // The wait ends at the next interval anyway.
    }
  }
  if (thread_.joinable()) thread_.join();
}

void Leadership::loop() {
  Conn conn;
  std::map<std::string, bool> leading;
  for (const auto& a : options_.accounts) leading[a] = false;
  bool warned = false;
  std::string scope;  // database and schema: desks sharing a server keep their locks apart
  auto drain_notifications = [&] {
    while (PGnotify* note = PQnotifies(conn.get())) {
      const std::string account = note->extra ? note->extra : "";
      PQfreemem(note);
      auto it = leading.find(account);
      if (it != leading.end() && it->second) on_queued_(account);
    }
  };
  auto step_down = [&](const char* why) {
    for (auto& [account, lead] : leading) {
      if (!lead) continue;
      lead = false;
      log::warn("no longer leading", {{"account", account}, {"reason", why}});
      on_change_(account, false);
    }
    conn.reset();
  };
  while (!stopping_) {
    if (!conn) {
      conn = connect(options_.url);
      if (!conn && !warned) {
        const Where where = where_of(options_.url);
        log::error("leadership cannot reach the database; retrying",
                   {{"host", where.host}, {"port", where.port}, {"dbname", where.dbname}});
        warned = true;
      }
      if (conn) {
        warned = false;
        PgResult r(PQexec(conn.get(), "SELECT current_database() || '.' || current_schema()"));
        if (r && PQresultStatus(r.get()) == PGRES_TUPLES_OK && PQntuples(r.get()) == 1)
          scope = PQgetvalue(r.get(), 0, 0);
        else
          conn.reset();
      }
    }
    if (conn) {
      // Each round asks the server something, so a dead session is found within a round.
      bool alive = true;
      for (auto& [account, lead] : leading) {
        if (lead) continue;
        const std::string key = std::to_string(lock_key(scope, account));
        const char* params[] = {key.c_str()};
        PgResult r(PQexecParams(conn.get(), "SELECT pg_try_advisory_lock($1::bigint)", 1, nullptr,
                                params, nullptr, nullptr, 0));
        if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
          alive = false;
          break;
        }
        if (PQgetvalue(r.get(), 0, 0)[0] == 't') {
          lead = true;
          // This instance reads the account's mentions and posts its replies.
          log::info("leading", {{"account", account}});
          on_change_(account, true);
        }
      }
      if (alive) {
        PgResult r(PQexec(conn.get(), "SELECT 1"));
        alive = r && PQresultStatus(r.get()) == PGRES_TUPLES_OK;
      }
      if (!alive) step_down("the PostgreSQL session was lost");
    }
    // Notifications that came in with the answers above are queued in libpq already: the
    // socket will not wake the wait below for them.
    if (conn) drain_notifications();
    // Wait for a notification, stop(), or the next round.
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {conn ? PQsocket(conn.get()) : -1, POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + options_.interval;
    while (!stopping_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      const int n = ::poll(fds, conn ? 2 : 1, static_cast<int>(left.count()));
      if (n <= 0 || !conn || !(fds[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!PQconsumeInput(conn.get())) {
        step_down("the PostgreSQL session was lost");
        break;
      }
      drain_notifications();
    }
  }
  // Ending the session frees every lock it holds at once.
  conn.reset();
  for (auto& [account, lead] : leading)
    if (lead) on_change_(account, false);
}

}  // namespace sotong
