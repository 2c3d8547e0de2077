#include "sandbox/sandbox_state.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sotong::sandbox {
namespace {

namespace json = boost::json;

// 2026-11-22T10:00:00Z, a fixed instant so ids and windows are predictable.
constexpr int64_t kStart = 1'795'341'600'000;

class SandboxStateTest : public ::testing::Test {
 protected:
  SandboxStateTest() : state_(StateOptions{}, [this] { return now_; }) {}

  uint64_t mention(const std::string& author = "citizen1", const std::string& text = "hello") {
    MentionInput in;
    in.author = author;
    in.text = text;
    auto r = state_.add_mention(in);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    now_ += 1;
    return r.ok() ? r->notification_id : 0;
  }

  PostOutcome post(const std::string& text, std::optional<std::string> key = std::nullopt) {
    PostInput in;
    in.text = text;
    in.idempotency_key = std::move(key);
    return state_.post_status(in);
  }

  int64_t now_ = kStart;
  SandboxState state_;
};

TEST_F(SandboxStateTest, MentionCreatesNotificationWithStatusMentioningHandle) {
  uint64_t id = mention("citizen1", "버스가 안 와요");
  json::object n = state_.notification_json(id);
  EXPECT_EQ(n["type"], "mention");
  EXPECT_EQ(n["account"].as_object()["acct"], "citizen1");
  json::object status = n["status"].as_object();
  EXPECT_EQ(status["mentions"].as_array().at(0).as_object()["acct"], "songpaOK");
  EXPECT_EQ(status["content"],
            "<p><span class=\"h-card\"><a href=\"https://sandbox.local/@songpaOK\" "
            "class=\"u-url mention\">@<span>songpaOK</span></a></span> 버스가 안 와요</p>");
}

TEST_F(SandboxStateTest, MentionContentEscapesHtmlAndTurnsNewlinesIntoBreaks) {
  uint64_t id = mention("citizen1", "<b>a</b>\nb\n\nc");
  std::string content(state_.notification_json(id)["status"].as_object()["content"].as_string());
  EXPECT_NE(content.find("&lt;b&gt;a&lt;/b&gt;<br />b</p><p>c</p>"), std::string::npos) << content;
}

TEST_F(SandboxStateTest, SameAuthorKeepsSameAccountId) {
  uint64_t first = mention("citizen1");
  uint64_t second = mention("Citizen1");
  EXPECT_EQ(state_.notification_json(first)["account"].as_object()["id"],
            state_.notification_json(second)["account"].as_object()["id"]);
}

TEST_F(SandboxStateTest, RemoteAuthorHasAcctWithDomain) {
  MentionInput in;
  in.author = "kim";
  in.text = "hi";
  in.domain = "Example.org";
  auto r = state_.add_mention(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(state_.notification_json(r->notification_id)["account"].as_object()["acct"],
            "kim@example.org");
}

TEST_F(SandboxStateTest, MentionWithInvalidAuthorIsRejected) {
  MentionInput in;
  in.author = "bad name";
  EXPECT_FALSE(state_.add_mention(in).ok());
}

TEST_F(SandboxStateTest, MentionReplyingToUnknownStatusIsRejected) {
  MentionInput in;
  in.author = "citizen1";
  in.in_reply_to_id = "12345";
  EXPECT_FALSE(state_.add_mention(in).ok());
}

TEST_F(SandboxStateTest, NotificationsAreNewestFirstWithIncreasingIds) {
  uint64_t a = mention();
  uint64_t b = mention();
  uint64_t c = mention();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(state_.notification_page({}), (std::vector<uint64_t>{c, b, a}));
}

TEST_F(SandboxStateTest, SinceIdReturnsNewestPageAboveIt) {
  uint64_t a = mention();
  mention();
  uint64_t c = mention();
  uint64_t d = mention();
  NotificationQuery q;
  q.since_id = a;
  q.limit = 2;
  EXPECT_EQ(state_.notification_page(q), (std::vector<uint64_t>{d, c}));
}

TEST_F(SandboxStateTest, MinIdReturnsPageImmediatelyAboveItNewestFirst) {
  uint64_t a = mention();
  uint64_t b = mention();
  uint64_t c = mention();
  mention();
  NotificationQuery q;
  q.min_id = a;
  q.limit = 2;
  EXPECT_EQ(state_.notification_page(q), (std::vector<uint64_t>{c, b}));
}

TEST_F(SandboxStateTest, MaxIdReturnsOlderPage) {
  uint64_t a = mention();
  uint64_t b = mention();
  uint64_t c = mention();
  NotificationQuery q;
  q.max_id = c;
  EXPECT_EQ(state_.notification_page(q), (std::vector<uint64_t>{b, a}));
}

TEST_F(SandboxStateTest, LimitIsCappedAtEighty) {
  for (int i = 0; i < 90; ++i) mention();
  NotificationQuery q;
  q.limit = 500;
  EXPECT_EQ(state_.notification_page(q).size(), SandboxState::kMaxLimit);
}

TEST_F(SandboxStateTest, TypeFiltersSelectAndExcludeMentions) {
  mention();
  NotificationQuery only_follows;
  only_follows.types = {"follow"};
  EXPECT_TRUE(state_.notification_page(only_follows).empty());
  NotificationQuery no_mentions;
  no_mentions.exclude_types = {"mention"};
  EXPECT_TRUE(state_.notification_page(no_mentions).empty());
  NotificationQuery mentions;
  mentions.types = {"mention"};
  EXPECT_EQ(state_.notification_page(mentions).size(), 1u);
}

TEST_F(SandboxStateTest, PostIsRecordedWithoutNotification) {
  PostOutcome out = post("@citizen1 접수했습니다");
  ASSERT_EQ(out.kind, PostOutcome::Kind::kCreated);
  ASSERT_EQ(state_.posts().size(), 1u);
  EXPECT_EQ(state_.posts()[0].text, "@citizen1 접수했습니다");
  EXPECT_TRUE(state_.notification_page({}).empty());
}

TEST_F(SandboxStateTest, PostReplyLinksParentAndMentionsKnownAccount) {
  uint64_t n = mention("citizen1");
  std::string parent(state_.notification_json(n)["status"].as_object()["id"].as_string());
  PostInput in;
  in.text = "@citizen1 thanks";
  in.in_reply_to_id = parent;
  PostOutcome out = state_.post_status(in);
  ASSERT_EQ(out.kind, PostOutcome::Kind::kCreated);
  json::object s = state_.status_json(out.status_id);
  EXPECT_EQ(s["in_reply_to_id"], parent.c_str());
  EXPECT_EQ(s["mentions"].as_array().at(0).as_object()["acct"], "citizen1");
  EXPECT_NE(std::string(s["content"].as_string()).find("u-url mention"), std::string::npos);
}

TEST_F(SandboxStateTest, IdempotencyKeyReturnsSameStatusWithinAnHour) {
  PostOutcome first = post("hello", "key-1");
  now_ += SandboxState::kIdempotencyTtlMs - 1;
  PostOutcome second = post("hello again", "key-1");
  EXPECT_EQ(second.kind, PostOutcome::Kind::kReplayed);
  EXPECT_EQ(second.status_id, first.status_id);
  EXPECT_EQ(state_.posts().size(), 1u);
  EXPECT_EQ(state_.stats().idempotent_replays, 1);
}

TEST_F(SandboxStateTest, IdempotencyKeyExpiresAfterAnHour) {
  PostOutcome first = post("hello", "key-1");
  now_ += SandboxState::kIdempotencyTtlMs;
  PostOutcome second = post("hello", "key-1");
  EXPECT_EQ(second.kind, PostOutcome::Kind::kCreated);
  EXPECT_NE(second.status_id, first.status_id);
}

TEST_F(SandboxStateTest, RejectedPostDoesNotConsumeIdempotencyKey) {
  EXPECT_EQ(post("   ", "key-1").kind, PostOutcome::Kind::kInvalid);
  EXPECT_EQ(post("now with text", "key-1").kind, PostOutcome::Kind::kCreated);
}

TEST_F(SandboxStateTest, BlankPostIsRejected) {
  PostOutcome out = post(" \n\u3000");
  EXPECT_EQ(out.kind, PostOutcome::Kind::kInvalid);
  EXPECT_EQ(out.error, "Validation failed: Text can't be blank");
  EXPECT_EQ(state_.stats().rejected_posts, 1);
}

TEST_F(SandboxStateTest, PostOverCharacterLimitIsRejected) {
  EXPECT_EQ(post(std::string(500, 'a')).kind, PostOutcome::Kind::kCreated);
  PostOutcome out = post(std::string(501, 'a'));
  EXPECT_EQ(out.kind, PostOutcome::Kind::kInvalid);
  EXPECT_EQ(out.error, "Validation failed: Text character limit of 500 exceeded");
}

TEST_F(SandboxStateTest, PostReplyingToUnknownStatusIsNotFound) {
  PostInput in;
  in.text = "hi";
  in.in_reply_to_id = "999";
  PostOutcome out = state_.post_status(in);
  EXPECT_EQ(out.kind, PostOutcome::Kind::kNotFound);
  EXPECT_EQ(out.error, "Record not found");
  EXPECT_TRUE(state_.posts().empty());
}

TEST_F(SandboxStateTest, PostWithUnknownVisibilityIsRejected) {
  PostInput in;
  in.text = "hi";
  in.visibility = "everyone";
  EXPECT_EQ(state_.post_status(in).kind, PostOutcome::Kind::kInvalid);
}

TEST_F(SandboxStateTest, RateLimitRefusesRequestsBeyondBudgetUntilNextWindow) {
  state_.set_rate_limit(2, 300'000);
  EXPECT_TRUE(state_.take_rate_token().allowed);
  RateDecision second = state_.take_rate_token();
  EXPECT_TRUE(second.allowed);
  EXPECT_EQ(second.remaining, 0);
  RateDecision third = state_.take_rate_token();
  EXPECT_FALSE(third.allowed);
  now_ = third.reset_ms;
  EXPECT_TRUE(state_.take_rate_token().allowed);
}

TEST_F(SandboxStateTest, RateLimitResetIsWindowEndAlignedToEpoch) {
  state_.set_rate_limit(300, 300'000);
  now_ = kStart + 123'456;
  EXPECT_EQ(state_.take_rate_token().reset_ms, kStart + 300'000);
}

TEST_F(SandboxStateTest, ZeroRateLimitIsUnlimited) {
  state_.set_rate_limit(0, 300'000);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(state_.take_rate_token().allowed);
  EXPECT_TRUE(state_.peek_rate().unlimited);
}

TEST_F(SandboxStateTest, FaultsApplyToNextMatchingRequestsOnly) {
  ASSERT_TRUE(state_.add_fault(FaultKind::kUnavailable, 2, "/api/v1/statuses").ok());
  EXPECT_FALSE(state_.take_fault("GET", "/api/v1/notifications"));
  EXPECT_EQ(state_.take_fault("POST", "/api/v1/statuses"), FaultKind::kUnavailable);
  EXPECT_EQ(state_.faults_pending(), 1);
  EXPECT_EQ(state_.take_fault("GET", "/api/v1/statuses/1/context"), FaultKind::kUnavailable);
  EXPECT_FALSE(state_.take_fault("POST", "/api/v1/statuses"));
}

TEST_F(SandboxStateTest, AFaultCanNameTheMethod) {
  ASSERT_TRUE(state_.add_fault(FaultKind::kLostAnswer, 1, "POST /api/v1/statuses").ok());
  EXPECT_FALSE(state_.take_fault("GET", "/api/v1/statuses/1/context"));
  EXPECT_EQ(state_.take_fault("POST", "/api/v1/statuses"), FaultKind::kLostAnswer);
}

TEST_F(SandboxStateTest, DelayFaultHandsOutItsDelayAndNeedsOne) {
  EXPECT_FALSE(state_.add_fault(FaultKind::kDelay, 1, "", 0).ok());
  EXPECT_FALSE(state_.add_fault(FaultKind::kDelay, 1, "", SandboxState::kMaxFaultDelayMs + 1).ok());
  EXPECT_FALSE(state_.add_fault(FaultKind::kHang, 1, "", 500).ok());
  ASSERT_TRUE(state_.add_fault(FaultKind::kDelay, 1, "/api/v1/statuses", 700).ok());
  int64_t delay_ms = 0;
  EXPECT_EQ(state_.take_fault("POST", "/api/v1/statuses", &delay_ms), FaultKind::kDelay);
  EXPECT_EQ(delay_ms, 700);
  EXPECT_FALSE(state_.take_fault("POST", "/api/v1/statuses", &delay_ms));
  EXPECT_EQ(parse_fault_kind("delay"), FaultKind::kDelay);
}

TEST_F(SandboxStateTest, FaultCountMustBePositive) {
  EXPECT_FALSE(state_.add_fault(FaultKind::kHang, 0, "").ok());
}

TEST_F(SandboxStateTest, FaultKindsParseFromControlApiNames) {
  EXPECT_EQ(parse_fault_kind("429"), FaultKind::kTooManyRequests);
  EXPECT_EQ(parse_fault_kind("reset"), FaultKind::kReset);
  EXPECT_FALSE(parse_fault_kind("teapot"));
}

TEST_F(SandboxStateTest, ResetForgetsEverythingButKeepsIdsIncreasing) {
  uint64_t before = mention();
  post("hi", "k");
  state_.reset();
  EXPECT_TRUE(state_.notification_page({}).empty());
  EXPECT_TRUE(state_.posts().empty());
  EXPECT_EQ(post("hi", "k").kind, PostOutcome::Kind::kCreated);
  EXPECT_GT(mention(), before);
  EXPECT_EQ(state_.account_json(1)["acct"], "songpaOK");
}

TEST_F(SandboxStateTest, InstanceReportsConfiguredCharacterLimit) {
  json::object inst = state_.instance_json();
  EXPECT_EQ(inst["configuration"].as_object()["statuses"].as_object()["max_characters"], 500u);
}

TEST_F(SandboxStateTest, ParseIdRejectsNonDigitsAndOverflow) {
  EXPECT_EQ(parse_id("110000000000000001"), 110000000000000001u);
  EXPECT_FALSE(parse_id("-1"));
  EXPECT_FALSE(parse_id("12a"));
  EXPECT_FALSE(parse_id("99999999999999999999"));
}

}  // namespace
}  // namespace sotong::sandbox
