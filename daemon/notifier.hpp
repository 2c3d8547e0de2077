// Notifier: delivers the queue of notifications (Store::due_notifications) to the departments'
// webhooks: an urgent one at once in a POST of its own, the others at once too unless the
// department's webhook batches them (then in one POST once the oldest is batch_seconds old).
// Bodies and signatures come from notification.hpp. A receiver that fails (5xx, 408, 429, no
// answer) is asked again with exponential backoff and jitter, honouring its Retry-After,
// until the configuration's give_up_after; a receiver that refuses (another 4xx) fails the
// rows at once. Either way the row's state and last answer stay in the store for the hook's
// GET /v1/tickets/{ticket}/notifications.
//
// Each round reads the configuration of the moment (`runtime()`), so a reload changes URLs,
// secrets, formats and batching from the next round on. Departments are served side by side,
// each with its own HttpClient and its batches one after another; a failing receiver pauses
// its own department only. Rows are claimed before a delivery, so instances sharing one
// PostgreSQL store never deliver one row at once; a crash between the receiver's answer and
// its record repeats a delivery, which receivers recognise by X-Sotong-Delivery.
//
// Ownership: the Notifier outlives run(); the StoreThread and TLS context outlive it.
// stop() lets deliveries in flight finish (each bounded by the request timeout), gives back
// the claims of rows not delivered, then run() returns.
// Thread rules: on the network loop; store work goes through StoreThread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/notification.hpp"
#include "daemon/store_thread.hpp"
#include "daemon/util/doorbell.hpp"

namespace boost::asio::ssl {
class context;
}

namespace sotong {

struct Runtime;

class Notifier {
 public:
  using RuntimeFn = std::function<std::shared_ptr<const Runtime>()>;
  // `claimant` names this instance on the rows it takes (several instances on PostgreSQL).
  Notifier(boost::asio::any_io_executor ex, StoreThread& store, RuntimeFn runtime,
           std::shared_ptr<boost::asio::ssl::context> tls, std::string claimant);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  boost::asio::awaitable<void> run();
  // A notification was queued: look now rather than at the next poll.
  void wake();
  void stop();

  // Rows read per department and round: enough for a batch in a busy minute.
  static constexpr int kReadLimit = 200;
  // Rows in one POST: a receiver's body limit is rarely below 64 KiB, and 50 payloads fit.
  static constexpr std::size_t kMaxBatch = 50;
  // Another instance may queue rows this one hears nothing of: look at least this often.
  static constexpr std::chrono::milliseconds kPoll{2000};

 private:
  struct Lane;
  using Batch = std::vector<NotificationRow>;

  // Delivers what is due now; returns how long to wait before the next round.
  boost::asio::awaitable<std::chrono::milliseconds> round();
  boost::asio::awaitable<void> deliver_department(Lane& lane, std::string department,
                                                  WebhookConfig hook, NotificationsConfig opts,
                                                  std::vector<Batch> batches);
  // One POST; false when the receiver failed (the department pauses).
  boost::asio::awaitable<bool> deliver(Lane& lane, const std::string& department,
                                       const WebhookConfig& hook, const NotificationsConfig& opts,
                                       const Batch& rows);
  // Records an outcome, retrying while the store refuses: an answer once had is not lost.
  // `job` is the caller's named callable (GCC 12 and temporaries in co_await).
  template <class Job>
  boost::asio::awaitable<void> record(const Job& job, const char* what, const Batch& rows);
  Lane& lane_for(const std::string& department, const std::string& url,
                 std::chrono::milliseconds timeout);

  boost::asio::any_io_executor ex_;
  StoreThread& store_;
  RuntimeFn runtime_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string claimant_;
  Doorbell bell_;                         // rung by wake(), closed by stop()
  boost::asio::steady_timer done_timer_;  // cut when the last delivery under way is done
  int running_ = 0;                       // deliveries under way
  std::map<std::string, std::unique_ptr<Lane>> lanes_;  // by department
  std::set<std::string> without_webhook_;               // departments already warned of
  bool stopping_ = false;
};

}  // namespace sotong
