#include "daemon/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "store_fixture.hpp"
#include "temp_dir.hpp"

namespace sotong {
namespace {

using namespace store_test;  // NOLINT(google-build-using-namespace)

TEST_F(StoreTest, IngestOpensTicketQueuesAckAndMovesCursorTogether) {
  auto r = store->ingest(sample("100", "5"), roads(), ack(), 1'700'000'000'000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kind, IngestOutcome::Kind::kCreated);
  EXPECT_TRUE(std::regex_match(r->ticket_number, std::regex("SP-[0-9]{4}-000001")));
  auto due = store->due_outbox("songpa", 1'700'000'000'000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].in_reply_to_id, "100");
  EXPECT_EQ((*due)[0].text, "@citizen@example.org 접수번호 " + r->ticket_number);
  EXPECT_EQ(**store->cursor("mastodon", "songpa"), "5");
  auto ev = store->events(r->ticket_number);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->size(), 2u);
}

TEST_F(StoreTest, MentionSeenTwiceOpensOneTicket) {
  ASSERT_TRUE(store->ingest(sample("100"), roads(), ack(), 1).ok());
  auto again = store->ingest(sample("100"), roads(), ack(), 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kind, IngestOutcome::Kind::kDuplicate);
  EXPECT_EQ(store->due_outbox("songpa", 10, 10)->size(), 1u);
  EXPECT_EQ(store->counts()->tickets_open, 1);
}

TEST_F(StoreTest, FailedAckRenderingRollsBackEverything) {
  DraftFn broken = [](const TicketRow&) -> Result<ReplyDraft> { return Error{"template broke"}; };
  auto r = store->ingest(sample("100", "9"), roads(), broken, 1);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(store->counts()->tickets_open, 0);
  EXPECT_EQ(store->counts()->mentions_seen, 0);
  EXPECT_FALSE(store->cursor("mastodon", "songpa")->has_value());
  // The ticket number was not used up either.
  auto ok = store->ingest(sample("100"), roads(), ack(), 1);
  EXPECT_EQ(ok->ticket_number.substr(ok->ticket_number.size() - 6), "000001");
}

TEST_F(StoreTest, IgnoredMentionIsRememberedWithoutATicket) {
  Decision d;
  d.action = Decision::Action::kIgnore;
  d.ignore_reason = "bot";
  auto r = store->ingest(sample("7", "7"), d, ack(), 1);
  EXPECT_EQ(r->kind, IngestOutcome::Kind::kIgnored);
  EXPECT_EQ(store->counts()->tickets_open, 0);
  EXPECT_EQ(store->ingest(sample("7"), roads(), ack(), 2)->kind, IngestOutcome::Kind::kDuplicate);
}

TEST_F(StoreTest, CursorOnlyMovesForward) {
  ASSERT_TRUE(store->set_cursor("mastodon", "songpa", "100", 1).ok());
  ASSERT_TRUE(store->set_cursor("mastodon", "songpa", "99", 1).ok());
  EXPECT_EQ(**store->cursor("mastodon", "songpa"), "100");
  ASSERT_TRUE(store->set_cursor("mastodon", "songpa", "1000", 1).ok());
  EXPECT_EQ(**store->cursor("mastodon", "songpa"), "1000");
}

TEST_F(StoreTest, UrgentRepliesAreDueFirst) {
  store->ingest(sample("1"), roads(Priority::kLow), ack(), 1).value();
  store->ingest(sample("2"), roads(Priority::kUrgent), ack(), 2).value();
  store->ingest(sample("3"), roads(Priority::kNormal), ack(), 3).value();
  auto due = store->due_outbox("songpa", 10, 10);
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].in_reply_to_id, "2");
  EXPECT_EQ((*due)[1].in_reply_to_id, "3");
  EXPECT_EQ((*due)[2].in_reply_to_id, "1");
}

TEST_F(StoreTest, RetryDelaysAndSentRemovesFromDue) {
  store->ingest(sample("1"), roads(), ack(), 1).value();
  auto row = (*store->due_outbox("songpa", 1, 1))[0];
  ASSERT_TRUE(store->mark_retry(row.id, 5000, "HTTP 503").ok());
  EXPECT_TRUE(store->due_outbox("songpa", 4999, 10)->empty());
  EXPECT_EQ(**store->next_due("songpa"), 5000);
  ASSERT_EQ(store->due_outbox("songpa", 5000, 10)->size(), 1u);
  ASSERT_TRUE(store->mark_sent(row.id, "post-1", 6000).ok());
  EXPECT_TRUE(store->due_outbox("songpa", 9999, 10)->empty());
  auto rows = store->outbox_for_ticket(row.ticket_number);
  EXPECT_EQ((*rows)[0].state, "sent");
  EXPECT_EQ((*rows)[0].platform_post_id, "post-1");
  EXPECT_EQ((*rows)[0].attempts, 2);
}

