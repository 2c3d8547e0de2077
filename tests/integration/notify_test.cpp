// Notifications to departments' webhooks, through the real sotongd and sotong-sandbox, to a
// local receiver that fails first: delivered once each after the retries, signed, visible per
// ticket, batched unless urgent, and not lost when sotongd is killed.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "daemon/hook_auth.hpp"
#include "harness.hpp"
#include "webhook_receiver.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;
using Answer = WebhookReceiver::Answer;
using Requests = std::vector<WebhookReceiver::Request>;
using namespace std::chrono_literals;

const std::string kSecret = "a-webhook-secret-of-forty-bytes-or-so-123";

// The notification ids a request carried.
std::set<int64_t> ids_in(const WebhookReceiver::Request& r) {
  std::set<int64_t> out;
  const std::string list = r.header("x-sotong-delivery");
  std::size_t start = 0;
  while (start < list.size()) {
    auto end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    out.insert(std::stoll(list.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

// How many requests answered 200 carried notification `id`.
int delivered(const Requests& rs, int64_t id) {
  int n = 0;
  for (const auto& r : rs)
    if (r.answered == 200 && ids_in(r).contains(id)) ++n;
  return n;
}

bool signature_holds(const WebhookReceiver::Request& r, const std::string& secret) {
  const std::string ts = r.header("x-sotong-timestamp");
  if (ts.empty()) return false;
  return r.header("x-sotong-signature") ==
         "sha256=" + hook::signature_hex(secret, std::stoll(ts), "POST", r.target, r.body);
}

std::string webhook(const std::string& url, const std::string& more = "") {
  return "    webhook:\n      url: " + url + "\n" + more;
}

class Notifications : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(f.dir() / "webhook.secret") << kSecret;
    settings.extra_yaml = "notifications:\n  initial_backoff_ms: 200\n  max_backoff_ms: 1000\n";
    f.start_sandbox();
  }
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  void start() {
    f.write_config(settings);
    f.start_daemon();
  }
  // The ticket's notifications as the hook shows them to `token`.
  json::array listed(const std::string& ticket, const std::string& token = "tok-roads") {
    auto r = f.hook("GET", "/v1/tickets/" + ticket + "/notifications", token);
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = r.json();
    return v.is_object() ? v.as_object().at("notifications").as_array() : json::array();
  }
  std::string ticket_of(const std::string& mention_id) {
    std::string t;
    wait_until([&] { return !(t = f.ticket_for_mention(mention_id)).empty(); }, 10s);
    return t;
  }
  WebhookReceiver receiver;  // outlives sotongd, which may be delivering as it stops
  Fixture f;
  DaemonSettings settings;
};

TEST_F(Notifications, AFailingReceiverGetsEachEventOnceSignedAfterTheRetries) {
  settings.department_yaml["roads"] =
      webhook(receiver.url("/hooks/roads?via=sotong"), "      secret_file: webhook.secret\n");
  settings.department_yaml["transport"] =
      webhook(receiver.url("/hooks/transport"), "      secret_file: webhook.secret\n");
  // A server error with the connection closed, a dropped connection, a 429 asking for a
  // second, then 200 from here on.
  receiver.script({{500, "", true}, {Answer::kDrop, "", false}, {429, "1", false}});
  start();
  auto ticket = ticket_of(f.mention("rea_citizen", "만리재로 육교에 구멍이 났어요 010-2222-3333"));
  ASSERT_FALSE(ticket.empty());
  ASSERT_TRUE(receiver.wait_for([](const Requests& rs) { return rs.size() >= 4; }, 20s));
  std::this_thread::sleep_for(500ms);  // room for a wrong second delivery
  auto rs = receiver.requests();
  ASSERT_EQ(rs.size(), 4u);
  auto rows = listed(ticket);
  ASSERT_EQ(rows.size(), 1u);
  const auto& row = rows[0].as_object();
  const int64_t id = row.at("id").as_int64();
  for (const auto& r : rs) {
    EXPECT_EQ(r.target, "/hooks/roads?via=sotong");
    EXPECT_EQ(ids_in(r), std::set<int64_t>{id});
    EXPECT_EQ(r.header("x-sotong-event"), "opened");
    EXPECT_TRUE(signature_holds(r, kSecret)) << r.header("x-sotong-signature");
    EXPECT_FALSE(signature_holds(r, "another secret of forty bytes, or nearly"));
    EXPECT_EQ(r.body, rs[0].body) << "every attempt carries the same notification";
  }
  EXPECT_EQ(delivered(rs, id), 1);
  EXPECT_GE(rs[3].at - rs[2].at, 900ms) << "Retry-After: 1 is honoured";
  auto body = json::parse(rs[3].body).as_object();
  const auto& n = body.at("notifications").as_array().at(0).as_object();
  EXPECT_EQ(n.at("ticket").as_string(), ticket);
  EXPECT_EQ(n.at("department").as_string(), "roads");
  EXPECT_EQ(n.at("text").as_string().find("010-2222-3333"), json::string::npos);
  // Where it stands, for the department and an admin's eyes; not for another department.
  EXPECT_EQ(row.at("event").as_string(), "opened");
  EXPECT_EQ(row.at("state").as_string(), "delivered");
  EXPECT_EQ(row.at("attempts").as_int64(), 4);
  EXPECT_EQ(row.at("last_status").as_int64(), 200);
  EXPECT_TRUE(row.at("delivered_at").is_string());
  EXPECT_EQ(f.hook("GET", "/v1/tickets/" + ticket + "/notifications", "tok-housing").status, 403);
  EXPECT_EQ(f.hook("GET", "/v1/tickets/SP-2026-999999/notifications", "tok-roads").status, 404);

  // Handed to transport, closed and reopened there: transport hears of both, once each.
  auto moved = f.hook("POST", "/v1/tickets/" + ticket + "/reassign", "tok-roads",
                      R"({"department": "transport", "note": "버스정류장 옆"})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  ASSERT_EQ(f.hook("POST", "/v1/tickets/" + ticket + "/close", "tok-transport",
                   R"({"resolution": "보수했습니다"})")
                .status,
            200);
  ASSERT_EQ(f.hook("POST", "/v1/tickets/" + ticket + "/reopen", "tok-transport",
                   R"({"reason": "다시 봐야 합니다"})")
                .status,
            200);
  ASSERT_TRUE(receiver.wait_for([](const Requests& r) { return r.size() >= 6; }, 15s));
  std::this_thread::sleep_for(500ms);
  rs = receiver.requests();
  ASSERT_EQ(rs.size(), 6u);
  rows = listed(ticket, "tok-transport");
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> events{"opened", "reassigned", "reopened"};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& o = rows[i].as_object();
    EXPECT_EQ(o.at("event").as_string(), events[i]);
    EXPECT_EQ(o.at("state").as_string(), "delivered");
    EXPECT_EQ(delivered(rs, o.at("id").as_int64()), 1) << events[i];
  }
  EXPECT_EQ(rs[4].target, "/hooks/transport");
  EXPECT_EQ(rs[4].header("x-sotong-event"), "reassigned");
  EXPECT_EQ(json::parse(rs[4].body).at("notifications").at(0).at("from").as_string(), "roads");
  EXPECT_EQ(rs[5].header("x-sotong-event"), "reopened");
  EXPECT_TRUE(signature_holds(rs[5], kSecret));
  auto audit = f.hook("GET", "/v1/tickets/" + ticket + "/events", "tok-transport").body;
  EXPECT_NE(audit.find("notification_delivered"), std::string::npos);
}

