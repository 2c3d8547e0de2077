// The whole path against the real sotongd and sotong-sandbox over loopback sockets.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, const char* k) {
  const auto& v = o.at(k);
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    f.start_sandbox();
    f.write_config();
    f.start_daemon();
  }
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  Fixture f;
};

const std::regex kTicket("SP-[0-9]{4}-[0-9]{6}");

TEST_F(EndToEnd, EveryMentionIsAcknowledgedOnceWithATicketNumber) {
  std::vector<std::string> ids{
      f.mention("rea_citizen",
                "시장님, 만리재로 193 앞 육교에 구멍이 두 군데 5cm 정도 났어요. 안전할까요?"),
      f.mention("ric_citizen", "음식물 쓰레기봉투 1리터는 안 파나요?"),
      f.mention("busan_parent", "동아대 부민캠퍼스에서 아이를 잃어버렸어요 도와주세요"),
      f.mention("visitor", "The streetlight on my street has been broken for a week.", "public",
                "en"),
  };
  ASSERT_TRUE(f.wait_for_posts(4));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // room for a wrong second reply
  auto posts = f.posts();
  ASSERT_EQ(posts.size(), 4u);
  std::set<std::string> answered;
  for (const auto& p : posts) {
    answered.insert(str(p, "in_reply_to_id"));
    EXPECT_TRUE(std::regex_search(str(p, "text"), kTicket)) << str(p, "text");
    EXPECT_FALSE(str(p, "idempotency_key").empty());
  }
  EXPECT_EQ(answered, std::set<std::string>(ids.begin(), ids.end()));
  auto reply = f.replies_to(ids[0]);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(str(reply[0], "text").rfind("@rea_citizen ", 0), 0u);
  EXPECT_EQ(str(reply[0], "language"), "ko");
  auto en = f.replies_to(ids[3]);
  ASSERT_EQ(en.size(), 1u);
  EXPECT_EQ(str(en[0], "language"), "en");
}

TEST_F(EndToEnd, ReplyNeverQuotesTheCitizensText) {
  auto id = f.mention("quoter", "우리집 앞 도로에 포트홀이 생겼어요 zebra-7731-secret");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto r = f.replies_to(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0], "text").find("zebra-7731-secret"), std::string::npos);
}

TEST_F(EndToEnd, UrgentMentionTellsWhomToCallNow) {
  auto id = f.mention("busan_parent", "동아대 부민캠퍼스에서 아이를 잃어버렸어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto r = f.replies_to(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(str(r[0], "text").find("112"), std::string::npos) << str(r[0], "text");
  auto ticket = f.ticket_for_mention(id);
  auto t = f.hook("GET", "/v1/tickets/" + ticket, Fixture::department_tokens().at("safety"));
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(str(t.json().as_object(), "priority"), "urgent");
}

TEST_F(EndToEnd, ReplyIsNeverWiderThanTheMention) {
  auto direct = f.mention("secret1", "가로등이 고장났어요 (비공개)", "direct");
  auto priv = f.mention("secret2", "가로등이 고장났어요 (팔로워 공개)", "private");
  auto unlisted = f.mention("quiet3", "가로등이 고장났어요 (조용히)", "unlisted");
  auto pub = f.mention("open4", "가로등이 고장났어요", "public");
  ASSERT_TRUE(f.wait_for_posts(4));
  EXPECT_EQ(str(f.replies_to(direct).at(0), "visibility"), "direct");
  // Followers-only: our followers are not the citizen's, so the reply is direct.
  EXPECT_EQ(str(f.replies_to(priv).at(0), "visibility"), "direct");
  EXPECT_EQ(str(f.replies_to(unlisted).at(0), "visibility"), "unlisted");
  EXPECT_EQ(str(f.replies_to(pub).at(0), "visibility"), "public");
  // The private text is never in the daemon's log at info level or above.
  std::string log = f.read_log("sotongd.log");
  for (std::size_t pos = 0; (pos = log.find("(비공개)", pos)) != std::string::npos; ++pos) {
    auto line_start = log.rfind('\n', pos);
    auto line = log.substr(line_start + 1, pos - line_start);
    EXPECT_NE(line.find("level=debug"), std::string::npos) << line;
  }
}

TEST_F(EndToEnd, MentionDeliveredTwiceOpensOneTicket) {
  auto r = f.control("POST", "/_sandbox/mentions",
                     R"({"author":"twice","text":"버스가 30분째 안 와요","language":"ko"})");
  ASSERT_EQ(r.status, 200);
  std::string id(r.json().as_object().at("id").as_string());
  std::string nid(r.json().as_object().at("notification_id").as_string());
  ASSERT_TRUE(f.wait_for_posts(1));
  auto again = f.control("POST", "/_sandbox/redeliver", R"({"notification_id":")" + nid + "\"}");
  ASSERT_EQ(again.status, 200) << again.body;
  // Restarting makes the daemon poll from its cursor as well.
  f.stop_daemon();
  f.start_daemon();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(f.replies_to(id).size(), 1u);
  EXPECT_EQ(f.posts().size(), 1u);
}

