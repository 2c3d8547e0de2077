// Faults: the platform failing in each documented way, the stream dropping, and sotongd
// killed with SIGKILL. After each, every mention has exactly one acknowledgement.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <random>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;

class Faults : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  // Every injected mention answered exactly once, and nothing else posted.
  void expect_each_answered_once(const std::vector<std::string>& ids) {
    std::map<std::string, int> count;
    for (const auto& p : f.posts()) {
      const auto& r = p.at("in_reply_to_id");
      if (r.is_string()) ++count[std::string(r.as_string())];
    }
    for (const auto& id : ids) EXPECT_EQ(count[id], 1) << "mention " << id;
    EXPECT_EQ(f.posts().size(), ids.size());
  }
  Fixture f;
};

class PostFaults : public Faults, public ::testing::WithParamInterface<std::string> {};

TEST_P(PostFaults, ReplyIsPostedExactlyOnceDespiteFailingPosts) {
  f.start_sandbox({"--rate-window-seconds", "1"});
  f.write_config();
  f.start_daemon();
  f.fault(GetParam(), 3, "/api/v1/statuses");
  std::vector<std::string> ids{f.mention("c1", "버스 배차 간격이 너무 길어요"),
                               f.mention("c2", "가로등이 꺼졌어요")};
  ASSERT_TRUE(f.wait_for_posts(2, std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  expect_each_answered_once(ids);
}

INSTANTIATE_TEST_SUITE_P(EachKind, PostFaults,
                         ::testing::Values("429", "500", "503", "reset", "malformed", "hang"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param == "429"   ? std::string("http429")
                                  : p.param == "500" ? std::string("http500")
                                  : p.param == "503" ? std::string("http503")
                                                     : p.param;
                         });

TEST_F(Faults, PostAcceptedButAnswerLostIsNotPostedTwice) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  // The platform takes each post and the answer never arrives: the retry carries the same
  // Idempotency-Key, so the platform returns the first status instead of a second one.
  f.fault("lost_answer", 2, "/api/v1/statuses");
  std::vector<std::string> ids{f.mention("lost1", "육교 난간이 흔들려요"),
                               f.mention("lost2", "버스 정류장 지붕이 새요")};
  ASSERT_TRUE(f.wait_for_posts(2, std::chrono::seconds(20)));
  ASSERT_TRUE(wait_until(
      [&] {
        auto stats = f.control("GET", "/_sandbox/stats").json();
        return stats.is_object() &&
               stats.as_object().at("idempotent_replays").to_number<int>() >= 2;
      },
      std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  expect_each_answered_once(ids);
}

TEST_F(Faults, LateRetryFindsTheReplyInTheThreadInsteadOfPostingAgain) {
  f.start_sandbox();
  DaemonSettings s;
  // Every retry counts as late, as it would an hour on, when the server has forgotten the
  // Idempotency-Key: the reply must be found in the thread, not posted or replayed.
  s.idempotency_window_seconds = 0;
  f.write_config(s);
  f.start_daemon();
  // Two: the HTTP client resends once on a reused connection that resets, and the sandbox
  // answers that resend from its Idempotency-Key record (a replay, not a second status).
  f.fault("lost_answer", 2, "POST /api/v1/statuses");
  auto id = f.mention("late1", "육교 난간이 흔들려요");
  ASSERT_TRUE(f.wait_for_posts(1, std::chrono::seconds(20)));
  ASSERT_TRUE(wait_until(
      [&] {
        return f.read_log("sotongd.log").find("reply found in the thread") != std::string::npos;
      },
      std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  expect_each_answered_once({id});
  auto stats = f.control("GET", "/_sandbox/stats").json().as_object();
  EXPECT_LE(stats.at("idempotent_replays").to_number<int>(), 1);
}

TEST_F(Faults, AFollowUpPastTheKeysLifetimeIsNotMistakenForTheAcknowledgement) {
  f.start_sandbox();
  DaemonSettings s;
  s.idempotency_window_seconds = 0;  // every post looks in the thread first
  f.write_config(s);
  f.start_daemon();
  auto id = f.mention("late2", "육교 난간이 흔들려요");
  ASSERT_TRUE(wait_until([&] { return f.replies_to(id).size() == 1; }, std::chrono::seconds(20)));
  const std::string number = f.ticket_for_mention(id);
  ASSERT_FALSE(number.empty());
  // The follow-up answers the same mention and carries the same ticket number as the
  // acknowledgement already there: it must be posted, not "found".
  bool closed = false;
  for (const auto& [dept, tok] : Fixture::department_tokens())
    closed = closed || f.hook("POST", "/v1/tickets/" + number + "/close", tok,
                              R"({"resolution":"난간을 고정했습니다"})")
                               .status == 200;
  ASSERT_TRUE(closed);
  ASSERT_TRUE(wait_until([&] { return f.replies_to(id).size() == 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(f.read_log("sotongd.log").find("reply found in the thread"), std::string::npos);
}

TEST_F(Faults, FailingPollsAndStreamDropsLoseNoMention) {
  f.start_sandbox({"--rate-window-seconds", "1"});
  f.write_config();
  f.start_daemon();
  f.fault("500", 2, "/api/v1/notifications");
  f.fault("malformed", 2, "/api/v1/notifications");
  auto a = f.control("POST", "/_sandbox/stream/drop");
  ASSERT_EQ(a.status, 200);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(f.mention("d" + std::to_string(i), "소음이 심해요"));
  f.control("POST", "/_sandbox/stream/drop");
  ASSERT_TRUE(f.wait_for_posts(5, std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  expect_each_answered_once(ids);
}

TEST_F(Faults, PollingAloneFindsEveryMention) {
  f.start_sandbox();
  DaemonSettings s;
  s.streaming = false;
  f.write_config(s);
  f.start_daemon();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(f.mention("p" + std::to_string(i), "택시 승차 거부를 당했어요"));
  ASSERT_TRUE(f.wait_for_posts(4, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  expect_each_answered_once(ids);
}

TEST_F(Faults, KillNineWithPendingOutboxThenRestartPostsEachReplyOnce) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  // Posts hang: the acknowledgements are durable in the outbox but not yet posted.
  f.fault("hang", 1000, "/api/v1/statuses");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(f.mention("k" + std::to_string(i), "도로에 포트홀이 생겼어요"));
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& id : ids)
          if (f.ticket_for_mention(id).empty()) return false;
        return true;
      },
      std::chrono::seconds(15)));
  f.kill_daemon();
  ASSERT_EQ(f.control("DELETE", "/_sandbox/faults").status, 200);
  EXPECT_EQ(f.posts().size(), 0u);
  f.start_daemon();
  ASSERT_TRUE(f.wait_for_posts(5, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  expect_each_answered_once(ids);
}

TEST_F(Faults, KillNineAtRandomMomentsMidBurstLosesNothingAndDoublesNothing) {
  f.start_sandbox({"--rate-limit", "0"});
  f.write_config();
  f.start_daemon();
  std::mt19937 rng(20261122);
  std::vector<std::string> ids;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 8; ++i)
      ids.push_back(f.mention("burst" + std::to_string(round) + "_" + std::to_string(i),
                              "지하철 역 엘리베이터가 고장났어요"));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
    f.kill_daemon();
    f.start_daemon();
  }
  ASSERT_TRUE(f.wait_for_posts(ids.size(), std::chrono::seconds(40)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  expect_each_answered_once(ids);
}

// An outage longer than one poll reads (40 pages): the gap is read forward from the stored
// cursor, every mention gets its ticket, and the answers go out oldest first.
TEST_F(Faults, ALongOutageIsReadWholeAndAnsweredOldestFirst) {
  f.start_sandbox({"--rate-limit", "0"});
  f.write_config();
  std::vector<std::string> ids{f.mention("early", "지하철 역 엘리베이터가 고장났어요")};
  f.start_daemon();  // its first read stores the cursor at the mention above
  ASSERT_TRUE(f.wait_for_posts(1, std::chrono::seconds(15)));
  f.stop_daemon();
  constexpr int kBacklog = 3300;  // more than 40 pages of 80
  for (int i = 0; i < kBacklog; ++i)
    ids.push_back(f.mention("outage" + std::to_string(i), "지하철 역 엘리베이터가 고장났어요"));
  f.start_daemon();
  ASSERT_TRUE(f.wait_for_posts(ids.size(), std::chrono::seconds(90)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  expect_each_answered_once(ids);
  std::map<std::string, int> place;
  for (std::size_t i = 0; i < ids.size(); ++i) place[ids[i]] = static_cast<int>(i);
  int last = -1, out_of_order = 0;
  for (const auto& p : f.posts()) {
    const int at = place[std::string(p.at("in_reply_to_id").as_string())];
    if (at < last) ++out_of_order;
    last = std::max(last, at);
  }
  EXPECT_EQ(out_of_order, 0);
}

TEST_F(Faults, SigtermFinishesAndExitsZero) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  for (int i = 0; i < 5; ++i) f.mention("t" + std::to_string(i), "버스 정류장 의자가 부서졌어요");
  EXPECT_EQ(f.stop_daemon(SIGTERM), 0);
  f.start_daemon();
  ASSERT_TRUE(f.wait_for_posts(5, std::chrono::seconds(20)));
}

}  // namespace
}  // namespace sotong::test_support
