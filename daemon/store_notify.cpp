// The notification queue's transactions: rows queued inside the ticket changes they tell of
// (store.cpp calls queue_notification), claimed and marked by the Notifier like the outbox's
// rows by the Sender.
#include "daemon/notification.hpp"
#include "daemon/store.hpp"
#include "daemon/store/sql.hpp"

namespace sotong {

using store_sql::insert_id;
using store_sql::Stmt;
using store_sql::Transaction;

namespace {

const char* const kNotificationColumns =
    "n.id, n.ticket_id, t.number, n.department, n.event, n.urgent, n.payload, n.state, "
    "n.attempts, n.next_attempt_at, n.last_status, n.last_error, n.created_at, n.delivered_at";

NotificationRow read_notification(const Stmt& s) {
  NotificationRow n;
  n.id = s.i64(0);
  n.ticket_id = s.i64(1);
  n.ticket_number = s.text(2);
  n.department = s.text(3);
  n.event = s.text(4);
  n.urgent = s.i64(5) != 0;
  n.payload = s.text(6);
  n.state = s.text(7);
  n.attempts = static_cast<int>(s.i64(8));
  n.next_attempt_at_ms = s.i64(9);
  n.last_status = static_cast<int>(s.i64(10));
  n.last_error = s.text(11);
  n.created_at_ms = s.i64(12);
  n.delivered_at_ms = s.i64(13);
  return n;
}

// A row an update changed, for its ticket's audit trail.
struct Changed {
  int64_t id = 0;
  int64_t ticket_id = 0;
  std::string department;
  std::string event;
  int attempts = 0;
};

// Runs `sql` (?1 the id; RETURNING ticket_id, department, event, attempts) for each id, with
// `bind` binding the rest; the rows it changed.
template <class Bind>
Result<std::vector<Changed>> update_each(db::Connection& db, const std::vector<int64_t>& ids,
                                         const char* sql, const Bind& bind) {
  std::vector<Changed> out;
  for (int64_t id : ids) {
    Stmt s(db, sql);
    s.bind(1, id);
    bind(s);
    if (s.step()) {
      out.push_back({id, s.i64(0), s.text(1), s.text(2), static_cast<int>(s.i64(3))});
      if (auto st = s.run(); !st) return Error{st.error()};
    } else if (!s.ok()) {
      return Error{"notification " + std::to_string(id) + ": " + s.error()};
    }
  }
  return out;
}

std::string detail_of(const Changed& c, int status) {
  return "id=" + std::to_string(c.id) + " department=" + c.department + " event=" + c.event +
         " attempts=" + std::to_string(c.attempts) +
         (status > 0 ? " status=" + std::to_string(status) : std::string());
}

}  // namespace

Result<int64_t> Store::queue_notification(const TicketRow& t, std::string_view event,
                                          const std::string& from,
                                          const NotifiedDepartments& notified, int64_t now_ms) {
  if (!notified.contains(t.department)) return int64_t{0};
  auto id = insert_id(*db_,
                      "INSERT INTO notifications (ticket_id, department, event, urgent, payload, "
                      "state, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                      "'pending', ?6, ?6)",
                      [&](Stmt& s) {
                        s.bind(1, t.id).bind(2, t.department).bind(3, std::string(event));
                        s.bind(4, notification::urgent(t) ? 1 : 0);
                        s.bind(5, notification::payload(t, event, from, now_ms)).bind(6, now_ms);
                      });
  if (!id) return Error{"queue notification: " + id.error()};
  return *id;
}

Result<std::vector<NotificationRow>> Store::due_notifications(int64_t now_ms, int limit,
                                                              const std::string& claimant,
                                                              const std::string& department) {
  const std::string sql = std::string("SELECT ") + kNotificationColumns +
                          " FROM notifications n JOIN tickets t ON t.id = n.ticket_id WHERE "
                          "n.state = 'pending' AND n.next_attempt_at <= ?1 AND "
                          "(n.claimed_until <= ?1 OR n.claimed_by = ?3) AND "
                          "(?4 = '' OR n.department = ?4) "
                          "ORDER BY n.urgent DESC, n.id LIMIT ?2";
  Stmt s(*db_, sql);
  s.bind(1, now_ms).bind(2, limit).bind(3, claimant).bind(4, department);
  std::vector<NotificationRow> rows;
  while (s.step()) rows.push_back(read_notification(s));
  if (!s.ok()) return Error{s.error()};
  return rows;
}

