// The department API's store transactions (comments, Idempotency-Keys, signatures), on both
// engines like store_test.cpp.
#include <gtest/gtest.h>

#include "daemon/store.hpp"
#include "store_fixture.hpp"

namespace sotong {
namespace {

using namespace store_test;  // NOLINT(google-build-using-namespace)

class StoreHookTest : public StoreTest {
 protected:
  std::string open_ticket(const std::string& id = "100") {
    auto r = store->ingest(sample(id), roads(), ack(), 1'000);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r->ticket_number : "";
  }
  DraftFn update() {
    return [](const TicketRow& t) -> Result<ReplyDraft> {
      return ReplyDraft{"@" + t.author_acct + " update " + std::to_string(t.repeat), "ko"};
    };
  }
  int64_t pending(const std::string& number) {
    int64_t n = 0;
    auto rows = store->outbox_for_ticket(number);
    for (const auto& o : *rows) n += o.state == "pending" ? 1 : 0;
    return n;
  }
};

TEST_F(StoreHookTest, AnInternalNoteGoesToTheAuditTrailOnlyWithItsAuthor) {
  auto n = open_ticket();
  auto r =
      store->comment_ticket(n, "roads", "crew booked for Tuesday", "department:roads", {}, 2'000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kind, CommentOutcome::Kind::kCommented);
  EXPECT_EQ(r->outbox_id, 0);
  EXPECT_EQ(pending(n), 1);  // the acknowledgement only
  auto ev = store->events(n);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->back().kind, "comment");
  EXPECT_EQ(ev->back().actor, "department:roads");
  EXPECT_EQ(ev->back().detail, "crew booked for Tuesday");
  EXPECT_EQ(store->ticket(n)->value().updated_at_ms, 2'000);
}

TEST_F(StoreHookTest, APublicCommentQueuesANumberedUpdateInTheThread) {
  auto n = open_ticket();
  auto first = store->comment_ticket(n, "roads", "parts ordered", "department:roads", update(), 2);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_NE(first->outbox_id, 0);
  auto second = store->comment_ticket(n, "", "fixed tomorrow", "admin:kim", update(), 3);
  ASSERT_TRUE(second.ok()) << second.error();
  auto out = store->outbox_for_ticket(n);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[1].kind, "update");
  EXPECT_EQ((*out)[1].text, "@citizen@example.org update 0");
  EXPECT_EQ((*out)[2].text, "@citizen@example.org update 1");  // a second one is told apart
  EXPECT_EQ((*out)[2].in_reply_to_id, "100");
  auto ev = store->events(n);
  EXPECT_EQ((*ev)[ev->size() - 2].actor, "admin:kim");
  EXPECT_EQ((*ev)[ev->size() - 2].kind, "comment_public");
}

TEST_F(StoreHookTest, CommentsAreRefusedWhereTheyMayNotGo) {
  auto n = open_ticket();
  EXPECT_EQ(store->comment_ticket("SP-2026-999999", "roads", "x", "a", {}, 2)->kind,
            CommentOutcome::Kind::kNotFound);
  EXPECT_EQ(store->comment_ticket(n, "welfare", "x", "a", {}, 2)->kind,
            CommentOutcome::Kind::kForbidden);
  DraftFn refused = [](const TicketRow&) -> Result<ReplyDraft> {
    return Error{"281 characters, the limit on x is 280"};
  };
  auto r = store->comment_ticket(n, "roads", "long", "a", refused, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, CommentOutcome::Kind::kReplyRefused);
  EXPECT_NE(r->why.find("280"), std::string::npos);
  ASSERT_TRUE(store->close_ticket(n, "roads", "done", "a", ack(), 3).ok());
  EXPECT_EQ(store->comment_ticket(n, "roads", "x", "a", update(), 4)->kind,
            CommentOutcome::Kind::kNoPublicReply);
  // Nothing of the refused ones was written; a note on a closed ticket is fine.
  EXPECT_EQ(store->comment_ticket(n, "roads", "for the record", "a", {}, 5)->kind,
            CommentOutcome::Kind::kCommented);
  int comments = 0;
  auto events = store->events(n);
  for (const auto& e : *events) comments += e.kind.rfind("comment", 0) == 0 ? 1 : 0;
  EXPECT_EQ(comments, 1);
}

TEST_F(StoreHookTest, AnIdempotencyKeyRunsTheWriteOnceAndReturnsTheFirstAnswer) {
  auto n = open_ticket();
  int runs = 0;
  auto close = [&]() -> Result<StoredAnswer> {
    ++runs;
    auto r = store->close_ticket(n, "roads", "done", "department:roads", ack(), 5);
    if (!r) return Error{r.error()};
    return StoredAnswer{r->kind == CloseOutcome::Kind::kClosed ? 200 : 409, "{\"n\":1}"};
  };
  auto first = store->idempotent("department:roads", "k-1", "h", 10, close);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->answer.status, 200);
  auto again = store->idempotent("department:roads", "k-1", "h", 20, close);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->answer.status, 200);  // not the 409 a second close would give
  EXPECT_EQ(again->answer.body, "{\"n\":1}");
  EXPECT_EQ(runs, 1);
  // The same key for another request does nothing and says so.
  auto other = store->idempotent("department:roads", "k-1", "other", 30, close);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->mismatch);
  EXPECT_EQ(runs, 1);
  // Keys are the caller's own: another department's same key is a new request.
  auto theirs = store->idempotent("department:welfare", "k-1", "h", 40, close);
  EXPECT_FALSE(theirs->replayed);
  EXPECT_EQ(runs, 2);
  // One follow-up was queued, however often it was asked.
  int followups = 0;
  auto rows = store->outbox_for_ticket(n);
  for (const auto& o : *rows) followups += o.kind == "followup" ? 1 : 0;
  EXPECT_EQ(followups, 1);
}

TEST_F(StoreHookTest, AFailedWriteKeepsNoAnswerSoARetryRunsIt) {
  auto fail = []() -> Result<StoredAnswer> { return Error{"store went away"}; };
  EXPECT_FALSE(store->idempotent("department:roads", "k-2", "h", 10, fail).ok());
  int runs = 0;
  auto ok = [&]() -> Result<StoredAnswer> {
    ++runs;
    return StoredAnswer{200, "{}"};
  };
  auto r = store->idempotent("department:roads", "k-2", "h", 11, ok);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(runs, 1);
}

TEST_F(StoreHookTest, IdempotencyKeysAreForgottenAfterADay) {
  auto ok = []() -> Result<StoredAnswer> { return StoredAnswer{200, "{}"}; };
  ASSERT_TRUE(store->idempotent("a", "k", "h", 1'000, ok).ok());
  EXPECT_TRUE(store->idempotent("a", "k", "h", 1'000 + 3'600'000, ok)->replayed);
  EXPECT_FALSE(store->idempotent("a", "k", "h", 1'000 + 25 * 3'600'000LL, ok)->replayed);
}

TEST_F(StoreHookTest, ASignatureIsTakenOnceUntilItExpires) {
  EXPECT_TRUE(*store->remember_signature("abc", 300'000, 1'000));
  EXPECT_FALSE(*store->remember_signature("abc", 300'000, 2'000));
  EXPECT_TRUE(*store->remember_signature("def", 300'000, 2'000));
  // Past its window the clock refuses it anyway; the row is dropped.
  EXPECT_TRUE(*store->remember_signature("abc", 900'000, 400'000));
}

}  // namespace
}  // namespace sotong
