// The pure part of department notifications: payloads, bodies, signatures, and what an
// answer means.
#include "daemon/notification.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "daemon/config.hpp"
#include "temp_dir.hpp"

namespace sotong::notification {
namespace {

namespace json = boost::json;

TicketRow ticket() {
  TicketRow t;
  t.id = 7;
  t.number = "SP-2026-000007";
  t.department = "roads";
  t.category = "footbridge";
  t.priority = Priority::kHigh;
  t.status = "open";
  t.language = "ko";
  t.author_acct = "citizen@example.org";
  t.text = "육교 <구멍> & 010-1234-5678 로 연락주세요";
  t.created_at_ms = 1'700'000'000'000;
  return t;
}

NotificationRow row(int64_t id, const std::string& event = "opened") {
  NotificationRow n;
  n.id = id;
  n.ticket_number = "SP-2026-00000" + std::to_string(id);
  n.department = "roads";
  n.event = event;
  n.payload = payload(ticket(), event, "", 1'700'000'001'000);
  return n;
}

TEST(Notification, PayloadMasksPersonalDataAndLeavesOutTheAuthor) {
  auto p = json::parse(payload(ticket(), kReassigned, "parks", 1'700'000'001'000)).as_object();
  EXPECT_EQ(p.at("event").as_string(), "reassigned");
  EXPECT_EQ(p.at("ticket").as_string(), "SP-2026-000007");
  EXPECT_EQ(p.at("from").as_string(), "parks");
  EXPECT_EQ(p.at("priority").as_string(), "high");
  EXPECT_FALSE(p.at("urgent").as_bool());
  EXPECT_EQ(p.at("text").as_string().find("010-1234-5678"), json::string::npos);
  EXPECT_NE(p.at("text").as_string().find("[phone]"), json::string::npos);
  EXPECT_FALSE(p.contains("author"));
  EXPECT_EQ(p.at("created_at").as_string(), "2023-11-14T22:13:20.000Z");
}

TEST(Notification, UrgentMeansAnUrgentTicketOrTheRulesNotifyFlag) {
  TicketRow t = ticket();
  EXPECT_FALSE(urgent(t));
  t.notify = true;
  EXPECT_TRUE(urgent(t));
  t.notify = false;
  t.priority = Priority::kUrgent;
  EXPECT_TRUE(urgent(t));
}

TEST(Notification, JsonBodyIsOneEnvelopeWithTheIdFirstForOneOrMany) {
  auto one = json::parse(body({row(1)}, "json")).as_object();
  ASSERT_EQ(one.size(), 1u);
  const auto& list = one.at("notifications").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].as_object().begin()->key(), "id");
  EXPECT_EQ(list[0].at("id").as_int64(), 1);
  EXPECT_EQ(list[0].at("event").as_string(), "opened");
  auto many = json::parse(body({row(1), row(2, "reopened")}, "json")).as_object();
  ASSERT_EQ(many.at("notifications").as_array().size(), 2u);
  EXPECT_EQ(many.at("notifications").as_array()[1].at("event").as_string(), "reopened");
}

TEST(Notification, SlackBodyIsTextAloneEscapedAndNamesEveryTicket) {
  auto one = json::parse(body({row(1)}, "slack")).as_object();
  ASSERT_EQ(one.size(), 1u);
  const std::string text(one.at("text").as_string());
  EXPECT_NE(text.find("[SP-2026-000001] opened"), std::string::npos) << text;
  EXPECT_NE(text.find("&lt;구멍&gt; &amp;"), std::string::npos) << text;
  EXPECT_EQ(text.find("010-1234-5678"), std::string::npos);
  auto many = json::parse(body({row(1), row(2)}, "slack")).as_object();
  const std::string both(many.at("text").as_string());
  EXPECT_EQ(both.rfind("2 tickets:", 0), 0u) << both;
  EXPECT_NE(both.find("SP-2026-000001"), std::string::npos);
  EXPECT_NE(both.find("SP-2026-000002"), std::string::npos);
}

