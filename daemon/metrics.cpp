#include "daemon/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <utility>

#include "daemon/store.hpp"

namespace sotong {

namespace prom = prometheus;

struct Metrics::Impl {
  prom::Registry registry;
  prom::Family<prom::Counter>& mentions = prom::BuildCounter()
                                              .Name("sotong_mentions_received_total")
                                              .Help("Mentions taken into the store, per account")
                                              .Register(registry);
  prom::Family<prom::Counter>& replies = prom::BuildCounter()
                                             .Name("sotong_replies_sent_total")
                                             .Help("Replies the platform accepted, by kind")
                                             .Register(registry);
  prom::Family<prom::Histogram>& ack_latency =
      prom::BuildHistogram()
          .Name("sotong_ack_latency_seconds")
          .Help("From a mention's commit to its acknowledgement being posted")
          .Register(registry);
  prom::Histogram& ack_latency_all = ack_latency.Add({}, ack_latency_buckets());
  prom::Family<prom::Counter>& platform_errors =
      prom::BuildCounter()
          .Name("sotong_platform_errors_total")
          .Help("Failed platform requests, by account and kind")
          .Register(registry);
  prom::Family<prom::Counter>& rate_limit_waits =
      prom::BuildCounter()
          .Name("sotong_rate_limit_waits_total")
          .Help("Reads or posts that waited for a platform rate limit or our posting budget")
          .Register(registry);
  prom::Family<prom::Counter>& reloads = prom::BuildCounter()
                                             .Name("sotong_reloads_total")
                                             .Help("Configuration reloads, by result")
                                             .Register(registry);
  prom::Family<prom::Counter>& hook_requests = prom::BuildCounter()
                                                   .Name("sotong_hook_requests_total")
                                                   .Help("Hook answers, by route and status")
                                                   .Register(registry);

  Impl() {
    // Series that alerts divide by exist from the start, at 0.
    reloads.Add({{"result", "ok"}});
    reloads.Add({{"result", "failed"}});
    replies.Add({{"kind", "ack"}});
    replies.Add({{"kind", "followup"}});
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

const std::vector<double>& Metrics::ack_latency_buckets() {
  // From a streamed mention answered at once to one that waited out a rate-limit window.
  static const std::vector<double> kBuckets{0.1, 0.25, 0.5, 1,   2.5, 5,   10,
                                            30,  60,   120, 300, 900, 3600};
  return kBuckets;
}

void Metrics::add_account(const std::string& platform, const std::string& account) {
  impl_->mentions.Add({{"platform", platform}, {"account", account}});
  impl_->rate_limit_waits.Add({{"account", account}});
}

void Metrics::mention_received(const std::string& platform, const std::string& account) {
  impl_->mentions.Add({{"platform", platform}, {"account", account}}).Increment();
}

void Metrics::reply_sent(const std::string& kind, int64_t queued_ms, int64_t posted_ms) {
  impl_->replies.Add({{"kind", kind}}).Increment();
  if (kind == "ack")
    impl_->ack_latency_all.Observe(
        static_cast<double>(std::max<int64_t>(posted_ms - queued_ms, 0)) / 1000.0);
}

void Metrics::platform_error(const std::string& account, PlatformErrorKind kind) {
  impl_->platform_errors.Add({{"account", account}, {"kind", std::string(to_string(kind))}})
      .Increment();
}

void Metrics::rate_limit_wait(const std::string& account) {
  impl_->rate_limit_waits.Add({{"account", account}}).Increment();
}

void Metrics::reload(bool ok) {
  impl_->reloads.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void Metrics::hook_request(std::string_view route, int status) {
  impl_->hook_requests.Add({{"route", std::string(route)}, {"status", std::to_string(status)}})
      .Increment();
}

std::string Metrics::render(const StoreGauges* store, const std::vector<std::string>& departments,
                            int64_t now_ms) const {
  // The store's gauges go in a registry of their own, made per scrape: a department whose
  // tickets are all closed shows 0 (or vanishes when unconfigured), never an old count.
  prom::Registry scrape;
  auto& up = prom::BuildGauge()
                 .Name("sotong_store_up")
                 .Help("1 when the store answered this scrape, else 0")
                 .Register(scrape);
  up.Add({}).Set(store != nullptr ? 1 : 0);
  if (store != nullptr) {
    auto& tickets = prom::BuildGauge()
                        .Name("sotong_open_tickets")
                        .Help("Open tickets, by department and priority")
                        .Register(scrape);
    for (const auto& d : departments)
      for (auto p : {Priority::kUrgent, Priority::kHigh, Priority::kNormal, Priority::kLow})
        tickets.Add({{"department", d}, {"priority", std::string(to_string(p))}});
    for (const auto& t : store->open_tickets)
      tickets.Add({{"department", t.department}, {"priority", std::string(to_string(t.priority))}})
          .Set(static_cast<double>(t.count));
    prom::BuildGauge()
        .Name("sotong_outbox_pending")
        .Help("Replies waiting in the outbox")
        .Register(scrape)
        .Add({})
        .Set(static_cast<double>(store->outbox_pending));
    const int64_t oldest_ms = store->outbox_oldest_pending_ms > 0
                                  ? std::max<int64_t>(now_ms - store->outbox_oldest_pending_ms, 0)
                                  : 0;
    prom::BuildGauge()
        .Name("sotong_outbox_oldest_pending_seconds")
        .Help("Age of the oldest reply waiting in the outbox; 0 when none waits")
        .Register(scrape)
        .Add({})
        .Set(static_cast<double>(oldest_ms) / 1000.0);
    prom::BuildGauge()
        .Name("sotong_notifications_pending")
        .Help("Department notifications waiting to be delivered")
        .Register(scrape)
        .Add({})
        .Set(static_cast<double>(store->notifications_pending));
  }
  auto families = impl_->registry.Collect();
  auto more = scrape.Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()),
                  std::make_move_iterator(more.end()));
  return prom::TextSerializer().Serialize(families);
}

}  // namespace sotong
