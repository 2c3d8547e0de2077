// The transactions of the citizens' side and the tickets, for both engines: the invariants
// (one transaction per ingest, close, reopen, reassign; claims; threads) read in one place.
// The department API's own (comments, idempotency, signatures) are in store_hook.cpp, the
// notifications' in store_notify.cpp; the tables are in store/schema.cpp.
#include "daemon/store.hpp"

#include <openssl/rand.h>

#include <ctime>
#include <limits>
#include <random>
#include <utility>

#include "daemon/notification.hpp"
#include "daemon/store/schema.hpp"
#include "daemon/store/sql.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {
namespace {

using store_sql::insert_id;
using store_sql::Stmt;
using store_sql::Transaction;

const char* const kTicketColumns =
    "id, number, platform, account, mention_id, author, author_acct, text, language, "
    "visibility, department, category, priority, rule, status, resolution, closed_by, "
    "created_at, updated_at, closed_at, author_id, tags, hidden, notify, neighbourhood, "
    "reopened";

// Tags are ids (no commas): stored comma-joined, one column instead of a table.
std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ",") + t;
  return out;
}

std::vector<std::string> split_tags(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TicketRow read_ticket(const Stmt& s) {
  TicketRow t;
  t.id = s.i64(0);
  t.number = s.text(1);
  t.platform = s.text(2);
  t.account = s.text(3);
  t.mention_id = s.text(4);
  t.author = s.text(5);
  t.author_acct = s.text(6);
  t.text = s.text(7);
  t.language = s.text(8);
  t.visibility = static_cast<Visibility>(s.i64(9) & 3);
  t.department = s.text(10);
  t.category = s.text(11);
  t.priority = static_cast<Priority>(s.i64(12) & 3);
  t.rule = s.text(13);
  t.status = s.text(14);
  t.resolution = s.text(15);
  t.closed_by = s.text(16);
  t.created_at_ms = s.i64(17);
  t.updated_at_ms = s.i64(18);
  t.closed_at_ms = s.i64(19);
  t.author_id = s.text(20);
  t.tags = split_tags(s.text(21));
  t.hidden = s.i64(22) != 0;
  t.notify = s.i64(23) != 0;
  t.neighbourhood = s.text(24);
  t.reopened = static_cast<int>(s.i64(25));
  return t;
}

const char* const kOutboxColumns =
    "o.id, o.ticket_id, t.number, o.kind, o.account, o.in_reply_to_id, o.author_acct, o.text, "
    "o.visibility, o.language, o.priority, o.idempotency_key, o.state, o.attempts, "
    "o.next_attempt_at, o.platform_post_id, o.last_error, o.created_at, o.sent_at";

OutboxRow read_outbox(const Stmt& s) {
  OutboxRow o;
  o.id = s.i64(0);
  o.ticket_id = s.i64(1);
  o.ticket_number = s.text(2);
  o.kind = s.text(3);
  o.account = s.text(4);
  o.in_reply_to_id = s.text(5);
  o.author_acct = s.text(6);
  o.text = s.text(7);
  o.visibility = static_cast<Visibility>(s.i64(8) & 3);
  o.language = s.text(9);
  o.priority = static_cast<Priority>(s.i64(10) & 3);
  o.idempotency_key = s.text(11);
  o.state = s.text(12);
  o.attempts = static_cast<int>(s.i64(13));
  o.next_attempt_at_ms = s.i64(14);
  o.platform_post_id = s.text(15);
  o.last_error = s.text(16);
  o.created_at_ms = s.i64(17);
  o.sent_at_ms = s.i64(18);
  return o;
}

std::string random_hex(int bytes) {
  // Keys need to be unique, not secret (the ticket number is part of each): a generator
  // seeded once from the system's randomness, not a call into it per reply.
  thread_local std::mt19937_64 gen = [] {
    uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1)
      seed = static_cast<uint64_t>(std::time(nullptr)) ^ reinterpret_cast<uintptr_t>(&seed);
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i) {
    if (i % 8 == 0) x = gen();
    const auto b = static_cast<unsigned>(x & 0xFF);
    x >>= 8;
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace

Store::Store(std::unique_ptr<db::Connection> db, std::string prefix)
    : db_(std::move(db)), prefix_(std::move(prefix)) {}

Store::~Store() = default;

int Store::schema_version_latest() {
  return schema::kLatestVersion;
}

bool Store::is_postgres_url(std::string_view location) {
  return db::is_postgres_url(location);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& location, std::string ticket_prefix,
                                           int schema_version) {
  auto conn = is_postgres_url(location) ? db::open_postgres(location) : db::open_sqlite(location);
  if (!conn) return Error{conn.error()};
  std::unique_ptr<Store> store(new Store(std::move(*conn), std::move(ticket_prefix)));
  const std::string where = is_postgres_url(location) ? "the PostgreSQL store" : location;
  if (auto s = store->migrate(schema_version > 0 ? schema_version : schema::kLatestVersion); !s)
    return Error{where + ": " + s.error()};
  return store;
}

Status Store::exec(const char* sql) {
  return db_->exec(sql);
}

db::Dialect Store::dialect() const {
  return db_->dialect();
}

Result<int> Store::schema_version() {
  return db_->schema_version();
}

Status Store::migrate(int target) {
  const bool pg = db_->dialect() == db::Dialect::kPostgres;
  Transaction tx(*db_);
  if (!tx.begun()) return Error{"cannot begin migration: " + tx.error()};
  // Instances starting together on one PostgreSQL migrate one after the other.
  if (pg) {
    if (auto s = exec("SELECT pg_advisory_xact_lock(720601)"); !s) return s;
  }
  auto v = schema_version();
  if (!v) return Error{v.error()};
  if (*v > schema::kLatestVersion)
    return Error{"the store's schema version " + std::to_string(*v) +
                 " is newer than this sotongd knows (" + std::to_string(schema::kLatestVersion) +
                 "); run a newer sotongd"};
  if (pg) {
    // PostgreSQL stores begin at version 4, then migrate like SQLite's.
    if (*v == 0) {
      if (auto s = exec(schema::kPostgres); !s) return Error{"creating the schema: " + s.error()};
      if (auto s = db_->set_schema_version(schema::kFirstPostgresVersion); !s) return s;
      v = schema::kFirstPostgresVersion;
      log::info("store created", {{"schema_version", schema::kFirstPostgresVersion}});
    } else if (*v < schema::kFirstPostgresVersion) {
      return Error{"the store's schema version " + std::to_string(*v) +
                   " has no PostgreSQL migration to " + std::to_string(schema::kLatestVersion)};
    }
    for (int from = *v; from < schema::kLatestVersion; ++from) {
      if (auto s = exec(schema::kPostgresMigrations[from]); !s)
        return Error{"migration to version " + std::to_string(from + 1) + " failed: " + s.error()};
      if (auto s = db_->set_schema_version(from + 1); !s) return s;
      log::info("store migrated", {{"schema_version", from + 1}});
    }
    return tx.commit();
  }
  for (int from = *v; from < std::min(target, schema::kLatestVersion); ++from) {
    if (auto s = exec(schema::kSqliteMigrations[from]); !s)
      return Error{"migration to version " + std::to_string(from + 1) + " failed: " + s.error()};
    if (auto s = db_->set_schema_version(from + 1); !s) return s;
    log::info("store migrated", {{"schema_version", from + 1}});
  }
  return tx.commit();
}

Result<std::string> Store::next_ticket_number(int64_t now_ms, const std::string& prefix, int year) {
  if (year <= 0) {
    std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    year = tm.tm_year + 1900;
  }
  const std::string& shown = prefix.empty() ? prefix_ : prefix;
  const std::string key = shown == prefix_ ? std::string() : shown;
  // RETURNING costs SQLite a temporary table (see insert_id): there the number is read back.
  const bool sqlite = db_->dialect() == db::Dialect::kSqlite;
  const std::string upsert =
      std::string(
          "INSERT INTO ticket_sequence_by_prefix (prefix, year, last) VALUES (?1, ?2, 1) "
          "ON CONFLICT (prefix, year) DO UPDATE SET last = ticket_sequence_by_prefix.last "
          "+ 1") +
      (sqlite ? "" : " RETURNING last");
  Stmt up(*db_, upsert);
  up.bind(1, key).bind(2, year);
  bool row = up.step();
  if (!up.ok()) return Error{"ticket sequence: " + up.error()};
  int64_t n = row ? up.i64(0) : 0;
  if (sqlite) {
    Stmt get(*db_, "SELECT last FROM ticket_sequence_by_prefix WHERE prefix = ?1 AND year = ?2");
    get.bind(1, key).bind(2, year);
    if (!get.step()) return Error{"ticket sequence: " + (get.ok() ? "no row" : get.error())};
    n = get.i64(0);
  } else if (!row) {
    return Error{"ticket sequence: no row"};
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%04d-%06lld", shown.c_str(), year, static_cast<long long>(n));
  return std::string(buf);
}

Status Store::add_event(int64_t ticket_id, int64_t at_ms, const std::string& actor,
                        const std::string& kind, const std::string& detail) {
  Stmt s(*db_,
         "INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, ticket_id).bind(2, at_ms).bind(3, actor).bind(4, kind).bind(5, detail);
  return s.run();
}

Result<int64_t> Store::queue_reply(const TicketRow& t, const std::string& kind, const ReplyDraft& d,
                                   const std::string& in_reply_to, int64_t now_ms) {
  // The key is stored with the row, so every retry after a crash sends the same one.
  std::string key = t.number + "-" + kind + "-" + random_hex(8);
  auto inserted = insert_id(
      *db_,
      "INSERT INTO outbox (ticket_id, kind, account, in_reply_to_id, author_acct, text, "
      "visibility, language, priority, idempotency_key, state, next_attempt_at, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?11)",
      [&](Stmt& s) {
        s.bind(1, t.id).bind(2, kind).bind(3, t.account).bind(4, in_reply_to);
        s.bind(5, t.author_acct).bind(6, d.text);
        s.bind(7, static_cast<int>(reply_visibility(t.visibility))).bind(8, d.language);
        s.bind(9, static_cast<int>(t.priority)).bind(10, key).bind(11, now_ms);
      });
  if (!inserted) return Error{"queue reply: " + inserted.error()};
  const int64_t id = *inserted;
  if (db_->dialect() == db::Dialect::kPostgres) {
    // Delivered at commit: the instance leading the account wakes its sender.
    Stmt n(*db_, "SELECT pg_notify('sotong_outbox', ?1)");
    n.bind(1, t.account);
    if (auto st = n.run(); !st) return Error{"queue reply: " + st.error()};
  }
  return id;
}

Result<IngestOutcome> Store::ingest(const Mention& m, const Decision& d, const DraftFn& ack,
                                    int64_t now_ms, const std::string& ticket_prefix) {
  IngestOptions o;
  o.ack_key = ack ? d.template_key : "";
  o.ticket_prefix = ticket_prefix;
  KeyedDraftFn keyed;
  if (ack) keyed = [&ack](const TicketRow& t, const std::string&) { return ack(t); };
  return ingest(m, d, o, keyed, now_ms);
}

Result<int64_t> Store::replies_of_kind(int64_t ticket_id, const std::string& kind) {
  Stmt s(*db_, "SELECT count(*) FROM outbox WHERE ticket_id = ?1 AND kind = ?2");
  s.bind(1, ticket_id).bind(2, kind);
  if (!s.step()) return Error{"replies of kind: " + s.error()};
  return s.i64(0);
}

Result<int64_t> Store::acks_since(const Mention& m, int64_t since_ms) {
  // Platforms give a stable author id; the address is the fallback where one is missing.
  // Two statements, not one with a CASE: the engines cannot use tickets_author through a
  // CASE, and every mention then read every ticket of the account. The address has no index
  // (both connectors always give the id; one without is malformed and rare).
  const bool by_id = !m.author_id.empty();
  Stmt s(*db_, by_id ? "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE "
                       "t.platform = ?1 AND t.account = ?2 AND t.author_id = ?3 AND "
                       "o.kind = 'ack' AND o.created_at > ?4"
                     : "SELECT count(*) FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE "
                       "t.platform = ?1 AND t.account = ?2 AND t.author_acct = ?3 AND "
                       "o.kind = 'ack' AND o.created_at > ?4");
  s.bind(1, m.platform).bind(2, m.account).bind(3, by_id ? m.author_id : m.author_acct);
  s.bind(4, since_ms);
  if (!s.step()) return Error{"author limit: " + s.error()};
  return s.i64(0);
}

Result<std::optional<TicketRow>> Store::thread_ticket(const Mention& m) {
  if (m.in_reply_to_id.empty()) return std::optional<TicketRow>();
  const std::string cols = std::string("SELECT ") + kTicketColumns + " FROM tickets WHERE ";
  // Where the ticket may be, best first: the post answered; else, for an answer to a reply of
  // ours that was recorded without its id (X's "duplicate content" answer does not say which
  // post it was), the author's newest ticket with such a reply; else the conversation's first
  // post (X names the conversation).
  struct Lookup {
    std::string sql;
    std::string arg;
  };
  std::vector<Lookup> lookups;
  const std::string by_post =
      cols +
      "id = (SELECT ticket_id FROM thread_posts WHERE platform = ?1 AND account = ?2 AND "
      "post_id = ?3)";
  lookups.push_back({by_post, m.in_reply_to_id});
  if (m.in_reply_to_self)
    lookups.push_back({cols + "platform = ?1 AND account = ?2 AND " +
                           (m.author_id.empty() ? "author_acct" : "author_id") +
                           " = ?3 AND id IN (SELECT ticket_id FROM outbox WHERE "
                           "platform_post_id = 'duplicate') ORDER BY id DESC LIMIT 1",
                       m.author_id.empty() ? m.author_acct : m.author_id});
  if (!m.thread_id.empty() && m.thread_id != m.in_reply_to_id)
    lookups.push_back({by_post, m.thread_id});
  for (const auto& l : lookups) {
    const std::string sql = l.sql + lock_clause();
    Stmt s(*db_, sql.c_str());
    s.bind(1, m.platform).bind(2, m.account).bind(3, l.arg);
    if (!s.step()) {
      if (!s.ok()) return Error{"thread: " + s.error()};
      continue;
    }
    TicketRow t = read_ticket(s);
    // Someone else answering in the thread has a complaint of their own.
    const bool same_author = (!t.author_id.empty() && t.author_id == m.author_id) ||
                             (t.author_id.empty() && t.author_acct == m.author_acct);
    if (same_author) return std::optional<TicketRow>(std::move(t));
  }
  return std::optional<TicketRow>();
}

Status Store::add_thread_post(int64_t ticket_id, const std::string& platform,
                              const std::string& account, const std::string& post_id) {
  if (post_id.empty()) return Status::Ok();
  Stmt s(*db_,
         "INSERT INTO thread_posts (platform, account, post_id, ticket_id) "
         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
  s.bind(1, platform).bind(2, account).bind(3, post_id).bind(4, ticket_id);
  return s.run();
}

Result<IngestOutcome> Store::ingest(const Mention& m, const Decision& d, const IngestOptions& o,
                                    const KeyedDraftFn& draft, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  IngestOutcome out;
  {
    Stmt seen(*db_,
              "SELECT s.ticket_id, t.number FROM mentions_seen s LEFT JOIN tickets t ON "
              "t.id = s.ticket_id WHERE s.platform = ?1 AND s.account = ?2 AND s.mention_id = ?3");
    seen.bind(1, m.platform).bind(2, m.account).bind(3, m.id);
    if (seen.step()) {
      out.kind = IngestOutcome::Kind::kDuplicate;
      out.ticket_number = seen.text(1);
    } else if (!seen.ok()) {
      return Error{seen.error()};
    }
  }
  // `fresh`: the ticket was made in this transaction, so it has no replies yet.
  auto queue = [&](const TicketRow& ticket, const std::string& key, bool fresh) -> Status {
    if (key.empty() || !draft) return Status::Ok();
    const std::string kind = key.rfind("ack", 0) == 0 || key == o.limit_key ? "ack" : key;
    TicketRow t = ticket;
    if (!fresh) {
      auto n = replies_of_kind(t.id, kind);
      if (!n) return Error{n.error()};
      t.repeat = static_cast<int>(*n);
    }
    auto r = draft(t, key);
    if (!r) return Error{"reply \"" + key + "\" for " + t.number + ": " + r.error()};
    auto id = queue_reply(t, kind, *r, m.id, now_ms);
    if (!id) return Error{id.error()};
    out.outbox_id = *id;
    out.reply_key = key;
    return add_event(t.id, now_ms, "sotongd", kind + "_queued",
                     "outbox=" + std::to_string(*id) + " template=" + key);
  };
  if (out.kind != IngestOutcome::Kind::kDuplicate) {
    std::optional<int64_t> ticket_id;
    std::string seen_as = "ticket";
    std::optional<TicketRow> thread;
    if (d.action != Decision::Action::kIgnore) {
      auto th = thread_ticket(m);
      if (!th) return Error{th.error()};
      thread = std::move(*th);
    }
    if (d.action == Decision::Action::kIgnore) {
      out.kind = IngestOutcome::Kind::kIgnored;
      seen_as = "ignored: " + d.ignore_reason;
    } else if (thread) {
      TicketRow& t = *thread;
      ticket_id = t.id;
      out.ticket_number = t.number;
      out.department = t.department;
      seen_as = "thread";
      // Replies to this reply belong to the ticket too.
      if (auto s = add_thread_post(t.id, m.platform, m.account, m.id); !s) return Error{s.error()};
      const std::string actor = "citizen:" + m.author_acct;
      if (t.status == "open") {
        out.kind = IngestOutcome::Kind::kAddedToTicket;
        if (auto s = add_event(t.id, now_ms, actor, "citizen_reply", m.text); !s)
          return Error{s.error()};
        if (auto s = queue(t, o.ack_thread_additions && !d.hide ? "added" : "", false); !s)
          return Error{s.error()};
      } else if (o.reopens) {
        out.kind = IngestOutcome::Kind::kReopened;
        Stmt up(*db_,
                "UPDATE tickets SET status = 'open', reopened = reopened + 1, updated_at = ?2, "
                "hidden = CASE WHEN hidden > ?3 THEN hidden ELSE ?3 END WHERE id = ?1");
        up.bind(1, t.id).bind(2, now_ms).bind(3, d.hide ? 1 : 0);
        if (auto s = up.run(); !s) return Error{"reopen: " + s.error()};
        t.status = "open";
        t.reopened += 1;
        t.hidden = t.hidden || d.hide;
        if (auto s = add_event(t.id, now_ms, actor, "reopened", m.text); !s)
          return Error{s.error()};
        if (auto s = queue(t, d.hide ? "" : "reopened", false); !s) return Error{s.error()};
        t.updated_at_ms = now_ms;
        auto queued = queue_notification(t, notification::kReopened, "", o.notified, now_ms);
        if (!queued) return Error{queued.error()};
        out.notification_id = *queued;
      } else {
        // Thanks under a closed ticket: kept on the ticket, no reply, not reopened.
        out.kind = IngestOutcome::Kind::kAddedToTicket;
        if (auto s = add_event(t.id, now_ms, actor, "citizen_reply_after_close", m.text); !s)
          return Error{s.error()};
      }
    } else {
      auto number = next_ticket_number(now_ms, o.ticket_prefix, o.ticket_year);
      if (!number) return Error{number.error()};
      TicketRow t;
      t.number = *number;
      t.platform = m.platform;
      t.account = m.account;
      t.mention_id = m.id;
      t.author = m.author;
      t.author_acct = m.author_acct;
      t.author_id = m.author_id;
      t.text = m.text;
      t.language = m.language;
      t.visibility = m.visibility;
      t.department = d.department;
      t.category = d.category;
      t.priority = d.priority;
      t.rule = d.rule;
      t.tags = d.tags;
      t.hidden = d.hide;
      t.notify = d.notify;
      t.neighbourhood = d.neighbourhood;
      t.status = "open";
      t.created_at_ms = t.updated_at_ms = now_ms;
      auto inserted = insert_id(
          *db_,
          "INSERT INTO tickets (number, platform, account, mention_id, author, author_acct, "
          "text, language, visibility, department, category, priority, rule, status, "
          "created_at, updated_at, author_id, tags, hidden, notify, neighbourhood) VALUES "
          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'open', ?14, ?14, ?15, "
          "?16, ?17, ?18, ?19)",
          [&](Stmt& ins) {
            ins.bind(1, t.number).bind(2, t.platform).bind(3, t.account).bind(4, t.mention_id);
            ins.bind(5, t.author).bind(6, t.author_acct).bind(7, t.text).bind(8, t.language);
            ins.bind(9, static_cast<int>(t.visibility)).bind(10, t.department);
            ins.bind(11, t.category).bind(12, static_cast<int>(t.priority)).bind(13, t.rule);
            ins.bind(14, now_ms).bind(15, t.author_id).bind(16, join_tags(t.tags));
            ins.bind(17, t.hidden ? 1 : 0).bind(18, t.notify ? 1 : 0).bind(19, t.neighbourhood);
          });
      if (!inserted) return Error{"insert ticket: " + inserted.error()};
      t.id = *inserted;
      ticket_id = t.id;
      out.kind = IngestOutcome::Kind::kCreated;
      out.ticket_number = t.number;
      out.department = t.department;
      std::string detail = "rule=" + d.rule + " department=" + d.department +
                           " priority=" + std::string(to_string(d.priority));
      if (!t.tags.empty()) detail += " tags=" + join_tags(t.tags);
      if (t.hidden) detail += " hidden";
      if (t.notify) detail += " notify";
      if (auto s = add_event(t.id, now_ms, "sotongd", "opened", detail); !s)
        return Error{s.error()};
      if (auto s = add_thread_post(t.id, m.platform, m.account, m.id); !s) return Error{s.error()};
      auto queued = queue_notification(t, notification::kOpened, "", o.notified, now_ms);
      if (!queued) return Error{queued.error()};
      out.notification_id = *queued;
      std::string key = o.ack_key;  // the pipeline left it empty for a hidden ticket
      // Urgent tickets are always answered: the reply tells the citizen to call 112/119.
      if (!key.empty() && o.author_ack_limit > 0 && d.priority != Priority::kUrgent) {
        auto n = acks_since(m, now_ms - 3600 * 1000);
        if (!n) return Error{n.error()};
        if (*n >= o.author_ack_limit) {
          key.clear();
          out.limited = true;
          if (auto s =
                  add_event(t.id, now_ms, "sotongd", "ack_withheld",
                            "author limit " + std::to_string(o.author_ack_limit) + " per hour");
              !s)
            return Error{s.error()};
        } else if (*n == o.author_ack_limit - 1) {
          key = o.limit_key;
        }
      }
      if (auto s = queue(t, key, true); !s) return Error{s.error()};
    }
    Stmt mark(*db_,
              "INSERT INTO mentions_seen (platform, account, mention_id, ticket_id, decision, "
              "seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    mark.bind(1, m.platform).bind(2, m.account).bind(3, m.id);
    if (ticket_id)
      mark.bind(4, *ticket_id);
    else
      mark.bind_null(4);
    mark.bind(5, seen_as);
    mark.bind(6, now_ms);
    if (auto s = mark.run(); !s) return Error{"record mention: " + s.error()};
  }
  if (!m.cursor.empty()) {
    if (auto s = set_cursor(m.platform, m.account, m.cursor, now_ms); !s) return Error{s.error()};
  }
  if (auto s = tx.commit(); !s) return Error{s.error()};
  return out;
}

Status Store::set_cursor(const std::string& platform, const std::string& account,
                         const std::string& cursor, int64_t now_ms) {
  // Cursors are decimal ids: only move forward (longer, or equal length and greater).
  Stmt s(*db_,
         "INSERT INTO cursors (platform, account, cursor, updated_at) VALUES (?1, ?2, ?3, ?4) "
         "ON CONFLICT (platform, account) DO UPDATE SET cursor = excluded.cursor, "
         "updated_at = excluded.updated_at WHERE length(excluded.cursor) > length(cursors.cursor) "
         "OR (length(excluded.cursor) = length(cursors.cursor) AND excluded.cursor > "
         "cursors.cursor)");
  s.bind(1, platform).bind(2, account).bind(3, cursor).bind(4, now_ms);
  return s.run();
}

Result<std::optional<std::string>> Store::cursor(const std::string& platform,
                                                 const std::string& account) {
  Stmt s(*db_, "SELECT cursor FROM cursors WHERE platform = ?1 AND account = ?2");
  s.bind(1, platform).bind(2, account);
  if (s.step()) return std::optional<std::string>(s.text(0));
  if (!s.ok()) return Error{s.error()};
  return std::optional<std::string>();
}

Result<std::vector<OutboxRow>> Store::due_outbox(const std::string& account, int64_t now_ms,
                                                 int limit, const std::string& claimant) {
  std::string sql = std::string("SELECT ") + kOutboxColumns +
                    " FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE o.account = ?1 "
                    "AND o.state = 'pending' AND o.next_attempt_at <= ?2 "
                    "AND (o.claimed_until <= ?2 OR o.claimed_by = ?4) "
                    "ORDER BY o.priority, o.id LIMIT ?3";
  Stmt s(*db_, sql.c_str());
  s.bind(1, account).bind(2, now_ms).bind(3, limit).bind(4, claimant);
  std::vector<OutboxRow> rows;
  while (s.step()) rows.push_back(read_outbox(s));
  if (!s.ok()) return Error{s.error()};
  return rows;
}

std::string Store::lock_clause() const {
  return db_->dialect() == db::Dialect::kPostgres ? " FOR UPDATE" : "";
}

Result<bool> Store::claim(int64_t outbox_id, const std::string& claimant, int64_t now_ms,
                          int64_t lease_ms) {
  // One instance owns an SQLite store (the lock file): nothing to claim against, and a write
  // here would cost a sync before every post.
  if (db_->dialect() == db::Dialect::kSqlite) return true;
  return store_sql::claim_row(*db_, "outbox", outbox_id, claimant, now_ms, lease_ms);
}

Status Store::release_claims(const std::string& account, const std::string& claimant) {
  Stmt s(*db_,
         "UPDATE outbox SET claimed_until = 0 WHERE account = ?1 AND claimed_by = ?2 AND "
         "state = 'pending' AND claimed_until > 0");
  s.bind(1, account).bind(2, claimant);
  return s.run();
}

Status Store::probe_write(int64_t now_ms) {
  Stmt s(*db_,
         "INSERT INTO store_health (id, checked_at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE "
         "SET checked_at = excluded.checked_at");
  s.bind(1, now_ms);
  return s.run();
}

Status Store::begin_group() {
  return db_->begin();
}

Status Store::commit_group() {
  return db_->commit();
}

void Store::rollback_group() {
  db_->rollback();
}

bool Store::group_intact() const {
  return db_->depth() == 1 && db_->in_transaction();
}

db::Fault Store::last_fault() const {
  return db_->last_fault();
}

db::Fault Store::take_environmental_fault() {
  return db_->take_environmental_fault();
}

Result<std::optional<int64_t>> Store::next_due(const std::string& account,
                                               const std::string& claimant) {
  // A row another instance holds is due when its claim lapses, not before.
  Stmt s(*db_,
         "SELECT min(CASE WHEN claimed_by != ?2 AND claimed_until > next_attempt_at THEN "
         "claimed_until ELSE next_attempt_at END) FROM outbox WHERE account = ?1 AND "
         "state = 'pending'");
  s.bind(1, account).bind(2, claimant);
  if (s.step() && !s.is_null(0)) return std::optional<int64_t>(s.i64(0));
  if (!s.ok()) return Error{s.error()};
  return std::optional<int64_t>();
}

Status Store::mark_sent(int64_t outbox_id, const std::string& platform_post_id, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  Stmt s(*db_,
         "UPDATE outbox SET state = 'sent', platform_post_id = ?2, sent_at = ?3, "
         "attempts = attempts + 1, last_error = '', claimed_until = 0 WHERE id = ?1 AND "
         "state = 'pending' "
         "RETURNING ticket_id, kind, account");
  s.bind(1, outbox_id).bind(2, platform_post_id).bind(3, now_ms);
  if (!s.step()) {
    if (!s.ok()) return Error{s.error()};
    return Status::Ok();  // already recorded
  }
  int64_t ticket_id = s.i64(0);
  std::string kind = s.text(1);
  std::string account = s.text(2);
  s.run().ok();
  // A citizen answering our reply lands on this ticket.
  if (!platform_post_id.empty()) {
    Stmt th(*db_,
            "INSERT INTO thread_posts (platform, account, post_id, ticket_id) "
            "SELECT platform, ?2, ?3, id FROM tickets WHERE id = ?1 ON CONFLICT DO NOTHING");
    th.bind(1, ticket_id).bind(2, account).bind(3, platform_post_id);
    if (auto st = th.run(); !st) return st;
  }
  if (auto st =
          add_event(ticket_id, now_ms, "sotongd", kind + "_posted", "post=" + platform_post_id);
      !st)
    return st;
  return tx.commit();
}

Status Store::mark_retry(int64_t outbox_id, int64_t next_attempt_at_ms, const std::string& error) {
  Stmt s(*db_,
         "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, "
         "claimed_until = 0 "
         "WHERE id = ?1 AND state = 'pending'");
  s.bind(1, outbox_id).bind(2, next_attempt_at_ms).bind(3, error);
  return s.run();
}

Status Store::mark_failed(int64_t outbox_id, const std::string& error, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  Stmt s(*db_,
         "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, "
         "claimed_until = 0 "
         "WHERE id = ?1 AND state = 'pending' RETURNING ticket_id, kind");
  s.bind(1, outbox_id).bind(2, error);
  if (!s.step()) {
    if (!s.ok()) return Error{s.error()};
    return Status::Ok();
  }
  int64_t ticket_id = s.i64(0);
  std::string kind = s.text(1);
  s.run().ok();
  if (auto st = add_event(ticket_id, now_ms, "sotongd", kind + "_failed", error); !st) return st;
  return tx.commit();
}

Result<CloseOutcome> Store::close_ticket(const std::string& number, const std::string& department,
                                         const std::string& resolution, const std::string& actor,
                                         const DraftFn& followup, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  CloseOutcome out;
  auto access = writable_ticket(number, department, &out.ticket);
  if (!access) return Error{access.error()};
  if (*access != Access::kGranted) {
    out.kind = *access == Access::kNotFound ? CloseOutcome::Kind::kNotFound
                                            : CloseOutcome::Kind::kForbidden;
    return out;
  }
  if (out.ticket.status == "closed") {
    out.kind = CloseOutcome::Kind::kAlreadyClosed;
    return out;
  }
  Stmt up(*db_,
          "UPDATE tickets SET status = 'closed', resolution = ?2, closed_by = ?3, closed_at = ?4, "
          "updated_at = ?4 WHERE id = ?1");
  up.bind(1, out.ticket.id).bind(2, resolution).bind(3, actor).bind(4, now_ms);
  if (auto s = up.run(); !s) return Error{"close: " + s.error()};
  out.ticket.status = "closed";
  out.ticket.resolution = resolution;
  out.ticket.closed_by = actor;
  out.ticket.closed_at_ms = out.ticket.updated_at_ms = now_ms;
  if (auto s = add_event(out.ticket.id, now_ms, actor, "closed", resolution); !s)
    return Error{s.error()};
  if (followup) {
    auto n = replies_of_kind(out.ticket.id, "followup");
    if (!n) return Error{n.error()};
    out.ticket.repeat = static_cast<int>(*n);
    auto draft = followup(out.ticket);
    if (!draft) return Error{"follow-up for " + number + ": " + draft.error()};
    auto id = queue_reply(out.ticket, "followup", *draft, out.ticket.mention_id, now_ms);
    if (!id) return Error{id.error()};
    out.outbox_id = *id;
    if (auto s = add_event(out.ticket.id, now_ms, "sotongd", "followup_queued",
                           "outbox=" + std::to_string(*id));
        !s)
      return Error{s.error()};
  }
  if (auto s = tx.commit(); !s) return Error{s.error()};
  out.kind = CloseOutcome::Kind::kClosed;
  return out;
}

Result<ReassignOutcome> Store::reassign_ticket(const std::string& number,
                                               const std::string& department, const std::string& to,
                                               const std::string& note, const std::string& actor,
                                               const DraftFn& reply, int64_t now_ms,
                                               const NotifiedDepartments& notified) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  ReassignOutcome out;
  auto access = writable_ticket(number, department, &out.ticket);
  if (!access) return Error{access.error()};
  if (*access != Access::kGranted) {
    out.kind = *access == Access::kNotFound ? ReassignOutcome::Kind::kNotFound
                                            : ReassignOutcome::Kind::kForbidden;
    return out;
  }
  if (out.ticket.department == to) {
    out.kind = ReassignOutcome::Kind::kSameDepartment;
    return out;
  }
  if (out.ticket.status != "open") {
    out.kind = ReassignOutcome::Kind::kClosed;
    return out;
  }
  const std::string from = out.ticket.department;
  Stmt up(*db_, "UPDATE tickets SET department = ?2, updated_at = ?3 WHERE id = ?1");
  up.bind(1, out.ticket.id).bind(2, to).bind(3, now_ms);
  if (auto s = up.run(); !s) return Error{"reassign: " + s.error()};
  out.ticket.department = to;
  out.ticket.updated_at_ms = now_ms;
  std::string detail = from + " -> " + to;
  if (!note.empty()) detail += ": " + note;
  if (auto s = add_event(out.ticket.id, now_ms, actor, "reassigned", detail); !s)
    return Error{s.error()};
  auto queued = queue_notification(out.ticket, notification::kReassigned, from, notified, now_ms);
  if (!queued) return Error{queued.error()};
  out.notification_id = *queued;
  if (reply) {
    auto n = replies_of_kind(out.ticket.id, "reassigned");
    if (!n) return Error{n.error()};
    TicketRow shown = out.ticket;
    shown.repeat = static_cast<int>(*n);
    auto draft = reply(shown);
    if (!draft) return Error{"reassigned reply for " + number + ": " + draft.error()};
    auto id = queue_reply(out.ticket, "reassigned", *draft, out.ticket.mention_id, now_ms);
    if (!id) return Error{id.error()};
    out.outbox_id = *id;
    if (auto s = add_event(out.ticket.id, now_ms, "sotongd", "reassigned_queued",
                           "outbox=" + std::to_string(*id));
        !s)
      return Error{s.error()};
  }
  if (auto s = tx.commit(); !s) return Error{s.error()};
  return out;
}

Result<ReopenOutcome> Store::reopen_ticket(const std::string& number, const std::string& department,
                                           const std::string& reason, const std::string& actor,
                                           int64_t now_ms, const NotifiedDepartments& notified) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  ReopenOutcome out;
  auto access = writable_ticket(number, department, &out.ticket);
  if (!access) return Error{access.error()};
  if (*access != Access::kGranted) {
    out.kind = *access == Access::kNotFound ? ReopenOutcome::Kind::kNotFound
                                            : ReopenOutcome::Kind::kForbidden;
    return out;
  }
  if (out.ticket.status == "open") {
    out.kind = ReopenOutcome::Kind::kAlreadyOpen;
    return out;
  }
  Stmt up(*db_,
          "UPDATE tickets SET status = 'open', resolution = '', closed_by = '', closed_at = 0, "
          "updated_at = ?2 WHERE id = ?1");
  up.bind(1, out.ticket.id).bind(2, now_ms);
  if (auto s = up.run(); !s) return Error{"reopen: " + s.error()};
  if (auto s = add_event(out.ticket.id, now_ms, actor, "reopened", reason); !s)
    return Error{s.error()};
  out.ticket.status = "open";
  out.ticket.resolution.clear();
  out.ticket.closed_by.clear();
  out.ticket.closed_at_ms = 0;
  out.ticket.updated_at_ms = now_ms;
  auto queued = queue_notification(out.ticket, notification::kReopened, "", notified, now_ms);
  if (!queued) return Error{queued.error()};
  out.notification_id = *queued;
  if (auto s = tx.commit(); !s) return Error{s.error()};
  out.kind = ReopenOutcome::Kind::kReopened;
  return out;
}

Result<Store::Access> Store::writable_ticket(const std::string& number,
                                             const std::string& department, TicketRow* out) {
  // Locked until commit on PostgreSQL: two instances writing one ticket (a close on each,
  // say) take turns, and the second sees the first's outcome.
  auto t = ticket_where("number = ?1", number, true);
  if (!t) return Error{t.error()};
  if (!*t) return Access::kNotFound;
  *out = std::move(**t);
  if (!department.empty() && out->department != department) return Access::kForbidden;
  return Access::kGranted;
}

Result<std::optional<TicketRow>> Store::ticket_where(const char* where, const std::string& arg,
                                                     bool for_update) {
  std::string sql = std::string("SELECT ") + kTicketColumns + " FROM tickets WHERE " + where;
  if (for_update) sql += lock_clause();
  Stmt s(*db_, sql.c_str());
  s.bind(1, arg);
  if (s.step()) return std::optional<TicketRow>(read_ticket(s));
  if (!s.ok()) return Error{s.error()};
  return std::optional<TicketRow>();
}

Result<std::optional<TicketRow>> Store::ticket(const std::string& number) {
  return ticket_where("number = ?1", number);
}

Result<std::vector<TicketRow>> Store::list_tickets(const TicketFilter& f) {
  // SQLite's instr and PostgreSQL's strpos: the one place the engines name a function apart.
  const char* contains = db_->dialect() == db::Dialect::kPostgres
                             ? "strpos(lower(text), lower(?8)) > 0"
                             : "instr(lower(text), lower(?8)) > 0";
  std::string sql = std::string("SELECT ") + kTicketColumns +
                    " FROM tickets WHERE id > ?1 AND (?2 = '' OR status = ?2) AND "
                    "(?3 = '' OR department = ?3) AND (?5 < 0 OR priority = ?5) AND "
                    "(?6 = '' OR category = ?6) AND created_at >= ?7 AND (?8 = '' OR " +
                    contains +
                    ") AND created_at < ?9 AND "
                    "(?10 = 0 OR (visibility = ?11 AND hidden = 0)) ORDER BY id" +
                    (f.newest_first ? " DESC" : "") + " LIMIT ?4";
  Stmt s(*db_, sql.c_str());
  s.bind(1, f.after_id).bind(2, f.status).bind(3, f.department).bind(4, f.limit);
  s.bind(5, f.priority).bind(6, f.category).bind(7, f.created_since_ms).bind(8, f.text);
  const int64_t until =
      f.created_until_ms > 0 ? f.created_until_ms : std::numeric_limits<int64_t>::max();
  s.bind(9, until).bind(10, f.public_only ? 1 : 0);
  s.bind(11, static_cast<int>(Visibility::kPublic));
  std::vector<TicketRow> rows;
  while (s.step()) rows.push_back(read_ticket(s));
  if (!s.ok()) return Error{s.error()};
  return rows;
}

Result<std::vector<EventRow>> Store::events(const std::string& number) {
  Stmt s(*db_,
         "SELECT e.id, t.number, e.at, e.actor, e.kind, e.detail FROM events e JOIN tickets t ON "
         "t.id = e.ticket_id WHERE t.number = ?1 ORDER BY e.id");
  s.bind(1, number);
  std::vector<EventRow> rows;
  while (s.step()) rows.push_back({s.i64(0), s.text(1), s.i64(2), s.text(3), s.text(4), s.text(5)});
  if (!s.ok()) return Error{s.error()};
  return rows;
}

Result<std::vector<OutboxRow>> Store::outbox_for_ticket(const std::string& number) {
  std::string sql = std::string("SELECT ") + kOutboxColumns +
                    " FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE t.number = ?1 "
                    "ORDER BY o.id";
  Stmt s(*db_, sql.c_str());
  s.bind(1, number);
  std::vector<OutboxRow> rows;
  while (s.step()) rows.push_back(read_outbox(s));
  if (!s.ok()) return Error{s.error()};
  return rows;
}

Status Store::ping() {
  Stmt s(*db_, "SELECT 1 FROM outbox WHERE state = 'pending' LIMIT 1");
  s.step();
  if (!s.ok()) return Error{s.error()};
  return Status::Ok();
}

Result<std::vector<int64_t>> Store::sent_times(const std::string& account, int64_t since_ms) {
  Stmt s(*db_,
         "SELECT sent_at FROM outbox WHERE account = ?1 AND state = 'sent' AND sent_at > ?2 "
         "ORDER BY sent_at");
  s.bind(1, account).bind(2, since_ms);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.i64(0));
  if (!s.ok()) return Error{s.error()};
  return out;
}

Result<StoreCounts> Store::counts() {
  StoreCounts c;
  Stmt s(*db_,
         "SELECT (SELECT count(*) FROM tickets WHERE status = 'open'), "
         "(SELECT count(*) FROM tickets WHERE status = 'closed'), "
         "(SELECT count(*) FROM outbox WHERE state = 'pending'), "
         "(SELECT count(*) FROM outbox WHERE state = 'failed'), "
         "(SELECT count(*) FROM mentions_seen)");
  if (!s.step()) return Error{s.error()};
  c.tickets_open = s.i64(0);
  c.tickets_closed = s.i64(1);
  c.outbox_pending = s.i64(2);
  c.outbox_failed = s.i64(3);
  c.mentions_seen = s.i64(4);
  return c;
}

Result<StoreGauges> Store::gauges() {
  StoreGauges g;
  Stmt tickets(*db_,
               "SELECT department, priority, count(*) FROM tickets WHERE status = 'open' "
               "GROUP BY department, priority ORDER BY department, priority");
  while (tickets.step())
    g.open_tickets.push_back(
        {tickets.text(0), static_cast<Priority>(tickets.i64(1) & 3), tickets.i64(2)});
  if (!tickets.ok()) return Error{tickets.error()};
  Stmt queued(*db_,
              "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
              "(SELECT coalesce(min(created_at), 0) FROM outbox WHERE state = 'pending'), "
              "(SELECT count(*) FROM notifications WHERE state = 'pending')");
  if (!queued.step()) return Error{queued.error()};
  g.outbox_pending = queued.i64(0);
  g.outbox_oldest_pending_ms = queued.i64(1);
  g.notifications_pending = queued.i64(2);
  return g;
}

}  // namespace sotong
