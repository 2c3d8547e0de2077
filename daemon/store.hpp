// Store: the durable state of the desk, in SQLite (WAL, synchronous=FULL; the default) or
// PostgreSQL (several instances, see docs/guarantees.md): tickets, the
// outbox of replies to post, the notifications to departments' webhooks, the audit trail of
// events, the connectors' cursors, and every mention seen (so a mention delivered twice opens
// one ticket).
//
// Each public write is ONE transaction: ingesting a mention commits its ticket, its
// acknowledgement in the outbox, its event and the connector's cursor together; closing a
// ticket commits the status, the follow-up in the outbox and the event together; a ticket
// opened, reassigned or reopened commits its department's notification with it.
//
// Each of them is a savepoint when the store thread runs several jobs in one transaction
// (group commit): a job that fails rolls back alone.
//
// Threading: a Store is used by one thread at a time (the store thread, see StoreThread); it
// holds one db::Connection. Errors are values: Result/Status with the engine's message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/mention.hpp"
#include "daemon/rules.hpp"
#include "daemon/store/db.hpp"
#include "daemon/util/result.hpp"

namespace sotong {

struct TicketRow {
  int64_t id = 0;
  std::string number;
  std::string platform;
  std::string account;
  std::string mention_id;
  std::string author;
  std::string author_acct;
  std::string author_id;
  std::string text;
  std::string language;
  Visibility visibility = Visibility::kPublic;
  std::string department;
  std::string category;
  Priority priority = Priority::kNormal;
  std::string rule;
  std::string status;  // "open" or "closed"
  std::vector<std::string> tags;
  bool hidden = false;  // abusive text: no public reply; flagged for the department
  bool notify = false;  // the department is to be told at once
  std::string neighbourhood;
  int reopened = 0;  // times a citizen reopened it
  // Replies of the kind being drafted that the ticket already has (set for a draft only): a
  // second "added" or follow-up must not repeat the first word for word, which X refuses.
  int repeat = 0;
  std::string resolution;
  std::string closed_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t closed_at_ms = 0;
};

struct OutboxRow {
  int64_t id = 0;
  int64_t ticket_id = 0;
  std::string ticket_number;
  std::string kind;  // "ack", "followup"
  std::string account;
  std::string in_reply_to_id;
  std::string author_acct;
  std::string text;
  Visibility visibility = Visibility::kPublic;
  std::string language;
  Priority priority = Priority::kNormal;
  std::string idempotency_key;
  std::string state;  // "pending", "sent", "failed"
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::string platform_post_id;
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t sent_at_ms = 0;
};

// A notification to a department's webhook, queued with the ticket change it tells of.
struct NotificationRow {
  int64_t id = 0;
  int64_t ticket_id = 0;
  std::string ticket_number;
  std::string department;
  std::string event;    // "opened", "reassigned", "reopened"
  bool urgent = false;  // goes at once; the others may wait for the department's batch
  std::string payload;  // a JSON object: the ticket as of the event (notification::payload)
  std::string state;    // "pending", "delivered", "failed"
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  int last_status = 0;  // the receiver's last HTTP status; 0: no answer yet
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t delivered_at_ms = 0;
};

// The departments with a webhook: the store queues notifications for them only.
using NotifiedDepartments = std::set<std::string>;

struct EventRow {
  int64_t id = 0;
  std::string ticket_number;
  int64_t at_ms = 0;
  std::string actor;
  std::string kind;
  std::string detail;
};

// The text of a reply to queue, made once the ticket number is known.
struct ReplyDraft {
  std::string text;
  std::string language;
};
using DraftFn = std::function<Result<ReplyDraft>(const TicketRow& ticket)>;
// The same with the template key the store chose (ack, limit_reached, added, reopened ...).
using KeyedDraftFn =
    std::function<Result<ReplyDraft>(const TicketRow& ticket, const std::string& key)>;

// What the pipeline decided beyond the rules' Decision, for Store::ingest.
struct IngestOptions {
  std::string ack_key = "ack";              // empty: no acknowledgement (a hidden ticket)
  int author_ack_limit = 0;                 // acknowledgements per author per hour; 0: no limit
  std::string limit_key = "limit_reached";  // the last acknowledgement before the limit
  bool ack_thread_additions = false;        // a reply under an open ticket gets an "added" reply
  bool reopens = false;                     // the rules' reopen block matched the text
  std::string ticket_prefix;                // an account's own numbering; empty: the store's
  int ticket_year = 0;           // the year in the desk's time zone; 0: the machine's local year
  NotifiedDepartments notified;  // an opened or reopened ticket of these is notified
};

struct IngestOutcome {
  enum class Kind { kCreated, kDuplicate, kIgnored, kAddedToTicket, kReopened };
  Kind kind = Kind::kCreated;
  std::string ticket_number;    // the ticket opened, added to or reopened; kDuplicate: the first's
  int64_t outbox_id = 0;        // 0 when nothing was queued
  std::string reply_key;        // the template key queued, if any
  bool limited = false;         // the author's acknowledgement limit kept this one silent
  std::string department;       // of the ticket added to or reopened
  int64_t notification_id = 0;  // the department's notification queued, if any
};

struct CloseOutcome {
  enum class Kind { kClosed, kNotFound, kForbidden, kAlreadyClosed };
  Kind kind = Kind::kClosed;
  TicketRow ticket;
  int64_t outbox_id = 0;
};

struct ReopenOutcome {
  enum class Kind { kReopened, kNotFound, kForbidden, kAlreadyOpen };
  Kind kind = Kind::kReopened;
  TicketRow ticket;
  int64_t notification_id = 0;
};

struct ReassignOutcome {
  enum class Kind { kReassigned, kNotFound, kForbidden, kSameDepartment, kClosed };
  Kind kind = Kind::kReassigned;
  TicketRow ticket;  // as it is now, with its new department
  int64_t outbox_id = 0;
  int64_t notification_id = 0;  // the new department's notification, if any
};

struct CommentOutcome {
  // kNoPublicReply: a public reply was asked for a ticket that takes none (closed, or hidden
  // as abusive); kReplyRefused: the reply could not be made (too long for the platform, no
  // template): `why` says so. Nothing was written for either.
  enum class Kind { kCommented, kNotFound, kForbidden, kNoPublicReply, kReplyRefused };
  Kind kind = Kind::kCommented;
  TicketRow ticket;
  int64_t outbox_id = 0;  // the public reply queued, if any
  std::string why;
};

// The answer to a write, kept for its Idempotency-Key.
struct StoredAnswer {
  int status = 0;
  std::string body;
};

struct IdempotentAnswer {
  StoredAnswer answer;
  bool replayed = false;  // the key was used before: this is the first answer
  bool mismatch = false;  // the key was used before for another request: nothing was done
};

struct TicketFilter {
  std::string status;      // empty = any
  std::string department;  // empty = any
  int priority = -1;       // a Priority; -1 = any
  std::string category;    // empty = any
  int64_t created_since_ms = 0;
  int64_t created_until_ms = 0;  // tickets created before it; 0 = no bound
  std::string text;      // the mention's text contains it (case-folded where the engine can)
  int64_t after_id = 0;  // cursor: tickets with id > after_id
  int limit = 50;
  // Only what a public view may show: public mentions, not hidden as abusive.
  bool public_only = false;
  bool newest_first = false;  // by id, descending (after_id then still bounds from below)
};

struct StoreCounts {
  int64_t tickets_open = 0;
  int64_t tickets_closed = 0;
  int64_t outbox_pending = 0;
  int64_t outbox_failed = 0;
  int64_t mentions_seen = 0;
};

// What monitoring shows of the store (sotong_open_tickets and friends, docs/metrics.md).
struct StoreGauges {
  struct OpenTickets {
    std::string department;
    Priority priority = Priority::kNormal;
    int64_t count = 0;
  };
  std::vector<OpenTickets> open_tickets;  // non-zero ones only
  int64_t outbox_pending = 0;
  int64_t outbox_oldest_pending_ms = 0;  // when the oldest pending reply was queued; 0: none
  int64_t notifications_pending = 0;
};

class Store {
 public:
  // Opens (creating if needed) and migrates the database: an SQLite file's path or a
  // "postgresql://" URL. `ticket_prefix` makes numbers like SP-2026-000123.
  // `schema_version` 0 migrates to the latest; tests pass an older one to build old stores.
  static Result<std::unique_ptr<Store>> open(const std::string& location, std::string ticket_prefix,
                                             int schema_version = 0);
  static bool is_postgres_url(std::string_view location);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int schema_version_latest();
  Result<int> schema_version();
  db::Dialect dialect() const;

