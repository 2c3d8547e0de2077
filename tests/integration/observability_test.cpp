// What monitoring and civic tools see of the real sotongd: /metrics moving with the desk's
// work, /readyz waiting for the connectors, and the public Open311 view of the tickets.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "harness.hpp"

namespace sotong::test_support {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The sum of every series whose line starts with `prefix` (a name, or a name and the first
// labels), or -1 when there is none.
double metric(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  double sum = -1;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || line.rfind(prefix, 0) != 0) continue;
    const char next = line.size() > prefix.size() ? line[prefix.size()] : '\0';
    if (prefix.back() != ',' && next != ' ' && next != '{') continue;  // another metric's name
    sum = (sum < 0 ? 0 : sum) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::string str(const json::value& v, const char* key) {
  const auto& x = v.as_object().at(key);
  return x.is_string() ? std::string(x.as_string()) : std::string();
}

const char* const kMentions =
    R"(sotong_mentions_received_total{account="songpa",platform="mastodon"})";

class Observability : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) f.dump_logs();
  }
  std::string scrape() {
    auto r = http("GET", f.hook_port(), "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
    return r.body;
  }
  // Waits until the metric reaches `want` (the sender counts just after the post lands).
  bool wait_metric(const std::string& prefix, double want) {
    return wait_until([&] { return metric(scrape(), prefix) == want; }, seconds(10),
                      milliseconds(100));
  }
  Fixture f;
};

TEST_F(Observability, MetricsFollowAMentionItsAcknowledgementAndTheClose) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  auto before = scrape();
  EXPECT_EQ(metric(before, kMentions), 0);
  EXPECT_EQ(metric(before, R"(sotong_open_tickets{department="roads",)"), 0);
  EXPECT_EQ(metric(before, "sotong_store_up"), 1);

  auto id = f.mention("rea_citizen", "만리재로 193 앞 육교에 구멍이 두 군데 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  ASSERT_TRUE(wait_metric(R"(sotong_replies_sent_total{kind="ack"})", 1));
  auto acked = scrape();
  EXPECT_EQ(metric(acked, kMentions), 1);
  EXPECT_EQ(metric(acked, "sotong_ack_latency_seconds_count"), 1);
  EXPECT_EQ(metric(acked, R"(sotong_ack_latency_seconds_bucket{le="+Inf"})"), 1);
  EXPECT_EQ(metric(acked, R"(sotong_open_tickets{department="roads",)"), 1);
  EXPECT_EQ(metric(acked, "sotong_outbox_pending"), 0);

  auto ticket = f.ticket_for_mention(id);
  ASSERT_FALSE(ticket.empty());
  auto closed = f.hook("POST", "/v1/tickets/" + ticket + "/close",
                       Fixture::department_tokens().at("roads"), R"({"resolution":"보수 완료"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  ASSERT_TRUE(f.wait_for_posts(2));
  ASSERT_TRUE(wait_metric(R"(sotong_replies_sent_total{kind="followup"})", 1));
  auto after = scrape();
  EXPECT_EQ(metric(after, R"(sotong_open_tickets{department="roads",)"), 0);
  EXPECT_EQ(metric(after, "sotong_ack_latency_seconds_count"), 1) << "a follow-up is no ack";
  EXPECT_EQ(
      metric(after,
             R"(sotong_hook_requests_total{route="/v1/tickets/{ticket}/close",status="200"})"),
      1);
  EXPECT_EQ(metric(after, R"(sotong_reloads_total{result="ok"})"), 0);

  f.signal_daemon(SIGHUP);
  EXPECT_TRUE(wait_metric(R"(sotong_reloads_total{result="ok"})", 1));
}

TEST_F(Observability, ARateLimitedPostIsCountedAsAnErrorAndAWait) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  f.fault("429", 1, "/api/v1/statuses");
  f.mention("c1", "버스 배차 간격이 너무 길어요");
  ASSERT_TRUE(f.wait_for_posts(1, seconds(30)));
  ASSERT_TRUE(wait_metric(R"(sotong_replies_sent_total{kind="ack"})", 1));
  auto text = scrape();
  EXPECT_EQ(metric(text, R"(sotong_platform_errors_total{account="songpa",kind="rate_limited"})"),
            1);
  EXPECT_EQ(metric(text, R"(sotong_rate_limit_waits_total{account="songpa"})"), 1);
}