TEST_F(StoreTest, CloseQueuesFollowUpInTheSameThreadOnce) {
  auto t = store->ingest(sample("100"), roads(), ack(), 1)->ticket_number;
  DraftFn follow = [](const TicketRow& row) -> Result<ReplyDraft> {
    return ReplyDraft{"done: " + row.resolution, "ko"};
  };
  auto c = store->close_ticket(t, "roads", "보수 완료", "department:roads", follow, 2);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->kind, CloseOutcome::Kind::kClosed);
  auto rows = store->outbox_for_ticket(t);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].kind, "followup");
  EXPECT_EQ((*rows)[1].in_reply_to_id, "100");
  EXPECT_EQ((*rows)[1].text, "done: 보수 완료");
  EXPECT_EQ(store->close_ticket(t, "roads", "x", "a", follow, 3)->kind,
            CloseOutcome::Kind::kAlreadyClosed);
  EXPECT_EQ(store->outbox_for_ticket(t)->size(), 2u);
}

TEST_F(StoreTest, ADepartmentReopensItsClosedTicketAndTheNextCloseIsNumbered) {
  auto t = store->ingest(sample("100"), roads(), ack(), 1)->ticket_number;
  std::vector<int> repeats;
  DraftFn followup = [&](const TicketRow& row) -> Result<ReplyDraft> {
    repeats.push_back(row.repeat);
    return ReplyDraft{"처리 " + row.number + " " + std::to_string(row.repeat), "ko"};
  };
  EXPECT_EQ(store->reopen_ticket(t, "roads", "아직", "department:roads", 2)->kind,
            ReopenOutcome::Kind::kAlreadyOpen);
  ASSERT_EQ(store->close_ticket(t, "roads", "보수 완료", "department:roads", followup, 3)->kind,
            CloseOutcome::Kind::kClosed);
  EXPECT_EQ(store->reopen_ticket(t, "parks", "x", "department:parks", 4)->kind,
            ReopenOutcome::Kind::kForbidden);
  EXPECT_EQ(store->reopen_ticket("SP-2026-999999", "roads", "x", "department:roads", 4)->kind,
            ReopenOutcome::Kind::kNotFound);
  auto r = store->reopen_ticket(t, "roads", "아직 구멍이 있음", "department:roads", 5).value();
  EXPECT_EQ(r.kind, ReopenOutcome::Kind::kReopened);
  EXPECT_EQ(r.ticket.status, "open");
  EXPECT_TRUE(r.ticket.resolution.empty());
  EXPECT_EQ(r.ticket.reopened, 0) << "counts citizens' reopens only";
  auto events = store->events(t).value();
  EXPECT_EQ(events.back().kind, "reopened");
  EXPECT_EQ(events.back().actor, "department:roads");
  EXPECT_EQ(events.back().detail, "아직 구멍이 있음");
  EXPECT_EQ(store->counts()->outbox_pending, 2) << "the ack and the first follow-up; nothing new";
  ASSERT_EQ(store->close_ticket(t, "roads", "재보수 완료", "department:roads", followup, 6)->kind,
            CloseOutcome::Kind::kClosed);
  EXPECT_EQ(repeats, (std::vector<int>{0, 1}));
}

TEST_F(StoreTest, ADepartmentHandsItsTicketToAnotherAndMayTellTheCitizen) {
  auto t = store->ingest(sample("100"), roads(), ack(), 1)->ticket_number;
  DraftFn reply = [](const TicketRow& row) -> Result<ReplyDraft> {
    return ReplyDraft{"옮김 " + row.number + " " + row.department, "ko"};
  };
  EXPECT_EQ(store->reassign_ticket(t, "parks", "roads", "", "department:parks", {}, 2)->kind,
            ReassignOutcome::Kind::kForbidden);
  EXPECT_EQ(store->reassign_ticket(t, "roads", "roads", "", "department:roads", {}, 2)->kind,
            ReassignOutcome::Kind::kSameDepartment);
  auto r =
      store->reassign_ticket(t, "roads", "parks", "공원 안입니다", "department:roads", reply, 3)
          .value();
  ASSERT_EQ(r.kind, ReassignOutcome::Kind::kReassigned);
  EXPECT_EQ(r.ticket.department, "parks");
  ASSERT_NE(r.outbox_id, 0);
  auto rows = store->outbox_for_ticket(t).value();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].kind, "reassigned");
  EXPECT_EQ(rows[1].text, "옮김 " + t + " parks") << "the reply names the new department";
  auto events = store->events(t).value();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].kind, "reassigned");
  EXPECT_EQ(events[events.size() - 2].detail, "roads -> parks: 공원 안입니다");
  // The old department has no hold on it any more; the new one closes it.
  EXPECT_EQ(store->close_ticket(t, "roads", "x", "department:roads", {}, 4)->kind,
            CloseOutcome::Kind::kForbidden);
  EXPECT_EQ(store->close_ticket(t, "parks", "정리했습니다", "department:parks", {}, 5)->kind,
            CloseOutcome::Kind::kClosed);
  EXPECT_EQ(store->reassign_ticket(t, "parks", "roads", "", "department:parks", {}, 6)->kind,
            ReassignOutcome::Kind::kClosed);
}

