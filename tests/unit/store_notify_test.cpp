// The notification queue in the store, on both engines (built into the unit tests and, with
// SOTONG_STORE_ON_POSTGRES, into the PostgreSQL tests): rows queued in the same transaction
// as the ticket change, claimed, retried, delivered or failed, and listed per ticket.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "daemon/store.hpp"
#include "store_fixture.hpp"

namespace sotong {
namespace {

Mention mention(const std::string& id,
                const std::string& text = "육교에 구멍이 났어요 010-1234-5678") {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.id = id;
  m.author = "citizen";
  m.author_acct = "citizen@example.org";
  m.author_id = "42";
  m.text = text;
  m.language = "ko";
  m.visibility = Visibility::kPublic;
  return m;
}

Mention reply_to(const std::string& id, const std::string& parent, const std::string& text) {
  Mention m = mention(id, text);
  m.in_reply_to_id = parent;
  return m;
}

Decision decision(const std::string& department, Priority p = Priority::kNormal) {
  Decision d;
  d.department = department;
  d.category = "footbridge";
  d.priority = p;
  d.rule = "footbridge";
  return d;
}

KeyedDraftFn ack() {
  return [](const TicketRow& t, const std::string&) -> Result<ReplyDraft> {
    return ReplyDraft{"@" + t.author_acct + " 접수번호 " + t.number, "ko"};
  };
}

// Roads and parks have a webhook; welfare has none.
IngestOptions options() {
  IngestOptions o;
  o.notified = {"roads", "parks"};
  return o;
}

class NotificationStoreTest : public test_support::StoreFixture {
 protected:
  std::string open_ticket(const std::string& id, const std::string& department = "roads",
                          Priority p = Priority::kNormal) {
    auto r = store->ingest(mention(id), decision(department, p), options(), ack(), 1'000);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r->ticket_number : "";
  }
  std::vector<NotificationRow> of(const std::string& ticket) {
    auto rows = store->notifications_for_ticket(ticket);
    EXPECT_TRUE(rows.ok()) << rows.error();
    return rows.ok() ? *rows : std::vector<NotificationRow>{};
  }
};

TEST_F(NotificationStoreTest, OpeningATicketQueuesItsDepartmentsNotification) {
  auto r = store->ingest(mention("1"), decision("roads"), options(), ack(), 1'000).value();
  ASSERT_NE(r.notification_id, 0);
  auto rows = of(r.ticket_number);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, r.notification_id);
  EXPECT_EQ(rows[0].event, "opened");
  EXPECT_EQ(rows[0].department, "roads");
  EXPECT_EQ(rows[0].state, "pending");
  EXPECT_FALSE(rows[0].urgent);
  EXPECT_EQ(rows[0].next_attempt_at_ms, 1'000) << "due at once";
  auto p = boost::json::parse(rows[0].payload).as_object();
  EXPECT_EQ(p.at("ticket").as_string(), r.ticket_number);
  EXPECT_EQ(p.at("category").as_string(), "footbridge");
  EXPECT_EQ(p.at("text").as_string().find("010-1234-5678"), std::string::npos)
      << "personal data is masked";
  EXPECT_FALSE(p.contains("author"));
}

TEST_F(NotificationStoreTest, ADepartmentWithoutAWebhookGetsNoNotification) {
  auto r = store->ingest(mention("1"), decision("welfare"), options(), ack(), 1'000).value();
  EXPECT_EQ(r.notification_id, 0);
  EXPECT_TRUE(of(r.ticket_number).empty());
  EXPECT_TRUE(store->due_notifications(2'000, 10)->empty());
}

TEST_F(NotificationStoreTest, ATicketChangeThatRollsBackLeavesNoNotification) {
  KeyedDraftFn broken = [](const TicketRow&, const std::string&) -> Result<ReplyDraft> {
    return Error{"template broke"};
  };
  EXPECT_FALSE(store->ingest(mention("1"), decision("roads"), options(), broken, 1'000).ok());
  EXPECT_TRUE(store->due_notifications(2'000, 10)->empty());
  auto t = open_ticket("2");
  DraftFn refused = [](const TicketRow&) -> Result<ReplyDraft> { return Error{"too long"}; };
  EXPECT_FALSE(store
                   ->reassign_ticket(t, "roads", "parks", "", "department:roads", refused, 2'000,
                                     {"roads", "parks"})
                   .ok());
  ASSERT_EQ(of(t).size(), 1u) << "only the opening; the reassignment never happened";
  EXPECT_EQ(store->ticket(t).value()->department, "roads");
}

TEST_F(NotificationStoreTest, ReassigningNotifiesTheNewDepartmentWithWhereItCameFrom) {
  auto t = open_ticket("1");
  auto r = store
               ->reassign_ticket(t, "roads", "parks", "공원 안", "department:roads", {}, 2'000,
                                 {"roads", "parks"})
               .value();
  ASSERT_NE(r.notification_id, 0);
  auto rows = of(t);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].event, "reassigned");
  EXPECT_EQ(rows[1].department, "parks");
  auto p = boost::json::parse(rows[1].payload).as_object();
  EXPECT_EQ(p.at("from").as_string(), "roads");
  EXPECT_EQ(p.at("department").as_string(), "parks");
  // To a department without a webhook: nothing.
  auto quiet =
      store->reassign_ticket(t, "parks", "welfare", "", "department:parks", {}, 3'000, {"parks"})
          .value();
  EXPECT_EQ(quiet.notification_id, 0);
  EXPECT_EQ(of(t).size(), 2u);
}

TEST_F(NotificationStoreTest, ADepartmentsReopenAndACitizensReopenAreNotified) {
  auto t = open_ticket("100");
  ASSERT_EQ(store->close_ticket(t, "roads", "고쳤습니다", "department:roads", {}, 2'000)->kind,
            CloseOutcome::Kind::kClosed);
  auto r = store->reopen_ticket(t, "roads", "아직", "department:roads", 3'000, {"roads"}).value();
  ASSERT_EQ(r.kind, ReopenOutcome::Kind::kReopened);
  ASSERT_NE(r.notification_id, 0);
  ASSERT_EQ(store->close_ticket(t, "roads", "다시 고쳤습니다", "department:roads", {}, 4'000)->kind,
            CloseOutcome::Kind::kClosed);
  IngestOptions o = options();
  o.reopens = true;
  auto again =
      store->ingest(reply_to("101", "100", "아직도 그대로예요"), decision("roads"), o, ack(), 5'000)
          .value();
  ASSERT_EQ(again.kind, IngestOutcome::Kind::kReopened);
  ASSERT_NE(again.notification_id, 0);
  auto rows = of(t);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].event, "reopened");
  EXPECT_EQ(rows[2].event, "reopened");
  EXPECT_EQ(boost::json::parse(rows[2].payload).at("status").as_string(), "open");
}

TEST_F(NotificationStoreTest, UrgentAndFlaggedTicketsAreUrgentAndDueFirst) {
  open_ticket("1");
  auto urgent = open_ticket("2", "roads", Priority::kUrgent);
  Decision flagged = decision("parks");
  flagged.notify = true;
  auto f = store->ingest(mention("3"), flagged, options(), ack(), 1'000)->ticket_number;
  auto due = store->due_notifications(1'000, 10).value();
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].ticket_number, urgent);
  EXPECT_TRUE(due[0].urgent);
  EXPECT_EQ(due[1].ticket_number, f);
  EXPECT_TRUE(due[1].urgent);
  EXPECT_FALSE(due[2].urgent);
  EXPECT_EQ(store->due_notifications(1'000, 1)->size(), 1u) << "the limit holds";
  // Read per department, one department's queue never hides another's.
  auto parks = store->due_notifications(1'000, 1, "", "parks").value();
  ASSERT_EQ(parks.size(), 1u);
  EXPECT_EQ(parks[0].ticket_number, f);
  EXPECT_EQ(store->due_notifications(1'000, 10, "", "roads")->size(), 2u);
  EXPECT_EQ(store->due_notifications(1'000, 10, "", "welfare")->size(), 0u);
}

TEST_F(NotificationStoreTest, ARetryWaitsThenDeliveryLeavesTheQueueAndIsAudited) {
  auto t = open_ticket("1");
  const int64_t id = of(t)[0].id;
  ASSERT_TRUE(store->mark_notifications_retry({id}, 5'000, 503, "HTTP 503").ok());
  EXPECT_TRUE(store->due_notifications(4'999, 10)->empty());
  EXPECT_EQ(**store->next_notification_due(), 5'000);
  auto row = of(t)[0];
  EXPECT_EQ(row.state, "pending");
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.last_status, 503);
  EXPECT_EQ(row.last_error, "HTTP 503");
  ASSERT_EQ(store->due_notifications(5'000, 10)->size(), 1u);
  ASSERT_TRUE(store->mark_notifications_delivered({id}, 200, 6'000).ok());
  row = of(t)[0];
  EXPECT_EQ(row.state, "delivered");
  EXPECT_EQ(row.attempts, 2);
  EXPECT_EQ(row.last_status, 200);
  EXPECT_EQ(row.last_error, "");
  EXPECT_EQ(row.delivered_at_ms, 6'000);
  EXPECT_TRUE(store->due_notifications(10'000, 10)->empty());
  EXPECT_FALSE(store->next_notification_due()->has_value());
  EXPECT_EQ(store->events(t)->back().kind, "notification_delivered");
  // Recorded once: a late second record changes nothing.
  ASSERT_TRUE(store->mark_notifications_failed({id}, 500, "late", 7'000).ok());
  EXPECT_EQ(of(t)[0].state, "delivered");
}

TEST_F(NotificationStoreTest, AFailedNotificationIsFinalAndAudited) {
  auto t = open_ticket("1");
  auto u = open_ticket("2");
  const std::vector<int64_t> ids{of(t)[0].id, of(u)[0].id};
  ASSERT_TRUE(store->mark_notifications_failed(ids, 410, "HTTP 410: gone", 2'000).ok());
  for (const auto& n : {t, u}) {
    auto row = of(n)[0];
    EXPECT_EQ(row.state, "failed");
    EXPECT_EQ(row.last_status, 410);
    EXPECT_EQ(store->events(n)->back().kind, "notification_failed");
  }
  EXPECT_TRUE(store->due_notifications(10'000, 10)->empty());
}

TEST_F(NotificationStoreTest, AClaimedNotificationIsLeftToItsClaimantUntilTheClaimLapses) {
  auto t = open_ticket("1");
  const int64_t id = of(t)[0].id;
  const int64_t now = 10'000;
  auto won = store->claim_notifications({id}, "a/notify", now, 40'000).value();
  EXPECT_EQ(won, std::vector<int64_t>{id});
#ifdef SOTONG_STORE_ON_POSTGRES
  // Another instance neither sees nor takes it meanwhile.
  EXPECT_TRUE(store->due_notifications(now + 1, 10, "b/notify")->empty());
  EXPECT_TRUE(store->claim_notifications({id}, "b/notify", now + 1, 40'000)->empty());
  EXPECT_EQ(**store->next_notification_due("b/notify"), now + 40'000);
  EXPECT_EQ(store->due_notifications(now + 1, 10, "a/notify")->size(), 1u);
  // The claim lapses (its instance died): taken over; given back: free at once.
  EXPECT_EQ(store->claim_notifications({id}, "b/notify", now + 50'000, 40'000)->size(), 1u);
  ASSERT_TRUE(store->release_notification_claims("b/notify").ok());
  EXPECT_EQ(store->claim_notifications({id}, "c/notify", now + 50'001, 40'000)->size(), 1u);
  ASSERT_TRUE(store->mark_notifications_delivered({id}, 204, now + 50'002).ok());
  EXPECT_TRUE(store->claim_notifications({id}, "c/notify", now + 50'003, 40'000)->empty())
      << "delivered: nobody claims it any more";
#else
  // One instance owns an SQLite store: claims are not written.
  EXPECT_EQ(store->due_notifications(now + 1, 10, "b/notify")->size(), 1u);
  ASSERT_TRUE(store->release_notification_claims("a/notify").ok());
#endif
}

}  // namespace
}  // namespace sotong