Result<std::vector<int64_t>> Store::claim_notifications(const std::vector<int64_t>& ids,
                                                        const std::string& claimant, int64_t now_ms,
                                                        int64_t lease_ms) {
  // One instance owns an SQLite store (the lock file): nothing to claim against.
  if (db_->dialect() == db::Dialect::kSqlite) return ids;
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  std::vector<int64_t> won;
  for (int64_t id : ids) {
    auto took = store_sql::claim_row(*db_, "notifications", id, claimant, now_ms, lease_ms);
    if (!took) return Error{took.error()};
    if (*took) won.push_back(id);
  }
  if (auto st = tx.commit(); !st) return Error{st.error()};
  return won;
}

Status Store::release_notification_claims(const std::string& claimant) {
  Stmt s(*db_,
         "UPDATE notifications SET claimed_until = 0 WHERE claimed_by = ?1 AND "
         "state = 'pending' AND claimed_until > 0");
  s.bind(1, claimant);
  return s.run();
}

Result<std::optional<int64_t>> Store::next_notification_due(const std::string& claimant) {
  Stmt s(*db_,
         "SELECT min(CASE WHEN claimed_by != ?1 AND claimed_until > next_attempt_at THEN "
         "claimed_until ELSE next_attempt_at END) FROM notifications WHERE state = 'pending'");
  s.bind(1, claimant);
  if (s.step() && !s.is_null(0)) return std::optional<int64_t>(s.i64(0));
  if (!s.ok()) return Error{s.error()};
  return std::optional<int64_t>();
}

Status Store::mark_notifications_delivered(const std::vector<int64_t>& ids, int status,
                                           int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  auto changed = update_each(
      *db_, ids,
      "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, last_status = ?2, "
      "last_error = '', delivered_at = ?3, claimed_until = 0 WHERE id = ?1 AND "
      "state = 'pending' RETURNING ticket_id, department, event, attempts",
      [&](Stmt& s) { s.bind(2, status).bind(3, now_ms); });
  if (!changed) return Error{changed.error()};
  for (const auto& c : *changed)
    if (auto s = add_event(c.ticket_id, now_ms, "sotongd", "notification_delivered",
                           detail_of(c, status));
        !s)
      return s;
  return tx.commit();
}

Status Store::mark_notifications_retry(const std::vector<int64_t>& ids, int64_t next_attempt_at_ms,
                                       int status, const std::string& error) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  auto changed = update_each(
      *db_, ids,
      "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?2, last_status = ?3, "
      "last_error = ?4, claimed_until = 0 WHERE id = ?1 AND state = 'pending' "
      "RETURNING ticket_id, department, event, attempts",
      [&](Stmt& s) { s.bind(2, next_attempt_at_ms).bind(3, status).bind(4, error); });
  if (!changed) return Error{changed.error()};
  return tx.commit();
}

Status Store::mark_notifications_failed(const std::vector<int64_t>& ids, int status,
                                        const std::string& error, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  auto changed = update_each(
      *db_, ids,
      "UPDATE notifications SET state = 'failed', attempts = attempts + 1, last_status = ?2, "
      "last_error = ?3, claimed_until = 0 WHERE id = ?1 AND state = 'pending' "
      "RETURNING ticket_id, department, event, attempts",
      [&](Stmt& s) { s.bind(2, status).bind(3, error); });
  if (!changed) return Error{changed.error()};
  for (const auto& c : *changed)
    if (auto s = add_event(c.ticket_id, now_ms, "sotongd", "notification_failed",
                           detail_of(c, status) + ": " + error);
        !s)
      return s;
  return tx.commit();
}

Result<std::vector<NotificationRow>> Store::notifications_for_ticket(const std::string& number) {
  const std::string sql = std::string("SELECT ") + kNotificationColumns +
                          " FROM notifications n JOIN tickets t ON t.id = n.ticket_id WHERE "
                          "t.number = ?1 ORDER BY n.id";
  Stmt s(*db_, sql);
  s.bind(1, number);
  std::vector<NotificationRow> rows;
  while (s.step()) rows.push_back(read_notification(s));
  if (!s.ok()) return Error{s.error()};
  return rows;
}

}  // namespace sotong