TEST_F(StoreTest, AnotherDepartmentCannotClose) {
  auto t = store->ingest(sample("100"), roads(), ack(), 1)->ticket_number;
  auto c = store->close_ticket(t, "welfare", "x", "department:welfare", nullptr, 2);
  EXPECT_EQ(c->kind, CloseOutcome::Kind::kForbidden);
  EXPECT_EQ((*store->ticket(t))->status, "open");
  EXPECT_EQ(store->close_ticket("SP-2026-424242", "roads", "x", "a", nullptr, 2)->kind,
            CloseOutcome::Kind::kNotFound);
}

TEST_F(StoreTest, ListFiltersAndPaginates) {
  for (int i = 0; i < 5; ++i) store->ingest(sample(std::to_string(i)), roads(), ack(), i).value();
  TicketFilter f;
  f.department = "roads";
  f.limit = 2;
  auto page1 = store->list_tickets(f);
  ASSERT_EQ(page1->size(), 2u);
  f.after_id = page1->back().id;
  auto page2 = store->list_tickets(f);
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_GT((*page2)[0].id, page1->back().id);
  f.department = "welfare";
  EXPECT_TRUE(store->list_tickets(f)->empty());
}

TEST_F(StoreTest, ListFiltersByPriorityCategoryTimeAndText) {
  Mention a = sample("1");
  a.text = "Streetlight out on Jamsil-ro";
  Mention b = sample("2");
  b.text = "육교 계단이 부서졌어요";
  Decision lights = roads();
  lights.category = "streetlight";
  ASSERT_TRUE(store->ingest(a, lights, ack(), 1'000).ok());
  ASSERT_TRUE(store->ingest(b, roads(Priority::kUrgent), ack(), 5'000).ok());
  TicketFilter f;
  f.priority = static_cast<int>(Priority::kUrgent);
  EXPECT_EQ(listed(f), std::vector<std::string>{"2"});
  f = {};
  f.category = "streetlight";
  EXPECT_EQ(listed(f), std::vector<std::string>{"1"});
  f = {};
  f.created_since_ms = 2'000;
  EXPECT_EQ(listed(f), std::vector<std::string>{"2"});
  f = {};
  f.text = "STREETLIGHT";
  EXPECT_EQ(listed(f), std::vector<std::string>{"1"}) << "ASCII case folded on both engines";
  f.text = "계단";
  EXPECT_EQ(listed(f), std::vector<std::string>{"2"});
  f.text = "%";
  EXPECT_TRUE(listed(f).empty()) << "a plain substring, no patterns";
}

TEST_F(StoreTest, APublicListLeavesOutPrivateAndHiddenTicketsNewestFirstWithinItsWindow) {
  Mention direct = sample("2");
  direct.visibility = Visibility::kDirect;
  Mention unlisted = sample("3");
  unlisted.visibility = Visibility::kUnlisted;
  Decision hidden = roads();
  hidden.hide = true;
  ASSERT_TRUE(store->ingest(sample("1"), roads(), ack(), 1'000).ok());
  ASSERT_TRUE(store->ingest(direct, roads(), ack(), 2'000).ok());
  ASSERT_TRUE(store->ingest(unlisted, roads(), ack(), 3'000).ok());
  ASSERT_TRUE(store->ingest(sample("4"), hidden, ack(), 4'000).ok());
  ASSERT_TRUE(store->ingest(sample("5"), roads(), ack(), 5'000).ok());
  ASSERT_TRUE(store->ingest(sample("6"), roads(), ack(), 6'000).ok());
  TicketFilter f;
  f.public_only = true;
  f.newest_first = true;
  EXPECT_EQ(listed(f), (std::vector<std::string>{"6", "5", "1"}));
  f.created_until_ms = 6'000;
  EXPECT_EQ(listed(f), (std::vector<std::string>{"5", "1"})) << "the bound is exclusive";
  f.created_since_ms = 1'001;
  EXPECT_EQ(listed(f), (std::vector<std::string>{"5"}));
  f = {};
  f.created_until_ms = 1'700'000'000'000;  // beyond 32 bits on both engines
  EXPECT_EQ(listed(f).size(), 6u) << "without public_only every ticket is listed";
}

TEST_F(StoreTest, GaugesCountOpenTicketsByDepartmentAndPriorityAndTheWaitingOutbox) {
  auto empty = store->gauges();
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_TRUE(empty->open_tickets.empty());
  EXPECT_EQ(empty->outbox_pending, 0);
  EXPECT_EQ(empty->outbox_oldest_pending_ms, 0);
  ASSERT_TRUE(store->ingest(sample("1"), roads(), ack(), 1'000).ok());
  ASSERT_TRUE(store->ingest(sample("2"), roads(Priority::kUrgent), ack(), 2'000).ok());
  auto closed = store->ingest(sample("3"), roads(), ack(), 3'000).value();
  ASSERT_TRUE(store->close_ticket(closed.ticket_number, "", "fixed", "admin", ack(), 4'000).ok());
  auto g = store->gauges();
  ASSERT_TRUE(g.ok()) << g.error();
  ASSERT_EQ(g->open_tickets.size(), 2u);
  EXPECT_EQ(g->open_tickets[0].department, "roads");
  EXPECT_EQ(g->open_tickets[0].priority, Priority::kUrgent);
  EXPECT_EQ(g->open_tickets[0].count, 1);
  EXPECT_EQ(g->open_tickets[1].priority, Priority::kNormal);
  EXPECT_EQ(g->open_tickets[1].count, 1) << "the closed ticket is not counted";
  EXPECT_EQ(g->outbox_pending, 4) << "three acknowledgements and a follow-up";
  EXPECT_EQ(g->outbox_oldest_pending_ms, 1'000);
  EXPECT_EQ(g->notifications_pending, 0);
}

TEST_F(StoreTest, DataSurvivesReopen) {
  auto t = store->ingest(sample("100", "100"), roads(), ack(), 1)->ticket_number;
  store.reset();
  auto s = Store::open(location, "SP");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->schema_version().value(), Store::schema_version_latest());
  EXPECT_TRUE((*(*s)->ticket(t)).has_value());
  EXPECT_EQ(**(*s)->cursor("mastodon", "songpa"), "100");
}

TEST_F(StoreTest, EachPrefixNumbersItsOwnTickets) {
  auto a = store->ingest(sample("1"), roads(), ack(), 1)->ticket_number;
  auto b = store->ingest(sample("2"), roads(), ack(), 2, "GN")->ticket_number;
  auto c = store->ingest(sample("3"), roads(), ack(), 3, "GN")->ticket_number;
  auto d = store->ingest(sample("4"), roads(), ack(), 4, "SP")->ticket_number;
  EXPECT_EQ(a.substr(0, 3), "SP-");
  EXPECT_EQ(a.substr(a.size() - 6), "000001");
  EXPECT_EQ(b.substr(0, 3), "GN-");
  EXPECT_EQ(b.substr(b.size() - 6), "000001");
  EXPECT_EQ(c.substr(c.size() - 6), "000002");
  EXPECT_EQ(d.substr(d.size() - 6), "000002");  // SP given explicitly is the default's sequence
}

#ifndef SOTONG_STORE_ON_POSTGRES  // SQLite files
TEST(StoreMigration, VersionOneStoreWithDataMigratesAndKeepsNumbering) {
  TempDir dir;
  const auto path = dir.path() / "v1.db";
  constexpr int64_t kJune2026 = 1'780'272'000'000;
  {
    auto v1 = Store::open(path, "SP", 1);
    ASSERT_TRUE(v1.ok()) << v1.error();
    EXPECT_EQ((*v1)->schema_version().value(), 1);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO ticket_sequence VALUES (2026, 41);"
                         "INSERT INTO tickets (number, platform, account, mention_id, author, "
                         "author_acct, text, language, visibility, department, category, priority, "
                         "rule, status, created_at, updated_at) VALUES ('SP-2026-000041', "
                         "'mastodon', 'songpa', '99', 'a', 'a', '육교', 'ko', 0, 'roads', "
                         "'footbridge', 1, 'footbridge', 'open', 1, 1);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto latest = Store::open(path, "SP");
  ASSERT_TRUE(latest.ok()) << latest.error();
  EXPECT_EQ((*latest)->schema_version().value(), Store::schema_version_latest());
  EXPECT_TRUE((*(*latest)->ticket("SP-2026-000041")).has_value());
  auto next = (*latest)->ingest(sample("100"), roads(), ack(), kJune2026);
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_EQ(next->ticket_number, "SP-2026-000042");
}
#endif

#ifndef SOTONG_STORE_ON_POSTGRES  // SQLite files
TEST(StoreOpen, RefusesADamagedFile) {
  TempDir dir;
  auto p = dir.write(
      "bad.db", std::string("SQLite format 3") + std::string(1, '\0') + std::string(5000, 'x'));
  auto s = Store::open(p, "SP");
  EXPECT_FALSE(s.ok());
}
#endif

#ifndef SOTONG_STORE_ON_POSTGRES  // SQLite files
TEST(StoreOpen, RefusesANewerSchema) {
  TempDir dir;
  {
    auto s = Store::open(dir.path() / "n.db", "SP");
    ASSERT_TRUE(s.ok());
  }
  sqlite3* db = nullptr;
  sqlite3_open((dir.path() / "n.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = Store::open(dir.path() / "n.db", "SP");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("newer"), std::string::npos);
}
#endif

// Threads, reopening, per-author limits (schema v3).

KeyedDraftFn keyed() {
  return [](const TicketRow& t, const std::string& key) -> Result<ReplyDraft> {
    return ReplyDraft{"@" + t.author_acct + " " + key + " " + t.number, "ko"};
  };
}

Mention reply_to(const std::string& id, const std::string& parent, const std::string& text) {
  Mention m = sample(id);
  m.author_id = "42";
  m.in_reply_to_id = parent;
  m.text = text;
  return m;
}

TEST_F(StoreTest, AReplyUnderAnOpenTicketJoinsItWithoutANewTicket) {
  Mention first = sample("100");
  first.author_id = "42";
  IngestOptions o;
  auto opened = store->ingest(first, roads(), o, keyed(), 1);
  ASSERT_TRUE(opened.ok()) << opened.error();
  auto added = store->ingest(reply_to("101", "100", "사진 추가합니다"), roads(), o, keyed(), 2);
  ASSERT_TRUE(added.ok()) << added.error();
  EXPECT_EQ(added->kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(added->ticket_number, opened->ticket_number);
  EXPECT_EQ(added->outbox_id, 0);  // no reply unless configured
  EXPECT_EQ(store->counts()->tickets_open, 1);
  auto events = store->events(opened->ticket_number).value();
  EXPECT_EQ(events.back().kind, "citizen_reply");
  EXPECT_EQ(events.back().detail, "사진 추가합니다");
  // Configured: an "added" reply under the citizen's new post.
  o.ack_thread_additions = true;
  auto again = store->ingest(reply_to("102", "101", "하나 더"), roads(), o, keyed(), 3).value();
  EXPECT_EQ(again.kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(again.reply_key, "added");
  auto rows = store->outbox_for_ticket(opened->ticket_number).value();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].kind, "added");
  EXPECT_EQ(rows[1].in_reply_to_id, "102");
  // The draft learns how many replies of its kind came before (the second one is numbered).
  std::vector<int> repeats;
  KeyedDraftFn counting = [&](const TicketRow& t, const std::string& key) -> Result<ReplyDraft> {
    repeats.push_back(t.repeat);
    return ReplyDraft{key + " " + std::to_string(t.repeat), "ko"};
  };
  ASSERT_TRUE(store->ingest(reply_to("103", "102", "또 하나"), roads(), o, counting, 4).ok());
  ASSERT_EQ(repeats, std::vector<int>{1});
}

TEST_F(StoreTest, ReplyingToOurPostedReplyFindsTheTicket) {
  Mention first = sample("100");
  first.author_id = "42";
  auto opened = store->ingest(first, roads(), IngestOptions{}, keyed(), 1).value();
  ASSERT_TRUE(store->mark_sent(opened.outbox_id, "900", 2).ok());
  auto added = store->ingest(reply_to("101", "900", "언제 고쳐지나요"), roads(), IngestOptions{},
                             keyed(), 3);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(added->ticket_number, opened.ticket_number);
}

TEST_F(StoreTest, AReplyUnderAPostWeNeverLearnedIsFoundThroughItsConversation) {
  Mention first = sample("100");
  first.author_id = "42";
  auto opened = store->ingest(first, roads(), IngestOptions{}, keyed(), 1).value();
  // Our reply was posted but recorded without its id (X's "duplicate content" answer): the
  // citizen answers under a post the store does not know, in the conversation of their mention.
  Mention under = reply_to("101", "555", "사진 추가합니다");
  under.thread_id = "100";
  auto r = store->ingest(under, roads(), IngestOptions{}, keyed(), 2).value();
  EXPECT_EQ(r.kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(r.ticket_number, opened.ticket_number);
  // Someone else in that conversation still gets a ticket of their own.
  Mention other = reply_to("102", "555", "저희 집 앞도 그래요");
  other.thread_id = "100";
  other.author_id = "77";
  other.author_acct = "other@example.org";
  EXPECT_EQ(store->ingest(other, roads(), IngestOptions{}, keyed(), 3)->kind,
            IngestOutcome::Kind::kCreated);
}

TEST_F(StoreTest, AnAnswerToOurUnrecordedReplyFindsTheAuthorsTicket) {
  // The citizen's mention answers another citizen's post (a conversation that is not theirs);
  // our reply to it was posted but recorded without its id.
  Mention first = reply_to("200", "150", "저도 같은 문제가 있어요");
  auto opened = store->ingest(first, roads(), IngestOptions{}, keyed(), 1).value();
  ASSERT_EQ(opened.kind, IngestOutcome::Kind::kCreated);
  ASSERT_TRUE(store->mark_sent(opened.outbox_id, "duplicate", 2).ok());
  Mention under = reply_to("201", "999", "사진 추가합니다");
  under.thread_id = "150";
  under.in_reply_to_self = true;
  auto r = store->ingest(under, roads(), IngestOptions{}, keyed(), 3).value();
  EXPECT_EQ(r.kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(r.ticket_number, opened.ticket_number);
}

TEST_F(StoreTest, SomeoneElseInTheThreadOpensTheirOwnTicket) {
  Mention first = sample("100");
  first.author_id = "42";
  auto opened = store->ingest(first, roads(), IngestOptions{}, keyed(), 1).value();
  Mention other = reply_to("101", "100", "저희 집 앞도 그래요");
  other.author_id = "77";
  other.author_acct = "neighbour@example.org";
  auto r = store->ingest(other, roads(), IngestOptions{}, keyed(), 2).value();
  EXPECT_EQ(r.kind, IngestOutcome::Kind::kCreated);
  EXPECT_NE(r.ticket_number, opened.ticket_number);
}

TEST_F(StoreTest, AfterACloseOnlyReopenWordsReopen) {
  Mention first = sample("100");
  first.author_id = "42";
  auto opened = store->ingest(first, roads(), IngestOptions{}, keyed(), 1).value();
  ASSERT_EQ(
      store->close_ticket(opened.ticket_number, "roads", "고쳤습니다", "roads", nullptr, 2)->kind,
      CloseOutcome::Kind::kClosed);
  IngestOptions thanks;  // reopens = false: the rules' reopen block did not match
  auto r = store->ingest(reply_to("101", "100", "감사합니다"), roads(), thanks, keyed(), 3).value();
  EXPECT_EQ(r.kind, IngestOutcome::Kind::kAddedToTicket);
  EXPECT_EQ(r.outbox_id, 0);
  EXPECT_EQ(store->ticket(opened.ticket_number).value()->status, "closed");
  EXPECT_EQ(store->events(opened.ticket_number)->back().kind, "citizen_reply_after_close");

  IngestOptions reopen;
  reopen.reopens = true;
  auto again =
      store->ingest(reply_to("102", "100", "아직도 그대로예요"), roads(), reopen, keyed(), 4);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->kind, IngestOutcome::Kind::kReopened);
  EXPECT_EQ(again->reply_key, "reopened");
  EXPECT_EQ(again->department, "roads");
  auto t = store->ticket(opened.ticket_number).value();
  EXPECT_EQ(t->status, "open");
  EXPECT_EQ(t->reopened, 1);
  // The department can close it again, and a second follow-up is queued.
  auto closed =
      store->close_ticket(opened.ticket_number, "roads", "다시 고쳤습니다", "roads", ack(), 5);
  EXPECT_EQ(closed->kind, CloseOutcome::Kind::kClosed);
  EXPECT_NE(closed->outbox_id, 0);
}

TEST_F(StoreTest, TheAuthorLimitWarnsOnceThenOpensSilently) {
  IngestOptions o;
  o.author_ack_limit = 3;
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    Mention m = sample(std::to_string(100 + i));
    m.author_id = "42";
    auto r = store->ingest(m, roads(), o, keyed(), 1000 + i);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->kind, IngestOutcome::Kind::kCreated);
    keys.push_back(r->reply_key);
    EXPECT_EQ(r->limited, i >= 3);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"ack", "ack", "limit_reached", "", ""}));
  EXPECT_EQ(store->counts()->tickets_open, 5);
  // Urgent ones are always answered.
  Mention urgent = sample("200");
  urgent.author_id = "42";
  auto u = store->ingest(urgent, roads(Priority::kUrgent), o, keyed(), 2000).value();
  EXPECT_FALSE(u.limited);
  EXPECT_EQ(u.reply_key, "ack");
  // Another author is not affected; an hour later the author is answered again.
  Mention other = sample("300");
  other.author_id = "77";
  EXPECT_EQ(store->ingest(other, roads(), o, keyed(), 3000)->reply_key, "ack");
  Mention later = sample("400");
  later.author_id = "42";
  EXPECT_EQ(store->ingest(later, roads(), o, keyed(), 1000 + 3600 * 1000 + 10)->reply_key, "ack");
}

#ifndef SOTONG_STORE_ON_POSTGRES
// The WAL is copied into the database file by the store's own checkpoint thread while the
// store is open (a commit never does it inline below 20,000 pages): the file grows.
TEST_F(StoreTest, TheWalIsCheckpointedInTheBackground) {
  const auto file = std::filesystem::path(location);
  const auto before = std::filesystem::file_size(file);
  for (int i = 0; i < 400; ++i) {
    Mention m = sample(std::to_string(10'000 + i));
    m.author_id = std::to_string(i);
    ASSERT_TRUE(store->ingest(m, roads(), IngestOptions{}, keyed(), 1000 + i).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(file) == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(std::filesystem::file_size(file), before);
}

// Every query an ingest runs seeks by an index: its cost does not grow with the store. The
// author limit's query once read every ticket of the account for each mention.
TEST_F(StoreTest, AnIngestCostsTheSameWhateverTheStoreHolds) {
  IngestOptions o;
  o.author_ack_limit = 5;
  int next = 1000;
  auto fill = [&](int n) {
    for (int i = 0; i < n; ++i, ++next) {
      Mention m = sample(std::to_string(next));
      m.author_id = std::to_string(next % 50);
      m.author_acct = "c" + std::to_string(next % 50) + "@example.org";
      ASSERT_TRUE(store->ingest(m, roads(), o, keyed(), next).ok());
    }
  };
  // One of each kind of ingest: a new ticket, an answer under our reply, a duplicate. Gives
  // the engine's work for the three. (A mention without an author id falls back to the
  // address, which has no index: both connectors always give the id.)
  auto three = [&](const std::string& tag) {
    const auto before = store->work_steps();
    Mention fresh = sample("fresh-" + tag);
    fresh.author_id = "7";
    EXPECT_TRUE(store->ingest(fresh, roads(), o, keyed(), 1'000'000).ok());
    Mention under = reply_to("under-" + tag, "1007", "사진 추가합니다");
    under.author_id = "7";
    under.author_acct = "c7@example.org";
    under.thread_id = "1007";
    under.in_reply_to_self = true;
    EXPECT_TRUE(store->ingest(under, roads(), o, keyed(), 1'000'002).ok());
    EXPECT_TRUE(store->ingest(fresh, roads(), o, keyed(), 1'000'003).ok());
    return store->work_steps() - before;
  };
  fill(60);
  const auto small = three("a");
  fill(600);
  const auto big = three("b");
  ASSERT_GT(small, 0);
  // Ten times the tickets: a scan would cost about ten times the work; seeks cost the same.
  EXPECT_LT(big, small * 3 / 2) << "work for three ingests: " << small << " with 60 tickets, "
                                << big << " with 660";
}
#endif

TEST_F(StoreTest, HiddenTicketsGetNoReplyAndKeepTagsAndFlags) {
  Decision d = roads();
  d.hide = true;
  d.notify = true;
  d.tags = {"abuse", "night"};
  d.neighbourhood = "잠실동";
  IngestOptions o;
  o.ack_key = "";
  auto r = store->ingest(sample("100"), d, o, keyed(), 1).value();
  EXPECT_EQ(r.kind, IngestOutcome::Kind::kCreated);
  EXPECT_EQ(r.outbox_id, 0);
  auto t = store->ticket(r.ticket_number).value();
  EXPECT_TRUE(t->hidden);
  EXPECT_TRUE(t->notify);
  EXPECT_EQ(t->tags, (std::vector<std::string>{"abuse", "night"}));
  EXPECT_EQ(t->neighbourhood, "잠실동");
}

TEST_F(StoreTest, TheTicketYearComesFromTheCaller) {
  IngestOptions o;
  o.ticket_year = 2031;
  auto r = store->ingest(sample("1"), roads(), o, keyed(), 1).value();
  EXPECT_EQ(r.ticket_number, "SP-2031-000001");
}

TEST_F(StoreTest, TheSendTimesOfAnAccountAreRemembered) {
  auto a = store->ingest(sample("1"), roads(), ack(), 1).value();
  auto b = store->ingest(sample("2"), roads(), ack(), 2).value();
  ASSERT_TRUE(store->mark_sent(a.outbox_id, "p1", 5000).ok());
  ASSERT_TRUE(store->mark_sent(b.outbox_id, "p2", 9000).ok());
  EXPECT_EQ(store->sent_times("songpa", 0).value(), (std::vector<int64_t>{5000, 9000}));
  EXPECT_EQ(store->sent_times("songpa", 6000).value(), (std::vector<int64_t>{9000}));
  EXPECT_TRUE(store->sent_times("other", 0)->empty());
}

#ifndef SOTONG_STORE_ON_POSTGRES  // SQLite files
TEST(StoreMigration, VersionTwoStoreLearnsItsThreads) {
  TempDir dir;
  const auto path = dir.path() / "v2.db";
  {
    auto v2 = Store::open(path, "SP", 2);
    ASSERT_TRUE(v2.ok()) << v2.error();
  }
  // A v2 store as v2 wrote it: a ticket whose acknowledgement was posted as status 900.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO tickets (number, platform, account, mention_id, author, "
                         "author_acct, text, language, visibility, department, category, priority, "
                         "rule, status, created_at, updated_at) VALUES ('SP-2026-000007', "
                         "'mastodon', 'songpa', '100', 'citizen', 'citizen@example.org', '육교', "
                         "'ko', 0, 'roads', 'footbridge', 2, 'footbridge', 'open', 1, 1);"
                         "INSERT INTO outbox (ticket_id, kind, account, in_reply_to_id, "
                         "author_acct, text, visibility, language, priority, idempotency_key, "
                         "state, next_attempt_at, platform_post_id, created_at, sent_at) VALUES "
                         "(1, 'ack', 'songpa', '100', 'citizen@example.org', 'x', 0, 'ko', 2, "
                         "'k1', 'sent', 1, '900', 1, 2);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto latest = Store::open(path, "SP");
  ASSERT_TRUE(latest.ok()) << latest.error();
  EXPECT_EQ((*latest)->schema_version().value(), Store::schema_version_latest());
  auto t = (*latest)->ticket("SP-2026-000007").value();
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->tags.empty());
  EXPECT_FALSE(t->hidden);
  // The citizen answers our reply posted before the upgrade, and their first post: both join.
  for (const char* parent : {"900", "100"}) {
    Mention m = sample(std::string("10") + parent);
    m.in_reply_to_id = parent;
    auto r = (*latest)->ingest(m, roads(), IngestOptions{}, keyed(), 3);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->kind, IngestOutcome::Kind::kAddedToTicket) << parent;
    EXPECT_EQ(r->ticket_number, "SP-2026-000007");
  }
}
#endif

#ifndef SOTONG_STORE_ON_POSTGRES  // SQLite files
TEST(StoreMigration, VersionThreeStoreKeepsItsOutboxAndDrainsIt) {
  TempDir dir;
  const auto path = dir.path() / "v3.db";
  {
    auto v3 = Store::open(path, "SP", 3);
    ASSERT_TRUE(v3.ok()) << v3.error();
    auto r = (*v3)->ingest(sample("300"), roads(Priority::kUrgent), ack(), 1'790'000'000'000);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ((*v3)->schema_version().value(), 3);
  }
  auto latest = Store::open(path, "SP");
  ASSERT_TRUE(latest.ok()) << latest.error();
  EXPECT_EQ((*latest)->schema_version().value(), Store::schema_version_latest());
  // The acknowledgement queued before the upgrade is still due, and claimable.
  auto due = (*latest)->due_outbox("songpa", 1'790'000'000'001, 10, "host:1");
  ASSERT_TRUE(due.ok()) << due.error();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_TRUE(*(*latest)->claim((*due)[0].id, "host:1", 1'790'000'000'001, 60'000));
  EXPECT_EQ((*due)[0].priority, Priority::kUrgent);
  ASSERT_TRUE((*latest)->mark_sent((*due)[0].id, "901", 1'790'000'000'002).ok());
  EXPECT_TRUE((*latest)->probe_write(1'790'000'000'003).ok());
  auto counts = (*latest)->counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->outbox_pending, 0);
}
#endif

#ifdef SOTONG_STORE_ON_POSTGRES  // claims matter where instances share the store
TEST_F(StoreTest, AClaimedRowIsLeftToItsClaimantUntilTheClaimLapses) {
  ASSERT_TRUE(store->ingest(sample("700"), roads(), ack(), 1'000).ok());
  const int64_t now = 10'000;
  auto due = store->due_outbox("songpa", now, 10, "a/1");
  ASSERT_TRUE(due.ok() && due->size() == 1u);
  const int64_t id = (*due)[0].id;
  EXPECT_TRUE(*store->claim(id, "a/1", now, 40'000));
  // Another instance, or this one's next term, neither sees nor takes it meanwhile.
  EXPECT_TRUE(store->due_outbox("songpa", now + 1, 10, "b/1")->empty());
  EXPECT_FALSE(*store->claim(id, "b/1", now + 1, 40'000));
  EXPECT_FALSE(*store->claim(id, "a/2", now + 1, 40'000));
  EXPECT_EQ(**store->next_due("songpa", "b/1"), now + 40'000) << "due when the claim lapses";
  EXPECT_TRUE(*store->claim(id, "a/1", now + 2, 40'000)) << "the claimant may take it again";
  // The claim lapses (its instance died): taken over.
  EXPECT_TRUE(*store->claim(id, "b/1", now + 50'000, 40'000));
  // Given back when a sender stops: free at once.
  ASSERT_TRUE(store->release_claims("songpa", "b/1").ok());
  EXPECT_TRUE(*store->claim(id, "c/1", now + 50'001, 40'000));
  // Posted: nobody claims it any more.
  ASSERT_TRUE(store->mark_sent(id, "901", now + 50'002).ok());
  EXPECT_FALSE(*store->claim(id, "c/1", now + 50'003, 40'000));
}
#endif

}  // namespace
}  // namespace sotong
