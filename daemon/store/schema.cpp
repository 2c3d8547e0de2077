// The store's tables: SQLite's migrations, one per version, and PostgreSQL's schema at the
// latest version. The same tables and columns on both (the store's tests run on both).
#include "daemon/store/schema.hpp"

namespace sotong::schema {

// Each entry migrates from version i to i+1. Never edit a shipped entry: add one.
const char* const kSqliteMigrations[] = {
    R"sql(
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  mention_id TEXT NOT NULL,
  author TEXT NOT NULL,
  author_acct TEXT NOT NULL,
  text TEXT NOT NULL,
  language TEXT NOT NULL,
  visibility INTEGER NOT NULL,
  department TEXT NOT NULL,
  category TEXT NOT NULL,
  priority INTEGER NOT NULL,
  rule TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  resolution TEXT NOT NULL DEFAULT '',
  closed_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (platform, account, mention_id)
);
CREATE INDEX tickets_status_department ON tickets (status, department, id);
CREATE TABLE ticket_sequence (year INTEGER PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE mentions_seen (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  mention_id TEXT NOT NULL,
  ticket_id INTEGER REFERENCES tickets (id),
  decision TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (platform, account, mention_id)
);
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  in_reply_to_id TEXT NOT NULL,
  author_acct TEXT NOT NULL,
  text TEXT NOT NULL,
  visibility INTEGER NOT NULL,
  language TEXT NOT NULL,
  priority INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  platform_post_id TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  sent_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (account, state, priority, next_attempt_at, id);
CREATE INDEX outbox_ticket ON outbox (ticket_id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);
CREATE TABLE cursors (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  cursor TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (platform, account)
);
)sql",
    // v2: a ticket sequence per prefix, so several handles can number their own tickets.
    // '' stands for the configuration's default prefix.
    R"sql(
CREATE TABLE ticket_sequence_by_prefix (
  prefix TEXT NOT NULL,
  year INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (prefix, year)
);
INSERT INTO ticket_sequence_by_prefix (prefix, year, last) SELECT '', year, last FROM ticket_sequence;
DROP TABLE ticket_sequence;
CREATE INDEX outbox_state ON outbox (state);
)sql",
    // v3: threads (every post of a ticket's thread, so a citizen's reply finds its ticket),
    // the author's platform id (acknowledgement limits), tags and flags from the rules.
    R"sql(
ALTER TABLE tickets ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN neighbourhood TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_author ON tickets (platform, account, author_id);
CREATE TABLE thread_posts (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  post_id TEXT NOT NULL,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  PRIMARY KEY (platform, account, post_id)
);
INSERT OR IGNORE INTO thread_posts (platform, account, post_id, ticket_id)
  SELECT platform, account, mention_id, id FROM tickets;
INSERT OR IGNORE INTO thread_posts (platform, account, post_id, ticket_id)
  SELECT t.platform, o.account, o.platform_post_id, o.ticket_id FROM outbox o
  JOIN tickets t ON t.id = o.ticket_id WHERE o.platform_post_id != '';
CREATE INDEX outbox_sent ON outbox (account, sent_at) WHERE state = 'sent';
)sql",
    // v4: claims on outbox rows, so instances sharing a PostgreSQL store never post one row
    // at once; a row the store thread writes to when checking the store takes writes again.
    R"sql(
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
CREATE TABLE store_health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);
)sql",
    // v5: the department API: notifications to departments' webhooks (a durable queue with
    // claims, like the outbox), the answers to writes sent with an Idempotency-Key, and the
    // signatures of signed requests still inside their window (replays are refused).
    R"sql(
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  department TEXT NOT NULL,
  event TEXT NOT NULL,
  urgent INTEGER NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  delivered_at INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT NOT NULL DEFAULT '',
  claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at, id);
CREATE INDEX notifications_ticket ON notifications (ticket_id, id);
CREATE TABLE idempotency_keys (
  principal TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE TABLE hook_signatures (signature TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE INDEX hook_signatures_expiry ON hook_signatures (expires_at);
)sql",
};

