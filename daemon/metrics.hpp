// Metrics: the daemon's Prometheus metrics (docs/metrics.md), one object per process, made in
// daemon.cpp and handed by pointer to the parts that count (a null pointer counts nothing,
// so unit tests need none). Counters and the acknowledgement-latency histogram live here;
// the gauges that describe the store (open tickets, outbox, notifications) are read from the
// store at scrape time and passed to render(), so they are never stale.
// Thread rules: every function is thread-safe (prometheus-cpp's counters are atomic and its
// registry locks while collecting). Errors: none; a label value is used as given.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/platform_observer.hpp"

namespace sotong {

struct StoreGauges;  // daemon/store.hpp

class Metrics : public PlatformObserver {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Makes the account's series exist at 0 before anything happens on it.
  void add_account(const std::string& platform, const std::string& account);
  // A mention the store took for the first time (duplicates are not counted again).
  void mention_received(const std::string& platform, const std::string& account);
  // A reply the platform accepted; `queued_ms` is when it entered the outbox, which for an
  // acknowledgement is when its mention was received and committed.
  void reply_sent(const std::string& kind, int64_t queued_ms, int64_t posted_ms);
  void platform_error(const std::string& account, PlatformErrorKind kind) override;
  void rate_limit_wait(const std::string& account) override;
  void reload(bool ok);
  // One answer of the hook: `route` is the route's path pattern, e.g. /v1/tickets/{ticket}.
  void hook_request(std::string_view route, int status);

  // The text exposition format (version 0.0.4). `store` is null when the store could not be
  // read: its gauges are left out and sotong_store_up is 0. `departments` are the configured
  // ones: each shows every priority, so a department with nothing open is a 0, not a gap.
  std::string render(const StoreGauges* store, const std::vector<std::string>& departments,
                     int64_t now_ms) const;

  // The acknowledgement latency histogram's upper bounds, in seconds.
  static const std::vector<double>& ack_latency_buckets();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sotong
