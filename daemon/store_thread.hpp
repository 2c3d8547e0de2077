// StoreThread: owns the Store and the one thread that touches it, so the network loop never
// blocks on disk. Coroutines on the loop call `co_await store.run(std::move(job))`; the job
// runs on the store thread, and the coroutine resumes on its own executor with the result.
//
// Group commit: jobs that queue up while the thread is busy run together in ONE transaction
// (each job's own transaction becomes a savepoint), so a burst of mentions and closes costs
// one sync of the disk instead of one each. Results are handed back only after that commit:
// nothing is posted before its ticket is durable. If the group's commit fails, every job of
// the group runs again alone, and each caller gets its own job's answer. Jobs must therefore
// only touch the store (no effects elsewhere) and may run twice.
//
// Health: after a job meets an environmental fault (disk full, read-only, I/O error, server
// gone) the store counts as failing: healthy() turns false, intake stops, and the thread
// tries a small write every `probe_interval` until one succeeds, busy or not. A group that
// fails for such a fault answers all its jobs with the error at once rather than running
// each again alone against a store that is down.
//
// Lifetime: outlives every coroutine that uses it; stop() joins the thread after pending work.
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>

#include "daemon/store.hpp"

namespace sotong {

struct StoreThreadOptions {
  int max_group = 64;  // jobs per group transaction; 1 turns group commit off
  std::chrono::milliseconds probe_interval{1000};
};

struct StoreThreadStats {
  uint64_t jobs = 0;
  uint64_t groups = 0;          // transactions that held more than one job
  uint64_t grouped_jobs = 0;    // jobs that ran inside those
  uint64_t group_failures = 0;  // group commits that failed (their jobs ran again alone)
};

class StoreThread {
 public:
  explicit StoreThread(std::unique_ptr<Store> store, StoreThreadOptions options = {});
  ~StoreThread();
  StoreThread(const StoreThread&) = delete;
  StoreThread& operator=(const StoreThread&) = delete;

  // Callers pass a named callable (`co_await store.run(std::move(job))`), never a lambda
  // temporary: GCC 12 destroys such temporaries twice inside a co_await expression.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<std::decay_t<F>&, Store&>> run(F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&, Store&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr, R)>(
        Initiation<R>{this}, boost::asio::use_awaitable, std::forward<F>(f));
  }

  // False from an environmental fault until a probe write succeeds. Any thread.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  // Called on the store thread when healthy() changes.
  void on_health_change(std::function<void(bool healthy, db::Fault why)> f);
  StoreThreadStats stats() const;

  // Waits for queued work, then joins the thread. The Store closes with the StoreThread.
  void stop();

 private:
  struct Job {
    std::function<void(Store&)> work;  // runs the caller's job, keeps its result
    // Gives the job an error as its result without running it; false if its result type
    // cannot hold one (then it runs alone instead).
    std::function<bool(const std::string&)> fail;
    std::function<void()> deliver;  // hands the result to the caller's executor
  };

  template <class R>
  struct Initiation {
    StoreThread* self;
    template <class Handler, class F>
    void operator()(Handler handler, F f) const {
      struct State {
        F fn;
        Handler handler;
        std::exception_ptr error;
        R result{};
      };
      auto st = std::make_shared<State>(State{std::move(f), std::move(handler), nullptr, R{}});
      Job job;
      job.work = [st](Store& store) {
        st->error = nullptr;
        try {
          st->result = st->fn(store);
        } catch (...) {
          st->error = std::current_exception();
        }
      };
      job.fail = [st](const std::string& message) {
        if constexpr (std::is_constructible_v<R, Error>) {
          st->error = nullptr;
          st->result = R(Error{message});
          return true;
        } else {
          return false;
        }
      };
      job.deliver = [st] {
        // Resume the caller on its own executor, never on the store thread.
        auto ex = boost::asio::get_associated_executor(st->handler);
        boost::asio::post(ex, [st] { std::move(st->handler)(st->error, std::move(st->result)); });
      };
      self->submit(std::move(job));
    }
  };

  void submit(Job job);
  void loop();
  void run_group(std::deque<Job>& group);
  void check_health(bool probe);

  std::unique_ptr<Store> store_;
  StoreThreadOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  StoreThreadStats stats_;
  std::atomic<bool> healthy_{true};
  // When the failing store is next tried with a write (the store thread's own).
  std::chrono::steady_clock::time_point next_probe_{};
  std::function<void(bool, db::Fault)> on_health_;
  std::thread thread_;
};

}  // namespace sotong