// PostgreSQL's schema at version 4 (the first shipped); kPostgresMigrations take it to the
// latest, to the same tables and columns as the SQLite migrations build (the store tests run
// against both). Cursors compare bytewise (COLLATE "C"): they are
// decimal ids compared by length, then by text.

const char* const kPostgres = R"sql(
CREATE TABLE tickets (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  mention_id TEXT NOT NULL,
  author TEXT NOT NULL,
  author_acct TEXT NOT NULL,
  text TEXT NOT NULL,
  language TEXT NOT NULL,
  visibility BIGINT NOT NULL,
  department TEXT NOT NULL,
  category TEXT NOT NULL,
  priority BIGINT NOT NULL,
  rule TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  resolution TEXT NOT NULL DEFAULT '',
  closed_by TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  closed_at BIGINT NOT NULL DEFAULT 0,
  author_id TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  hidden BIGINT NOT NULL DEFAULT 0,
  notify BIGINT NOT NULL DEFAULT 0,
  neighbourhood TEXT NOT NULL DEFAULT '',
  reopened BIGINT NOT NULL DEFAULT 0,
  UNIQUE (platform, account, mention_id)
);
CREATE INDEX tickets_status_department ON tickets (status, department, id);
CREATE INDEX tickets_author ON tickets (platform, account, author_id);
CREATE TABLE ticket_sequence_by_prefix (
  prefix TEXT NOT NULL,
  year BIGINT NOT NULL,
  last BIGINT NOT NULL,
  PRIMARY KEY (prefix, year)
);
CREATE TABLE mentions_seen (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  mention_id TEXT NOT NULL,
  ticket_id BIGINT REFERENCES tickets (id),
  decision TEXT NOT NULL,
  seen_at BIGINT NOT NULL,
  PRIMARY KEY (platform, account, mention_id)
);
CREATE TABLE outbox (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ticket_id BIGINT NOT NULL REFERENCES tickets (id),
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  in_reply_to_id TEXT NOT NULL,
  author_acct TEXT NOT NULL,
  text TEXT NOT NULL,
  visibility BIGINT NOT NULL,
  language TEXT NOT NULL,
  priority BIGINT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  platform_post_id TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  sent_at BIGINT NOT NULL DEFAULT 0,
  claimed_by TEXT NOT NULL DEFAULT '',
  claimed_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (account, state, priority, next_attempt_at, id);
CREATE INDEX outbox_ticket ON outbox (ticket_id);
CREATE INDEX outbox_state ON outbox (state);
CREATE INDEX outbox_sent ON outbox (account, sent_at) WHERE state = 'sent';
CREATE TABLE events (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ticket_id BIGINT NOT NULL REFERENCES tickets (id),
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);
CREATE TABLE cursors (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  cursor TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (platform, account)
);
CREATE TABLE thread_posts (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  post_id TEXT NOT NULL,
  ticket_id BIGINT NOT NULL REFERENCES tickets (id),
  PRIMARY KEY (platform, account, post_id)
);
CREATE TABLE store_health (id BIGINT PRIMARY KEY CHECK (id = 1), checked_at BIGINT NOT NULL);
)sql";

// PostgreSQL stores created at version 4 (the first shipped) move up by these.
const char* const kPostgresMigrations[] = {
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    // v5: as SQLite's v5.
    R"sql(
CREATE TABLE notifications (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ticket_id BIGINT NOT NULL REFERENCES tickets (id),
  department TEXT NOT NULL,
  event TEXT NOT NULL,
  urgent BIGINT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_status BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  delivered_at BIGINT NOT NULL DEFAULT 0,
  claimed_by TEXT NOT NULL DEFAULT '',
  claimed_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at, id);
CREATE INDEX notifications_ticket ON notifications (ticket_id, id);
CREATE TABLE idempotency_keys (
  principal TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status BIGINT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
CREATE TABLE hook_signatures (signature TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE INDEX hook_signatures_expiry ON hook_signatures (expires_at);
)sql",
};

const int kLatestVersion = sizeof(kSqliteMigrations) / sizeof(kSqliteMigrations[0]);

}  // namespace sotong::schema