TEST_F(Observability, ReadyzWaitsForEveryConnector) {
  f.start_sandbox();
  f.write_config();
  // The account cannot be verified for its first tries: the connector is still starting.
  f.fault("500", 4, "/api/v1/accounts/verify_credentials");
  f.spawn_daemon();
  ASSERT_TRUE(wait_until([&] { return f.hook_port_from_file() != 0; }, seconds(10)));
  const uint16_t port = f.hook_port_from_file();
  auto starting = http("GET", port, "/readyz");
  EXPECT_EQ(starting.status, 503) << starting.body;
  ASSERT_TRUE(starting.json().is_object()) << starting.body;
  EXPECT_EQ(str(starting.json(), "status"), "not ready");
  EXPECT_EQ(str(starting.json(), "store"), "ok");
  EXPECT_EQ(str(starting.json().as_object().at("accounts"), "songpa"), "starting");

  HttpResult ready;
  ASSERT_TRUE(wait_until(
      [&] {
        ready = http("GET", port, "/readyz");
        return ready.status == 200;
      },
      seconds(25), milliseconds(100)));
  EXPECT_EQ(str(ready.json(), "status"), "ready");
  EXPECT_EQ(str(ready.json().as_object().at("accounts"), "songpa"), "ready");
  EXPECT_EQ(http("GET", port, "/healthz").status, 200);
  auto metrics = http("GET", port, "/metrics").body;
  EXPECT_GE(metric(metrics, R"(sotong_platform_errors_total{account="songpa",kind="http_5xx"})"),
            4);
}

class Open311 : public Observability {
 protected:
  void SetUp() override {
    f.start_sandbox();
    DaemonSettings s;
    s.extra_yaml =
        "open311:\n  enabled: true\n  jurisdiction_id: songpa.go.kr\n  services:\n"
        "    footbridge:\n      name: 육교 파손\n      group: 도로\n";
    f.write_config(s);
    f.start_daemon();
  }
  HttpResult get(const std::string& target) { return http("GET", f.hook_port(), target); }
};

TEST_F(Open311, ServicesAreTheCategoriesWithoutCredentials) {
  auto r = get("/open311/v2/services.json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["access-control-allow-origin"], "*");
  bool found = false;
  const json::value services = r.json();
  for (const auto& s : services.as_array()) {
    if (str(s, "service_code") != "footbridge") continue;
    found = true;
    EXPECT_EQ(str(s, "service_name"), "육교 파손");
    EXPECT_EQ(str(s, "group"), "도로");
  }
  EXPECT_TRUE(found) << r.body;
  EXPECT_EQ(get("/open311/v2/services.json?jurisdiction_id=gangnam.go.kr").status, 404);
  EXPECT_EQ(get("/open311/v2/services.json?jurisdiction_id=songpa.go.kr").status, 200);
}

TEST_F(Open311, RequestsShowPublicTicketsMaskedAndNeverPrivateOrHiddenOnes) {
  auto pub = f.mention("rea_citizen", "잠실동 육교에 구멍이 났어요 연락은 010-1234-5678");
  auto direct = f.mention("secret1", "육교 계단이 부서졌어요 zebra-7731-secret", "direct");
  auto abusive = f.mention("angry", "씨발 육교 언제 고쳐");
  ASSERT_TRUE(f.wait_for_posts(2));
  std::string pub_t, direct_t, hidden_t;
  ASSERT_TRUE(wait_until(
      [&] {
        pub_t = f.ticket_for_mention(pub);
        direct_t = f.ticket_for_mention(direct);
        hidden_t = f.ticket_for_mention(abusive);
        return !pub_t.empty() && !direct_t.empty() && !hidden_t.empty();
      },
      seconds(10)));

  auto all = get("/open311/v2/requests.json");
  ASSERT_EQ(all.status, 200) << all.body;
  const json::value listed_all = all.json();
  ASSERT_EQ(listed_all.as_array().size(), 1u) << all.body;
  const auto& req = listed_all.as_array()[0];
  EXPECT_EQ(str(req, "service_request_id"), pub_t);
  EXPECT_EQ(str(req, "status"), "open");
  EXPECT_EQ(str(req, "service_code"), "footbridge");
  EXPECT_EQ(str(req, "service_name"), "육교 파손");
  EXPECT_EQ(str(req, "address"), "잠실동");
  EXPECT_NE(str(req, "description").find("[phone]"), std::string::npos);
  for (const char* secret : {"010-1234", "rea_citizen", "zebra-7731-secret", "secret1", "angry"})
    EXPECT_EQ(all.body.find(secret), std::string::npos) << secret;

  auto one = get("/open311/v2/requests/" + pub_t + ".json");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json().as_array().size(), 1u);
  // A private or hidden ticket is answered exactly as a ticket that does not exist.
  for (const auto& t : {direct_t, hidden_t}) {
    auto r = get("/open311/v2/requests/" + t + ".json");
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.json().as_array()[0].as_object().at("code").as_int64(), 404);
    EXPECT_EQ(r.body.find("zebra"), std::string::npos);
  }
  auto listed = get("/open311/v2/requests.json?service_request_id=" + pub_t + "," + direct_t + "," +
                    hidden_t);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().as_array().size(), 1u) << listed.body;
}