TEST_F(EndToEnd, ClosingTicketPostsFollowUpInTheCitizensThread) {
  auto id = f.mention("rea_citizen", "만리재로 193 앞 육교에 구멍이 두 군데 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  ASSERT_FALSE(ticket.empty());
  auto r =
      f.hook("POST", "/v1/tickets/" + ticket + "/close", Fixture::department_tokens().at("roads"),
             R"({"resolution":"용산구청 토목과에서 육교 보수를 완료했습니다. @contractor #done"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(r.json().as_object(), "status"), "closed");
  ASSERT_TRUE(f.wait_for_posts(2));
  auto replies = f.replies_to(id);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_NE(str(replies[1], "text").find("육교 보수를 완료"), std::string::npos);
  EXPECT_NE(str(replies[1], "text").find(ticket), std::string::npos);
  EXPECT_EQ(str(replies[1], "text").rfind("@rea_citizen ", 0), 0u);
  // The department's text cannot mention a third party or add a hashtag.
  EXPECT_EQ(str(replies[1], "text").find("@contractor"), std::string::npos);
  EXPECT_EQ(str(replies[1], "text").find("#done"), std::string::npos);
  // A second close changes nothing and posts nothing.
  auto again = f.hook("POST", "/v1/tickets/" + ticket + "/close",
                      Fixture::department_tokens().at("roads"), R"({"resolution":"again"})");
  EXPECT_EQ(again.status, 409);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(f.posts().size(), 2u);
}

TEST_F(EndToEnd, TheAuditTrailAndAReopenThroughTheHook) {
  auto id = f.mention("rea_citizen", "만리재로 193 앞 육교에 구멍이 두 군데 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  ASSERT_FALSE(ticket.empty());
  const auto& roads = Fixture::department_tokens().at("roads");
  ASSERT_EQ(f.hook("POST", "/v1/tickets/" + ticket + "/close", roads,
                   R"({"resolution":"육교 보수를 완료했습니다"})")
                .status,
            200);
  ASSERT_TRUE(f.wait_for_posts(2));
  // Another department may neither read the trail nor reopen.
  const auto& welfare = Fixture::department_tokens().at("welfare");
  EXPECT_EQ(f.hook("GET", "/v1/tickets/" + ticket + "/events", welfare).status, 403);
  EXPECT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/reopen", welfare, R"({"reason":"x"})").status,
      403);
  auto reopened = f.hook("POST", "/v1/tickets/" + ticket + "/reopen", roads,
                         R"({"reason":"아직 구멍이 있음"})");
  ASSERT_EQ(reopened.status, 200) << reopened.body;
  EXPECT_EQ(str(reopened.json().as_object(), "status"), "open");
  EXPECT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/reopen", roads, R"({"reason":"again"})").status,
      409);
  ASSERT_EQ(f.hook("POST", "/v1/tickets/" + ticket + "/close", roads,
                   R"({"resolution":"다시 보수했습니다"})")
                .status,
            200);
  ASSERT_TRUE(f.wait_for_posts(3));
  auto replies = f.replies_to(id);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_NE(str(replies[2], "text").find("(2) "), std::string::npos) << str(replies[2], "text");
  auto trail = f.hook("GET", "/v1/tickets/" + ticket + "/events", roads);
  ASSERT_EQ(trail.status, 200) << trail.body;
  std::vector<std::string> kinds;
  const auto body = trail.json();
  for (const auto& e : body.as_object().at("events").as_array())
    kinds.emplace_back(e.as_object().at("kind").as_string());
  const std::vector<std::string> want{"opened",          "ack_queued",      "ack_posted", "closed",
                                      "followup_queued", "followup_posted", "reopened",   "closed",
                                      "followup_queued", "followup_posted"};
  EXPECT_EQ(kinds, want);
}

TEST_F(EndToEnd, AReassignedTicketMovesToItsNewDepartmentAndTheCitizenIsTold) {
  auto id = f.mention("rea_citizen", "만리재로 193 앞 육교에 구멍이 두 군데 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  ASSERT_FALSE(ticket.empty());
  const auto& roads = Fixture::department_tokens().at("roads");
  const auto& welfare = Fixture::department_tokens().at("welfare");
  EXPECT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/reassign", roads, R"({"department":"nowhere"})")
          .status,
      400);
  auto r = f.hook("POST", "/v1/tickets/" + ticket + "/reassign", roads,
                  R"({"department":"welfare","note":"복지 담당입니다","tell_citizen":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(r.json().as_object(), "department"), "welfare");
  ASSERT_TRUE(f.wait_for_posts(2));
  auto replies = f.replies_to(id);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_NE(str(replies[1], "text").find(ticket), std::string::npos);
  EXPECT_EQ(f.hook("GET", "/v1/tickets/" + ticket, roads).status, 403);
  EXPECT_EQ(f.hook("GET", "/v1/tickets/" + ticket, welfare).status, 200);
  EXPECT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/reassign", welfare, R"({"department":"welfare"})")
          .status,
      409);
}

TEST_F(EndToEnd, AnotherDepartmentsTokenIsForbiddenAndPostsNothing) {
  auto id = f.mention("rea_citizen", "만리재로 육교에 구멍이 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  auto r = f.hook("POST", "/v1/tickets/" + ticket + "/close",
                  Fixture::department_tokens().at("welfare"), R"({"resolution":"done"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.json().as_object().contains("error"));
  auto get = f.hook("GET", "/v1/tickets/" + ticket, Fixture::department_tokens().at("welfare"));
  EXPECT_EQ(get.status, 403);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(f.posts().size(), 1u);
  auto t = f.hook("GET", "/v1/tickets/" + ticket, Fixture::department_tokens().at("roads"));
  EXPECT_EQ(str(t.json().as_object(), "status"), "open");
}

TEST_F(EndToEnd, HookAnswersEveryBadRequestWithAJsonErrorAndChangesNothing) {
  auto id = f.mention("rea_citizen", "육교 계단에 구멍이 있어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  const auto& roads = Fixture::department_tokens().at("roads");
  struct Case {
    std::string method, target, token, body;
    int status;
  };
  std::vector<Case> cases{
      {"POST", "/v1/tickets/" + ticket + "/close", "wrong-token", R"({"resolution":"x"})", 401},
      {"POST", "/v1/tickets/" + ticket + "/close", "", R"({"resolution":"x"})", 401},
      {"POST", "/v1/tickets/SP-2026-999999/close", roads, R"({"resolution":"x"})", 404},
      {"POST", "/v1/tickets/" + ticket + "/close", roads, "{not json", 400},
      {"POST", "/v1/tickets/" + ticket + "/close", roads, R"({"resolution":""})", 400},
      {"POST", "/v1/tickets/" + ticket + "/close", roads, R"({"resolution":5})", 400},
      {"POST", "/v1/tickets/" + ticket + "/close", roads,
       R"({"resolution":")" + std::string(8000, 'a') + "\"}", 413},
      {"GET", "/v1/tickets?status=bogus", roads, "", 400},
      {"GET", "/v1/nothing", roads, "", 404},
      {"DELETE", "/v1/tickets/" + ticket, roads, "", 405},
  };
  for (const auto& c : cases) {
    auto r = f.hook(c.method, c.target, c.token, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << r.body;
    EXPECT_TRUE(r.json().is_object() && r.json().as_object().contains("error"))
        << c.target << ": " << r.body;
  }
  auto t = f.hook("GET", "/v1/tickets/" + ticket, roads);
  EXPECT_EQ(str(t.json().as_object(), "status"), "open");
  EXPECT_EQ(f.posts().size(), 1u);
}

TEST_F(EndToEnd, OwnPostsAndBotsAreNeverAnswered) {
  f.mention("songpaOK", "우리 계정의 공지 (도로 공사 안내)");
  f.mention("newsbot", "도로 파손 뉴스 자동 게시", "public", "ko", R"({"bot":true})");
  auto human = f.mention("human", "도로가 파손됐어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto posts = f.posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(str(posts[0], "in_reply_to_id"), human);
}

TEST_F(EndToEnd, MentionsWhileTheDaemonIsDownAreAnsweredAfterRestart) {
  f.stop_daemon();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(f.mention("offline" + std::to_string(i), "지하철 에어컨이 너무 추워요"));
  f.start_daemon();
  ASSERT_TRUE(f.wait_for_posts(3));
  for (const auto& id : ids) EXPECT_EQ(f.replies_to(id).size(), 1u);
}

TEST_F(EndToEnd, HostileMentionTextIsAnsweredWithoutEcho) {
  std::string text = "도로 파손 ";
  for (int i = 0; i < 3000; ++i)
    text += "👨‍👩‍👧\u200b\u202e가";  // ZWJ, zero width, RTL override
  text += " <script>alert(1)</script> &amp; @someone@elsewhere.example";
  auto id = f.mention("hostile", text);
  ASSERT_TRUE(f.wait_for_posts(1));
  auto r = f.replies_to(id);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0], "text").find("someone"), std::string::npos);
  EXPECT_EQ(str(r[0], "text").find("script"), std::string::npos);
}

TEST(Reload, BrokenRulesAreRefusedAndTheRunningOnesStay) {
  Fixture f;
  f.start_sandbox();
  std::filesystem::copy(std::string(SOTONG_SOURCE_DIR) + "/rules", f.dir() / "rules");
  DaemonSettings s;
  s.rules_dir = (f.dir() / "rules").string();
  f.write_config(s);
  f.start_daemon();
  std::ofstream(f.dir() / "rules" / "20-transport.yaml") << "rules:\n  - name: [broken\n";
  f.signal_daemon(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return f.read_log("sotongd.log")
                   .find("reload refused: keeping the running configuration") != std::string::npos;
      },
      std::chrono::seconds(5)));
  EXPECT_NE(f.read_log("sotongd.log").find("20-transport.yaml:"), std::string::npos);
  auto id = f.mention("after_reload", "버스가 30분째 안 와요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  auto t = f.hook("GET", "/v1/tickets/" + ticket, Fixture::department_tokens().at("transport"));
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(str(t.json().as_object(), "rule"), "bus");
  if (::testing::Test::HasFailure()) f.dump_logs();
}

TEST_F(EndToEnd, HealthzReportsReady) {
  auto r = http("GET", f.hook_port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(str(r.json().as_object(), "status"), "ok");
}

}  // namespace
}  // namespace sotong::test_support
