// Sender: drains the outbox of one account through its Connector: urgent first, then oldest;
// retries transient failures with exponential backoff and jitter (and the platform's own
// wait after a 429); records the platform's id of each reply. It drains again at start, so
// a reply committed before a crash is posted after it. One post in flight per account, and
// at most posts_per_hour in any hour (urgent rows still go first when the budget frees).
// stop() lets the post in flight finish, then run() returns.
// Thread rules: on the network loop; store work goes through StoreThread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <string>

#include "connectors/connector.hpp"
#include "daemon/metrics.hpp"
#include "daemon/store_thread.hpp"
#include "daemon/util/doorbell.hpp"

namespace sotong {

struct SenderOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{300000};
  int posts_per_hour = 0;  // the account's budget below the platform's limit; 0: none
  // This sender's name on the rows it takes (several instances on one PostgreSQL store; one
  // name per term of leadership), and how long a claim on one row holds before another may
  // take it over: longer than a post's timeout, so a live sender's post is never raced.
  std::string claimant = "sotongd";
  std::chrono::milliseconds claim_lease{40000};
};

class Sender {
 public:
  // `metrics` (may be null) counts replies, acknowledgement latency and rate-limit waits;
  // it outlives the sender.
  Sender(boost::asio::any_io_executor ex, StoreThread& store, Connector& connector,
         SenderOptions options, Metrics* metrics = nullptr);
  boost::asio::awaitable<void> run();
  // New work was queued: look now rather than at the next due time.
  void wake();
  void stop();
  bool running() const { return running_; }
  // The name this sender's claims go by (before run()).
  void set_claimant(std::string claimant) { options_.claimant = std::move(claimant); }

  // Rows taken from the outbox at a time; small so urgent rows queued meanwhile are seen soon.
  static constexpr int kBatch = 16;

  // The wait before attempt number `attempts` + 1 (without jitter).
  static std::chrono::milliseconds backoff(const SenderOptions& o, int attempts);

 private:
  // Whether the last hour's posts have used the budget (forgetting older ones).
  bool budget_spent(int64_t now);
  // Waits until the budget frees or the sender stops.
  boost::asio::awaitable<void> wait_for_budget();

  StoreThread& store_;
  Connector& connector_;
  Metrics* metrics_;
  SenderOptions options_;
  Doorbell bell_;                          // rung by wake(), closed by stop()
  boost::asio::steady_timer pause_timer_;  // a 429 or outage pause: only stop() cuts it
  std::deque<int64_t> sent_at_ms_;         // posts within the last hour, oldest first
  bool stopping_ = false;
  bool running_ = false;
};

}  // namespace sotong
