// The crash harness's checks on hand-made stores and post records: a harness that cannot
// see a double post or a lost reply would pass every run.
#include "crash_check.hpp"

#include <gtest/gtest.h>

namespace sotong::test_support {
namespace {

class CrashCheck : public ::testing::Test {
 protected:
  // One Mastodon mention, its ticket, its acknowledgement posted as status "900".
  void SetUp() override {
    mentions_.push_back({false, "100", "citizen_1", ""});
    store_.seen.push_back({"mastodon", kMastodonAccount, "100", "SP-2026-000001", "ticket"});
    store_.tickets.push_back({"SP-2026-000001", "mastodon", kMastodonAccount, "100", "open"});
    OutboxRecord ack;
    ack.id = 1;
    ack.ticket = "SP-2026-000001";
    ack.kind = "ack";
    ack.account = kMastodonAccount;
    ack.in_reply_to_id = "100";
    ack.text = "@citizen_1 접수번호 SP-2026-000001";
    ack.state = "sent";
    ack.platform_post_id = "900";
    store_.outbox.push_back(ack);
    for (const char* kind : {"opened", "ack_queued", "ack_posted"})
      store_.events.push_back({"SP-2026-000001", kind});
    posts_.push_back({kMastodonAccount, "900", "100", ack.text});
  }
  CrashVerdict check() { return check_crash_run(mentions_, store_, posts_, closes_); }

  std::vector<SentMention> mentions_;
  StoreSnapshot store_;
  std::vector<PostSeen> posts_;
  std::map<std::string, int> closes_;
};

TEST_F(CrashCheck, AMentionAnsweredOnceIsClean) {
  auto v = check();
  EXPECT_EQ(v.lost, 0);
  EXPECT_EQ(v.doubled, 0);
  EXPECT_TRUE(v.problems.empty()) << v.problems.front();
}

TEST_F(CrashCheck, TheSameReplyPostedTwiceIsDoubled) {
  posts_.push_back({kMastodonAccount, "901", "100", store_.outbox[0].text});
  EXPECT_EQ(check().doubled, 1);
}

TEST_F(CrashCheck, APostNoOutboxRowAccountsForIsDoubled) {
  posts_.push_back({kMastodonAccount, "902", "100", "@citizen_1 something else"});
  EXPECT_EQ(check().doubled, 1);
}

TEST_F(CrashCheck, AReplyMarkedSentButNeverPostedIsLost) {
  posts_.clear();
  EXPECT_EQ(check().lost, 1);
}

TEST_F(CrashCheck, AMentionNeverSeenIsLost) {
  mentions_.push_back({true, "2000", "xcitizen1", ""});
  EXPECT_EQ(check().lost, 1);
}

TEST_F(CrashCheck, AnAnsweredCloseWithoutItsFollowUpIsLost) {
  closes_["SP-2026-000001"] = 200;
  store_.tickets[0].status = "closed";
  store_.events.push_back({"SP-2026-000001", "closed"});
  auto v = check();
  EXPECT_EQ(v.lost, 1);
}

TEST_F(CrashCheck, AMissingAuditEventIsAProblem) {
  store_.events.pop_back();  // ack_posted
  auto v = check();
  EXPECT_EQ(v.lost + v.doubled, 0);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("ack_posted"), std::string::npos) << v.problems[0];
}

}  // namespace
}  // namespace sotong::test_support