TEST(Notification, HeadersSignTheTimestampPathQueryAndBody) {
  const std::string secret(32, 'k');
  auto h = headers({row(3), row(4), row(5, "reopened")}, secret, "/hooks/sotong?dept=roads",
                   R"({"a":1})", 1'700'000'000);
  auto get = [&](const std::string& name) {
    for (const auto& [k, v] : h)
      if (k == name) return v;
    return std::string();
  };
  EXPECT_EQ(get("X-Sotong-Delivery"), "3,4,5");
  EXPECT_EQ(get("X-Sotong-Event"), "opened,reopened");
  EXPECT_EQ(get("X-Sotong-Timestamp"), "1700000000");
  // Python: hmac.new(b"k"*32, b'1700000000\nPOST\n/hooks/sotong?dept=roads\n{"a":1}', sha256)
  EXPECT_EQ(get("X-Sotong-Signature"),
            "sha256=d37540c3a54020130f4c2b61645c489230571a73f5cbfb2fa9c25b20ea8fb2a0");
  auto unsigned_ = headers({row(3)}, "", "/x", "{}", 1);
  for (const auto& [k, v] : unsigned_) EXPECT_NE(k, "X-Sotong-Signature");
}

TEST(Notification, DestinationKeepsTheWholePathAndQuery) {
  auto d = destination("https://hooks.example.org:8443/services/T0/B1?team=roads").value();
  EXPECT_TRUE(d.endpoint.tls);
  EXPECT_EQ(d.endpoint.host, "hooks.example.org");
  EXPECT_EQ(d.endpoint.port, "8443");
  EXPECT_EQ(d.endpoint.path_prefix, "");
  EXPECT_EQ(d.target, "/services/T0/B1?team=roads");
  EXPECT_EQ(destination("http://127.0.0.1:9")->target, "/");
  EXPECT_FALSE(destination("ftp://example.org/").ok());
}

TEST(Notification, TwoHundredsDeliverServerTroubleRetriesAndRefusalsFail) {
  EXPECT_EQ(judge(200, "", "").kind, Verdict::Kind::kDelivered);
  EXPECT_EQ(judge(204, "", "").kind, Verdict::Kind::kDelivered);
  for (int status : {500, 502, 503, 408, 429, 301})
    EXPECT_EQ(judge(status, "", "").kind, Verdict::Kind::kRetry) << status;
  for (int status : {400, 401, 403, 404, 410, 422}) {
    auto v = judge(status, "", "no such channel");
    EXPECT_EQ(v.kind, Verdict::Kind::kRefused) << status;
    EXPECT_EQ(v.error, "HTTP " + std::to_string(status) + ": no such channel");
  }
  EXPECT_EQ(judge_failure("timeout").kind, Verdict::Kind::kRetry);
}

TEST(Notification, RetryAfterSecondsAreHonouredUpToAnHour) {
  EXPECT_EQ(judge(429, "7", "").retry_after, std::chrono::seconds(7));
  EXPECT_EQ(judge(503, "86400", "").retry_after, std::chrono::hours(1));
  EXPECT_EQ(judge(503, "Wed, 21 Oct 2015 07:28:00 GMT", "").retry_after.count(), 0);
  EXPECT_EQ(judge(503, "-3", "").retry_after.count(), 0);
}

TEST(Notification, BackoffDoublesUpToItsCap) {
  using std::chrono::milliseconds;
  const milliseconds initial(2000), max(600000);
  EXPECT_EQ(backoff(initial, max, 0), milliseconds(2000));
  EXPECT_EQ(backoff(initial, max, 1), milliseconds(4000));
  EXPECT_EQ(backoff(initial, max, 5), milliseconds(64000));
  EXPECT_EQ(backoff(initial, max, 9), max);
  EXPECT_EQ(backoff(initial, max, 1000), max);
}

std::string config_with(const std::string& webhook, const std::string& extra = "") {
  return "accounts:\n"
         "  - name: songpa\n"
         "    platform: mastodon\n"
         "    base_url: https://mastodon.example/\n"
         "    token_file: token\n"
         "departments:\n"
         "  roads:\n"
         "    token_sha256: " +
         sha256_hex("roads-token") + "\n    webhook:\n" + webhook + extra;
}

TEST(NotificationConfig, AWebhookWithItsSecretFormatBatchAndRetriesLoads) {
  test_support::TempDir d;
  d.write("token", "t");
  d.write("roads.secret", std::string(40, 's'));
  auto c = load_config(
      d.write("sotong.yaml", config_with("      url: https://hooks.example/roads?x=1\n"
                                         "      secret_file: roads.secret\n"
                                         "      batch_seconds: 300\n",
                                         "notifications:\n  initial_backoff_ms: 500\n"
                                         "  max_backoff_ms: 60000\n  give_up_after_hours: 48\n"
                                         "  request_timeout_seconds: 5\n")));
  ASSERT_TRUE(c.ok()) << c.error();
  const auto& w = c->departments.at("roads").webhook;
  EXPECT_EQ(w.url, "https://hooks.example/roads?x=1");
  EXPECT_EQ(w.secret, std::string(40, 's'));
  EXPECT_EQ(w.format, "json");
  EXPECT_EQ(w.batch, std::chrono::seconds(300));
  EXPECT_EQ(c->notifications.initial_backoff, std::chrono::milliseconds(500));
  EXPECT_EQ(c->notifications.max_backoff, std::chrono::milliseconds(60000));
  EXPECT_EQ(c->notifications.give_up_after, std::chrono::hours(48));
  EXPECT_EQ(c->notifications.request_timeout, std::chrono::seconds(5));
}

TEST(NotificationConfig, ASignedWebhookWithoutASecretOrAnUnknownFormatIsRefused) {
  test_support::TempDir d;
  d.write("token", "t");
  auto unsigned_json =
      load_config(d.write("sotong.yaml", config_with("      url: https://hooks.example/roads\n")));
  ASSERT_FALSE(unsigned_json.ok());
  EXPECT_NE(unsigned_json.error().find("secret"), std::string::npos) << unsigned_json.error();
  auto xml = load_config(d.write(
      "sotong.yaml", config_with("      url: https://hooks.example/roads\n      format: xml\n")));
  EXPECT_FALSE(xml.ok());
  auto slack = load_config(d.write(
      "sotong.yaml", config_with("      url: https://hooks.example/roads\n      format: slack\n")));
  EXPECT_TRUE(slack.ok()) << slack.error();
  auto bad_retry = load_config(d.write(
      "sotong.yaml", config_with("      url: https://hooks.example/roads\n      format: slack\n",
                                 "notifications:\n  give_up_after_hours: 0\n")));
  EXPECT_FALSE(bad_retry.ok());
}

}  // namespace
}  // namespace sotong::notification