  // One transaction: records the mention as seen; unless it was seen before or is ignored,
  // opens a ticket, queues the acknowledgement made by `ack` (if ack is set), writes the
  // event; always advances the connector's cursor to mention.cursor (if non-empty).
  // `ticket_prefix` overrides the store's prefix (an account's own numbering).
  //
  // A mention replying to a post of one of the author's tickets (their mention or our reply)
  // joins that ticket instead: an event, and a reply only when configured; under a closed
  // ticket it reopens it only when `o.reopens`. Beyond `o.author_ack_limit` acknowledgements
  // in an hour a new ticket opens silently (urgent ones are always acknowledged).
  Result<IngestOutcome> ingest(const Mention& mention, const Decision& decision,
                               const IngestOptions& o, const KeyedDraftFn& draft, int64_t now_ms);
  // The simple form: every new ticket acknowledged with `ack` (tests and tools).
  Result<IngestOutcome> ingest(const Mention& mention, const Decision& decision, const DraftFn& ack,
                               int64_t now_ms, const std::string& ticket_prefix = "");

  Status set_cursor(const std::string& platform, const std::string& account,
                    const std::string& cursor, int64_t now_ms);
  Result<std::optional<std::string>> cursor(const std::string& platform,
                                            const std::string& account);

  // Pending outbox rows of an account that are due, urgent first, then oldest first; rows
  // another instance has claimed (and whose claim holds) are left out.
  Result<std::vector<OutboxRow>> due_outbox(const std::string& account, int64_t now_ms, int limit,
                                            const std::string& claimant = "");
  // Takes the row for `lease_ms` before posting it, so that other instances on one PostgreSQL
  // store leave it be (FOR UPDATE SKIP LOCKED); false when another holds it. A claim that
  // lapsed (its instance died) is taken over. On SQLite, one instance owns the store: true.
  Result<bool> claim(int64_t outbox_id, const std::string& claimant, int64_t now_ms,
                     int64_t lease_ms);
  // Gives back the claims of rows not posted (a sender stopping).
  Status release_claims(const std::string& account, const std::string& claimant);
  // The earliest next attempt time of the account's pending rows, if any.
  // Rows claimed by others count from when their claim lapses.
  Result<std::optional<int64_t>> next_due(const std::string& account,
                                          const std::string& claimant = "");
  Status mark_sent(int64_t outbox_id, const std::string& platform_post_id, int64_t now_ms);
  Status mark_retry(int64_t outbox_id, int64_t next_attempt_at_ms, const std::string& error);
  Status mark_failed(int64_t outbox_id, const std::string& error, int64_t now_ms);

