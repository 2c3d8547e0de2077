// Leadership: which instance reads mentions and posts replies for each account when several
// sotongd share one PostgreSQL store (the hook is served by all of them).
//
// Each account has a session-level advisory lock; the instance whose session holds it leads
// the account. A thread of its own keeps that one session: every `interval` it tries the
// locks it lacks and checks that the session (and with it the locks) is alive; in between it
// waits for "sotong_outbox" notifications, so a reply queued on another instance (a close
// through its hook) wakes the sender here at once.
//
// When a leader dies, its session ends and PostgreSQL frees the locks: another instance
// leads within one `interval`. When the session is lost while the process lives (a network
// cut), this instance steps down at once; the server frees the locks when its keepalives
// give up on the session (set here to about 25 s). Outbox claims (Store::claim_due) keep
// the two from posting one row in that window. docs/guarantees.md has the numbers.
//
// Callbacks run on the leadership thread: post to the loop from them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sotong {

class Leadership {
 public:
  struct Options {
    std::string url;                    // the store's postgresql:// URL
    std::vector<std::string> accounts;  // the configuration's account names
    std::chrono::milliseconds interval{1000};
  };
  using ChangeFn = std::function<void(const std::string& account, bool leading)>;
  using QueuedFn = std::function<void(const std::string& account)>;

  Leadership(Options options, ChangeFn on_change, QueuedFn on_queued);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  void start();
  // Ends the session, so the locks are free for the other instances at once.
  void stop();

  // The advisory lock's key for an account of the desk whose tables are in `scope`
  // ("database.schema"): stable across versions and machines.
  static int64_t lock_key(std::string_view scope, std::string_view account);
  // The notification channel a queued reply is announced on (payload: the account).
  static constexpr const char* kChannel = "sotong_outbox";

 private:
  void loop();

  Options options_;
  ChangeFn on_change_;
  QueuedFn on_queued_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // an eventfd that cuts the wait short on stop()
  std::thread thread_;
};

}  // namespace sotong
