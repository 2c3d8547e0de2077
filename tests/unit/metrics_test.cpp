// /metrics as Prometheus reads it: the text format, with every series the docs promise.
#include "daemon/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "daemon/store.hpp"

namespace sotong {
namespace {

// The value of the series written exactly as `series` (name and labels), or -1 if absent.
double value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

TEST(Metrics, CountsMentionsPerPlatformAndAccount) {
  Metrics m;
  m.add_account("x", "songpa_x");
  m.mention_received("mastodon", "songpa");
  m.mention_received("mastodon", "songpa");
  auto text = m.render(nullptr, {}, 0);
  EXPECT_EQ(value(text, R"(sotong_mentions_received_total{account="songpa",platform="mastodon"})"),
            2);
  EXPECT_EQ(value(text, R"(sotong_mentions_received_total{account="songpa_x",platform="x"})"), 0)
      << "an account's series exists before its first mention";
  EXPECT_NE(text.find("# TYPE sotong_mentions_received_total counter"), std::string::npos);
}

TEST(Metrics, AckLatencyIsObservedForAcknowledgementsOnly) {
  Metrics m;
  m.reply_sent("ack", 1'000, 3'500);
  m.reply_sent("followup", 1'000, 900'000);
  auto text = m.render(nullptr, {}, 0);
  EXPECT_EQ(value(text, R"(sotong_replies_sent_total{kind="ack"})"), 1);
  EXPECT_EQ(value(text, R"(sotong_replies_sent_total{kind="followup"})"), 1);
  EXPECT_EQ(value(text, "sotong_ack_latency_seconds_count"), 1);
  EXPECT_DOUBLE_EQ(value(text, "sotong_ack_latency_seconds_sum"), 2.5);
  EXPECT_EQ(value(text, R"(sotong_ack_latency_seconds_bucket{le="1"})"), 0);
  EXPECT_EQ(value(text, R"(sotong_ack_latency_seconds_bucket{le="2.5"})"), 1);
  EXPECT_EQ(value(text, R"(sotong_ack_latency_seconds_bucket{le="+Inf"})"), 1);
}

TEST(Metrics, CountsPlatformErrorsRateLimitWaitsReloadsAndHookAnswers) {
  Metrics m;
  m.platform_error("songpa", PlatformErrorKind::kTimeout);
  m.platform_error("songpa", PlatformErrorKind::kRateLimited);
  m.rate_limit_wait("songpa");
  m.reload(false);
  m.hook_request("/v1/tickets/{ticket}/close", 200);
  auto text = m.render(nullptr, {}, 0);
  EXPECT_EQ(value(text, R"(sotong_platform_errors_total{account="songpa",kind="timeout"})"), 1);
  EXPECT_EQ(value(text, R"(sotong_platform_errors_total{account="songpa",kind="rate_limited"})"),
            1);
  EXPECT_EQ(value(text, R"(sotong_rate_limit_waits_total{account="songpa"})"), 1);
  EXPECT_EQ(value(text, R"(sotong_reloads_total{result="failed"})"), 1);
  EXPECT_EQ(value(text, R"(sotong_reloads_total{result="ok"})"), 0);
  EXPECT_EQ(
      value(text, R"(sotong_hook_requests_total{route="/v1/tickets/{ticket}/close",status="200"})"),
      1);
}

TEST(Metrics, StoreGaugesShowEveryConfiguredDepartmentAndPriority) {
  Metrics m;
  StoreGauges g;
  g.open_tickets = {{"roads", Priority::kNormal, 3}, {"retired", Priority::kLow, 1}};
  g.outbox_pending = 2;
  g.outbox_oldest_pending_ms = 10'000;
  g.notifications_pending = 4;
  auto text = m.render(&g, {"parks", "roads"}, 70'500);
  EXPECT_EQ(value(text, "sotong_store_up"), 1);
  EXPECT_EQ(value(text, R"(sotong_open_tickets{department="roads",priority="normal"})"), 3);
  EXPECT_EQ(value(text, R"(sotong_open_tickets{department="roads",priority="urgent"})"), 0);
  EXPECT_EQ(value(text, R"(sotong_open_tickets{department="parks",priority="low"})"), 0);
  EXPECT_EQ(value(text, R"(sotong_open_tickets{department="retired",priority="low"})"), 1)
      << "a department gone from the configuration still shows its open tickets";
  EXPECT_EQ(value(text, "sotong_outbox_pending"), 2);
  EXPECT_DOUBLE_EQ(value(text, "sotong_outbox_oldest_pending_seconds"), 60.5);
  EXPECT_EQ(value(text, "sotong_notifications_pending"), 4);
}

TEST(Metrics, WithoutTheStoreOnlyItsAbsenceIsShown) {
  Metrics m;
  auto text = m.render(nullptr, {"roads"}, 0);
  EXPECT_EQ(value(text, "sotong_store_up"), 0);
  EXPECT_EQ(text.find("sotong_open_tickets"), std::string::npos);
  EXPECT_EQ(text.find("sotong_outbox_pending"), std::string::npos);
}

TEST(Metrics, AnEmptyOutboxHasNoAge) {
  Metrics m;
  StoreGauges g;
  auto text = m.render(&g, {}, 1'000'000);
  EXPECT_EQ(value(text, "sotong_outbox_oldest_pending_seconds"), 0);
}

TEST(PlatformErrors, AreClassifiedByStatusClassTimeoutAndNetwork) {
  auto kind_of = [](Result<HttpResponse> r) {
    PlatformErrorKind k{};
    return classify(r, &k) ? std::string(to_string(k)) : std::string("none");
  };
  auto status = [](int s) {
    HttpResponse r;
    r.status = s;
    return Result<HttpResponse>(r);
  };
  EXPECT_EQ(kind_of(Error{"read from mastodon.example: timed out"}), "timeout");
  EXPECT_EQ(kind_of(Error{"connect mastodon.example: Connection refused"}), "network");
  EXPECT_EQ(kind_of(status(429)), "rate_limited");
  EXPECT_EQ(kind_of(status(503)), "http_5xx");
  EXPECT_EQ(kind_of(status(404)), "http_4xx");
  EXPECT_EQ(kind_of(status(200)), "none");
}

}  // namespace
}  // namespace sotong
