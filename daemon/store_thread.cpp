#include "daemon/store_thread.hpp"

#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

StoreThread::StoreThread(std::unique_ptr<Store> store, StoreThreadOptions options)
    : store_(std::move(store)), options_(options) {
  thread_ = std::thread([this] { loop(); });
}

StoreThread::~StoreThread() {
  stop();
}

void StoreThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreThread::on_health_change(std::function<void(bool, db::Fault)> f) {
  std::lock_guard lock(mu_);
  on_health_ = std::move(f);
}

StoreThreadStats StoreThread::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void StoreThread::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StoreThread::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    const bool woke = cv_.wait_for(lock, options_.probe_interval,
                                   [this] { return stopping_ || !queue_.empty(); });
    // Failing: try a write when due, however busy (reads keep coming while writes fail), so
    // intake resumes by itself once space returns.
    if (!healthy() && std::chrono::steady_clock::now() >= next_probe_) {
      lock.unlock();
      check_health(true);
      lock.lock();
    }
    if (!woke) continue;
    if (queue_.empty()) return;  // stopping, and every job done
    std::deque<Job> group;
    const std::size_t n =
        std::min(queue_.size(), static_cast<std::size_t>(std::max(1, options_.max_group)));
    for (std::size_t i = 0; i < n; ++i) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    run_group(group);
    lock.lock();
  }
}

void StoreThread::run_group(std::deque<Job>& group) {
  Store& store = *store_;
  bool grouped = false;
  if (group.size() > 1 && store.begin_group()) {
    grouped = true;
    for (auto& job : group) {
      // A full disk or a lost server can end the transaction under us: a job run then would
      // commit on its own, and running it again below would do it twice.
      if (!store.group_intact()) {
        grouped = false;
        break;
      }
      job.work(store);
    }
    if (grouped && store.group_intact() && store.commit_group()) {
      std::lock_guard lock(mu_);
      stats_.jobs += group.size();
      stats_.groups += 1;
      stats_.grouped_jobs += group.size();
    } else {
      store.rollback_group();
      grouped = false;
      {
        std::lock_guard lock(mu_);
        stats_.group_failures += 1;
      }
      // The machine's trouble, not the jobs': nothing of the group was written; say so to all
      // at once instead of trying each against a store that is down.
      if (db::is_environmental(store.last_fault())) {
        const std::string why =
            std::string("store unavailable (") + db::to_string(store.last_fault()) + ")";
        bool all = true;
        for (auto& job : group) all = job.fail(why) && all;
        if (all) {
          check_health(false);
          for (auto& job : group) job.deliver();
          return;
        }
      }
    }
  }
  if (!grouped) {
    // Alone, each with its own transaction and its own answer.
    for (auto& job : group) {
      job.work(store);
      std::lock_guard lock(mu_);
      stats_.jobs += 1;
    }
  }
  check_health(false);
  for (auto& job : group) job.deliver();
}

void StoreThread::check_health(bool probe) {
  Store& store = *store_;
  db::Fault fault = store.take_environmental_fault();
  bool now_healthy = healthy();
  if (fault != db::Fault::kNone) {
    now_healthy = false;
  } else if (probe) {
    now_healthy = store.probe_write(now_ms()).ok();
    if (!now_healthy) fault = store.take_environmental_fault();
    next_probe_ = std::chrono::steady_clock::now() + options_.probe_interval;
  }
  if (now_healthy == healthy()) return;
  if (!now_healthy) next_probe_ = std::chrono::steady_clock::now() + options_.probe_interval;
  healthy_.store(now_healthy, std::memory_order_release);
  if (now_healthy)
    log::info("store takes writes again; reading mentions and taking department changes");
  else
    log::error("store failing; mentions not read and the hook answers 503 until a write succeeds",
               {{"fault", db::to_string(fault)}});
  std::function<void(bool, db::Fault)> f;
  {
    std::lock_guard lock(mu_);
    f = on_health_;
  }
  if (f) f(now_healthy, fault);
}

}  // namespace sotong