  // One transaction: closes the ticket if `department` owns it (empty department = admin),
  // queues the follow-up made by `followup`, writes the event.
  Result<CloseOutcome> close_ticket(const std::string& number, const std::string& department,
                                    const std::string& resolution, const std::string& actor,
                                    const DraftFn& followup, int64_t now_ms);

  // One transaction: a department (empty = admin) opens its closed ticket again, with the
  // reason in the audit trail. Nothing is posted: the citizen hears at the next close. The
  // department is notified when it is in `notified`.
  Result<ReopenOutcome> reopen_ticket(const std::string& number, const std::string& department,
                                      const std::string& reason, const std::string& actor,
                                      int64_t now_ms, const NotifiedDepartments& notified = {});

  // One transaction: a department (empty = admin) hands its open ticket to `to`; the note
  // goes to the audit trail; `reply` (if set) queues a public "forwarded to ..." reply in the
  // citizen's thread. `to` is notified when it is in `notified`.
  Result<ReassignOutcome> reassign_ticket(const std::string& number, const std::string& department,
                                          const std::string& to, const std::string& note,
                                          const std::string& actor, const DraftFn& reply,
                                          int64_t now_ms, const NotifiedDepartments& notified = {});

  // One transaction: a department's (empty = admin) note on its ticket, in the audit trail;
  // with `reply` set, also a public interim reply queued in the citizen's thread (open and
  // not hidden tickets only).
  Result<CommentOutcome> comment_ticket(const std::string& number, const std::string& department,
                                        const std::string& text, const std::string& actor,
                                        const DraftFn& reply, int64_t now_ms);

  // Runs `write` at most once per (principal, key) within a day: a retry with the same key
  // and request gets the first answer back; with another request, `mismatch`. The answer is
  // kept in the same transaction as the write (PostgreSQL: a second instance waits for the
  // first's commit). An error from `write` keeps nothing.
  Result<IdempotentAnswer> idempotent(const std::string& principal, const std::string& key,
                                      const std::string& request_hash, int64_t now_ms,
                                      const std::function<Result<StoredAnswer>()>& write);
  // Replay rejection for signed requests: records the signature until `expires_at_ms`;
  // false when it was recorded before. Expired ones are forgotten.
  Result<bool> remember_signature(const std::string& signature, int64_t expires_at_ms,
                                  int64_t now_ms);