TEST_F(Notifications, UrgentGoesAtOnceWhileTheOthersWaitForTheBatchInSlackFormat) {
  settings.department_yaml["safety"] = webhook(receiver.url("/services/T0/B0/safety"),
                                               "      format: slack\n      batch_seconds: 3\n");
  start();
  const auto t0 = std::chrono::steady_clock::now();
  auto first = f.mention("citizen_a", "풍수해보험 가입은 어디서 하나요?");
  auto second = f.mention("citizen_b", "물막이판 신청은 어떻게 하나요?");
  auto urgent = f.mention("citizen_c", "지금 집 앞 도로가 침수됐어요 물이 차오르고 있어요");
  ASSERT_TRUE(receiver.wait_for([](const Requests& r) { return r.size() >= 2; }, 15s));
  std::this_thread::sleep_for(500ms);
  auto rs = receiver.requests();
  ASSERT_EQ(rs.size(), 2u);
  const auto urgent_ticket = ticket_of(urgent);
  const auto a = ticket_of(first), b = ticket_of(second);
  for (const auto& r : rs) {
    auto v = json::parse(r.body).as_object();
    ASSERT_EQ(v.size(), 1u) << r.body;
    ASSERT_TRUE(v.at("text").is_string()) << r.body;
  }
  const std::string now_text(json::parse(rs[0].body).at("text").as_string());
  EXPECT_NE(now_text.find(urgent_ticket), std::string::npos) << now_text;
  EXPECT_EQ(now_text.find(a), std::string::npos);
  EXPECT_LT(rs[0].at - t0, 2500ms) << "urgent: at once";
  const std::string batch_text(json::parse(rs[1].body).at("text").as_string());
  EXPECT_EQ(batch_text.rfind("2 tickets:", 0), 0u) << batch_text;
  EXPECT_NE(batch_text.find(a), std::string::npos);
  EXPECT_NE(batch_text.find(b), std::string::npos);
  EXPECT_GE(rs[1].at - t0, 2900ms) << "the batch waits for its oldest to be 3 s old";
  EXPECT_EQ(ids_in(rs[1]).size(), 2u);
  EXPECT_EQ(listed(a, "tok-safety").at(0).at("state").as_string(), "delivered");
}