TEST_F(Open311, ClosingATicketShowsItClosedWithItsResolution) {
  auto id = f.mention("rea_citizen", "만리재로 193 앞 육교에 구멍이 두 군데 났어요");
  ASSERT_TRUE(f.wait_for_posts(1));
  auto ticket = f.ticket_for_mention(id);
  ASSERT_FALSE(ticket.empty());
  EXPECT_EQ(get("/open311/v2/requests.json?status=closed").json().as_array().size(), 0u);
  ASSERT_EQ(
      f.hook("POST", "/v1/tickets/" + ticket + "/close", Fixture::department_tokens().at("roads"),
             R"({"resolution":"육교 보수를 마쳤습니다. 담당 02-2147-2000"})")
          .status,
      200);
  auto closed = get("/open311/v2/requests.json?status=closed&service_code=footbridge");
  ASSERT_EQ(closed.status, 200) << closed.body;
  const json::value closed_list = closed.json();
  ASSERT_EQ(closed_list.as_array().size(), 1u) << closed.body;
  const auto& req = closed_list.as_array()[0];
  EXPECT_EQ(str(req, "status"), "closed");
  EXPECT_EQ(str(req, "status_notes"), "육교 보수를 마쳤습니다. 담당 [phone]");
  EXPECT_EQ(get("/open311/v2/requests.json?status=open").json().as_array().size(), 0u);
  EXPECT_EQ(get("/open311/v2/requests.json?service_code=streetlight").json().as_array().size(), 0u);
  // Before the ticket's day: nothing.
  EXPECT_EQ(get("/open311/v2/requests.json?end_date=2020-01-01T00:00:00Z").json().as_array().size(),
            0u);
}

TEST_F(Open311, BadParametersAreGeoReportErrors) {
  auto r = get("/open311/v2/requests.json?status=pending");
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(r.json().is_array()) << r.body;
  EXPECT_EQ(r.json().as_array()[0].as_object().at("code").as_int64(), 400);
  EXPECT_EQ(get("/open311/v2/requests.json?start_date=yesterday").status, 400);
  EXPECT_EQ(get("/open311/v2/requests.json?jurisdiction_id=gangnam.go.kr").status, 404);
  EXPECT_EQ(http("POST", f.hook_port(), "/open311/v2/requests.json", "{}").status, 405)
      << "read-only";
}

TEST_F(Observability, Open311IsOffUnlessEnabled) {
  f.start_sandbox();
  f.write_config();
  f.start_daemon();
  EXPECT_EQ(http("GET", f.hook_port(), "/open311/v2/services.json").status, 404);
  EXPECT_EQ(http("GET", f.hook_port(), "/open311/v2/requests.json").status, 404);
}

}  // namespace
}  // namespace sotong::test_support