  // The notification queue (store_notify.cpp), drained by the Notifier like the outbox by
  // the Sender. Pending rows that are due, urgent first, then oldest; rows another instance
  // has claimed (and whose claim holds) are left out.
  Result<std::vector<NotificationRow>> due_notifications(int64_t now_ms, int limit,
                                                         const std::string& claimant = "",
                                                         const std::string& department = "");
  // Takes the rows for `lease_ms` before delivering them (as claim()); the ids it took. On
  // SQLite, one instance owns the store: all of them.
  Result<std::vector<int64_t>> claim_notifications(const std::vector<int64_t>& ids,
                                                   const std::string& claimant, int64_t now_ms,
                                                   int64_t lease_ms);
  Status release_notification_claims(const std::string& claimant);
  // The earliest next attempt of a pending row, if any; rows claimed by others count from
  // when their claim lapses.
  Result<std::optional<int64_t>> next_notification_due(const std::string& claimant = "");
  // One transaction each, with an event on every ticket for delivered and failed rows.
  // Rows no longer pending are left as they are.
  Status mark_notifications_delivered(const std::vector<int64_t>& ids, int status, int64_t now_ms);
  Status mark_notifications_retry(const std::vector<int64_t>& ids, int64_t next_attempt_at_ms,
                                  int status, const std::string& error);
  Status mark_notifications_failed(const std::vector<int64_t>& ids, int status,
                                   const std::string& error, int64_t now_ms);
  Result<std::vector<NotificationRow>> notifications_for_ticket(const std::string& number);

  Result<std::optional<TicketRow>> ticket(const std::string& number);
  Result<std::vector<TicketRow>> list_tickets(const TicketFilter& filter);
  Result<std::vector<EventRow>> events(const std::string& number);
  Result<std::vector<OutboxRow>> outbox_for_ticket(const std::string& number);
  Result<StoreCounts> counts();
  // Indexed counts, cheap enough for every scrape of /metrics.
  Result<StoreGauges> gauges();
  // When the account's replies since `since_ms` were posted, oldest first (the posting
  // budget after a restart).
  Result<std::vector<int64_t>> sent_times(const std::string& account, int64_t since_ms);
  // A cheap read that fails when the store does (for /healthz; counts() scans tables).
  Status ping();
  // The engine's work so far (SQLite only; see db::Connection::work_steps).
  int64_t work_steps() const { return db_->work_steps(); }
  // A small write: whether the store takes writes again after a full disk or a lost server.
  Status probe_write(int64_t now_ms);
  // The store thread's group transaction (group commit, see StoreThread). group_intact() is
  // false once the engine rolled it back by itself (a full disk, a lost server).
  Status begin_group();
  Status commit_group();
  void rollback_group();
  bool group_intact() const;
  // The most recent environmental fault (full, read-only, I/O, server gone) since the last
  // call; kNone when there was none.
  db::Fault take_environmental_fault();
  // The fault of the most recent failure.
  db::Fault last_fault() const;

 private:
  Store(std::unique_ptr<db::Connection> db, std::string prefix);
  std::string lock_clause() const;
  Status exec(const char* sql);
  Status migrate(int target);
  Result<std::string> next_ticket_number(int64_t now_ms, const std::string& prefix, int year = 0);
  Result<int64_t> queue_reply(const TicketRow& t, const std::string& kind, const ReplyDraft& d,
                              const std::string& in_reply_to, int64_t now_ms);
  Result<int64_t> replies_of_kind(int64_t ticket_id, const std::string& kind);
  Result<int64_t> acks_since(const Mention& m, int64_t since_ms);
  Result<std::optional<TicketRow>> thread_ticket(const Mention& m);
  Status add_thread_post(int64_t ticket_id, const std::string& platform, const std::string& account,
                         const std::string& post_id);
  Status add_event(int64_t ticket_id, int64_t at_ms, const std::string& actor,
                   const std::string& kind, const std::string& detail);
  // Queues the notification of `event` to the ticket's department if it is in `notified`;
  // its id, or 0 when none was queued.
  Result<int64_t> queue_notification(const TicketRow& t, std::string_view event,
                                     const std::string& from, const NotifiedDepartments& notified,
                                     int64_t now_ms);
  // The ticket a department (empty = admin) is about to write, locked, and whether it may.
  enum class Access { kGranted, kNotFound, kForbidden };
  Result<Access> writable_ticket(const std::string& number, const std::string& department,
                                 TicketRow* out);
  Result<std::optional<TicketRow>> ticket_where(const char* where, const std::string& arg,
                                                bool for_update = false);

  std::unique_ptr<db::Connection> db_;
  std::string prefix_;
};

}  // namespace sotong