TEST_F(Notifications, WhatWasPendingWhenSotongdWasKilledIsDeliveredAfterTheRestart) {
  settings.department_yaml["roads"] =
      webhook(receiver.url("/hooks/roads"), "      secret_file: webhook.secret\n");
  receiver.set_default(503);
  start();
  std::vector<std::string> mentions{
      f.mention("c1", "육교 계단이 부서졌어요"),
      f.mention("c2", "맨홀 뚜껑이 열려 있어요"),
      f.mention("c3", "도로에 포트홀이 생겼어요"),
  };
  ASSERT_TRUE(receiver.wait_for([](const Requests& r) { return !r.empty(); }, 15s));
  // Every ticket is open (their notifications queued with them) before the kill.
  std::vector<std::string> tickets;
  for (const auto& m : mentions) tickets.push_back(ticket_of(m));
  for (const auto& t : tickets) ASSERT_FALSE(t.empty());
  f.kill_daemon();
  receiver.set_default(200);
  f.start_daemon();
  std::vector<int64_t> ids;
  for (const auto& t : tickets) {
    auto rows = listed(t);
    ASSERT_EQ(rows.size(), 1u) << t;
    ids.push_back(rows[0].at("id").as_int64());
  }
  ASSERT_TRUE(receiver.wait_for(
      [&](const Requests& rs) {
        for (auto id : ids)
          if (delivered(rs, id) == 0) return false;
        return true;
      },
      20s));
  std::this_thread::sleep_for(500ms);
  const auto rs = receiver.requests();
  for (auto id : ids) EXPECT_EQ(delivered(rs, id), 1) << "notification " << id;
  for (const auto& t : tickets) {
    auto rows = listed(t);
    EXPECT_EQ(rows.at(0).at("state").as_string(), "delivered") << t;
  }
  for (const auto& r : rs) EXPECT_TRUE(signature_holds(r, kSecret));
}

}  // namespace
}  // namespace sotong::test_support
