// The department API's own transactions: comments and interim replies, the answers kept for
// Idempotency-Keys, and the signatures kept against replays.
#include "daemon/store.hpp"
#include "daemon/store/sql.hpp"

namespace sotong {

using store_sql::Stmt;
using store_sql::Transaction;

namespace {
// Stripe's and the IETF draft's usual lifetime: long enough for any sane retry.
constexpr int64_t kIdempotencyKeyLifetimeMs = 24LL * 3600 * 1000;
}  // namespace

Result<CommentOutcome> Store::comment_ticket(const std::string& number,
                                             const std::string& department, const std::string& text,
                                             const std::string& actor, const DraftFn& reply,
                                             int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  CommentOutcome out;
  auto access = writable_ticket(number, department, &out.ticket);
  if (!access) return Error{access.error()};
  if (*access != Access::kGranted) {
    out.kind = *access == Access::kNotFound ? CommentOutcome::Kind::kNotFound
                                            : CommentOutcome::Kind::kForbidden;
    return out;
  }
  if (reply && (out.ticket.status != "open" || out.ticket.hidden)) {
    out.kind = CommentOutcome::Kind::kNoPublicReply;
    return out;
  }
  if (auto s = add_event(out.ticket.id, now_ms, actor, reply ? "comment_public" : "comment", text);
      !s)
    return Error{s.error()};
  if (reply) {
    auto n = replies_of_kind(out.ticket.id, "update");
    if (!n) return Error{n.error()};
    TicketRow shown = out.ticket;
    shown.repeat = static_cast<int>(*n);
    auto draft = reply(shown);
    if (!draft) {
      out.kind = CommentOutcome::Kind::kReplyRefused;
      out.why = draft.error();
      return out;
    }
    auto id = queue_reply(out.ticket, "update", *draft, out.ticket.mention_id, now_ms);
    if (!id) return Error{id.error()};
    out.outbox_id = *id;
    if (auto s = add_event(out.ticket.id, now_ms, "sotongd", "update_queued",
                           "outbox=" + std::to_string(*id));
        !s)
      return Error{s.error()};
  }
  Stmt up(*db_, "UPDATE tickets SET updated_at = ?2 WHERE id = ?1");
  up.bind(1, out.ticket.id).bind(2, now_ms);
  if (auto s = up.run(); !s) return Error{"comment: " + s.error()};
  out.ticket.updated_at_ms = now_ms;
  if (auto s = tx.commit(); !s) return Error{s.error()};
  return out;
}

Result<IdempotentAnswer> Store::idempotent(const std::string& principal, const std::string& key,
                                           const std::string& request_hash, int64_t now_ms,
                                           const std::function<Result<StoredAnswer>()>& write) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  {
    Stmt old(*db_, "DELETE FROM idempotency_keys WHERE created_at < ?1");
    old.bind(1, now_ms - kIdempotencyKeyLifetimeMs);
    if (auto s = old.run(); !s) return Error{"idempotency keys: " + s.error()};
  }
  // The key is taken first: on PostgreSQL a second instance with the same key waits here
  // for this transaction, then finds the answer.
  bool fresh = false;
  {
    // Statements end before the commit (a RETURNING row left unread keeps one open).
    Stmt take(*db_,
              "INSERT INTO idempotency_keys (principal, key, request_hash, status, body, "
              "created_at) VALUES (?1, ?2, ?3, 0, '', ?4) ON CONFLICT DO NOTHING RETURNING 1");
    take.bind(1, principal).bind(2, key).bind(3, request_hash).bind(4, now_ms);
    fresh = take.step();
    if (!take.ok()) return Error{"idempotency key: " + take.error()};
  }
  IdempotentAnswer out;
  if (!fresh) {
    {
      Stmt seen(*db_,
                "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = ?1 "
                "AND key = ?2");
      seen.bind(1, principal).bind(2, key);
      if (!seen.step()) return Error{"idempotency key: " + seen.error()};
      if (seen.text(0) != request_hash) {
        out.mismatch = true;
      } else {
        out.replayed = true;
        out.answer.status = static_cast<int>(seen.i64(1));
        out.answer.body = seen.text(2);
      }
    }
    if (auto s = tx.commit(); !s) return Error{s.error()};
    return out;
  }
  auto answer = write();
  if (!answer) return Error{answer.error()};
  Stmt keep(*db_,
            "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE principal = ?1 AND key = ?2");
  keep.bind(1, principal).bind(2, key).bind(3, int64_t{answer->status}).bind(4, answer->body);
  if (auto s = keep.run(); !s) return Error{"idempotency key: " + s.error()};
  if (auto s = tx.commit(); !s) return Error{s.error()};
  out.answer = std::move(*answer);
  return out;
}

Result<bool> Store::remember_signature(const std::string& signature, int64_t expires_at_ms,
                                       int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.begun()) return Error{tx.error()};
  Stmt old(*db_, "DELETE FROM hook_signatures WHERE expires_at < ?1");
  old.bind(1, now_ms);
  if (auto s = old.run(); !s) return Error{"signatures: " + s.error()};
  bool fresh = false;
  {
    Stmt add(*db_,
             "INSERT INTO hook_signatures (signature, expires_at) VALUES (?1, ?2) "
             "ON CONFLICT DO NOTHING RETURNING 1");
    add.bind(1, signature).bind(2, expires_at_ms);
    fresh = add.step();
    if (!add.ok()) return Error{"signatures: " + add.error()};
  }
  if (auto s = tx.commit(); !s) return Error{s.error()};
  return fresh;
}

}  // namespace sotong
