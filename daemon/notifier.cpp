#include "daemon/notifier.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "connectors/http_client.hpp"
#include "connectors/retry.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;
using Kind = notification::Verdict::Kind;

namespace {
// How often to look again while the store refuses writes.
constexpr std::chrono::milliseconds kStoreRecheck{1000};

std::string ids_of(const std::vector<NotificationRow>& rows) {
  std::string out;
  for (const auto& r : rows) out += (out.empty() ? "" : ",") + std::to_string(r.id);
  return out;
}

std::string tickets_of(const std::vector<NotificationRow>& rows) {
  std::string out;
  for (const auto& r : rows) out += (out.empty() ? "" : ",") + r.ticket_number;
  return out;
}

// A line about one row carries ticket= and notification=, about a batch tickets= and
// notifications=, as the log's correlation ids.
std::string_view ticket_key(const std::vector<NotificationRow>& rows) {
  return rows.size() == 1 ? "ticket" : "tickets";
}

std::string_view notification_key(const std::vector<NotificationRow>& rows) {
  return rows.size() == 1 ? "notification" : "notifications";
}

std::vector<int64_t> id_list(const std::vector<NotificationRow>& rows) {
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

std::chrono::milliseconds until(int64_t at_ms, int64_t now) {
  return std::chrono::milliseconds(std::max<int64_t>(at_ms - now, 1));
}

}  // namespace

// A department's way out: its client, kept alive between deliveries while the URL stays.
struct Notifier::Lane {
  std::string url;
  std::chrono::milliseconds timeout{0};
  std::unique_ptr<HttpClient> client;
  std::string target;           // path and query, as sent and signed
  std::string error;            // non-empty: the URL cannot be used
  int64_t paused_until_ms = 0;  // the receiver failed: nothing goes before this
  bool busy = false;            // a delivery is under way: the lane is not touched meanwhile
};

Notifier::Notifier(asio::any_io_executor ex, StoreThread& store, RuntimeFn runtime,
                   std::shared_ptr<asio::ssl::context> tls, std::string claimant)
    : ex_(ex),
      store_(store),
      runtime_(std::move(runtime)),
      tls_(std::move(tls)),
      claimant_(std::move(claimant)),
      bell_(ex),
      done_timer_(ex) {}

Notifier::~Notifier() = default;

void Notifier::wake() {
  bell_.ring();
}

void Notifier::stop() {
  stopping_ = true;
  bell_.close();
}

Notifier::Lane& Notifier::lane_for(const std::string& department, const std::string& url,
                                   std::chrono::milliseconds timeout) {
  auto& lane = lanes_[department];
  if (!lane) lane = std::make_unique<Lane>();
  if (lane->client && lane->url == url && lane->timeout == timeout) return *lane;
  // A new URL (a reload) gets a new connection; the pause was the old receiver's.
  lane->url = url;
  lane->timeout = timeout;
  lane->client.reset();
  lane->error.clear();
  lane->paused_until_ms = 0;
  auto dest = notification::destination(url);
  if (!dest) {
    lane->error = dest.error();
    return *lane;
  }
  lane->target = dest->target;
  lane->client = std::make_unique<HttpClient>(ex_, dest->endpoint, tls_, timeout);
  return *lane;
}

asio::awaitable<void> Notifier::run() {
  while (!stopping_) {
    // Nothing is delivered that could not be recorded as delivered.
    if (!store_.healthy()) {
      co_await bell_.wait(kStoreRecheck);
      continue;
    }
    auto pause = co_await round();
    if (pause.count() > 0) co_await bell_.wait(pause);
  }
  while (running_ > 0) {
    done_timer_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await done_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  // Rows taken but not delivered are free for another instance at once.
  auto release = [claimant = claimant_](Store& s) {
    return s.release_notification_claims(claimant);
  };
  auto released = co_await store_.run(std::move(release));
  if (!released)
    log::warn("notification claims not given back; they lapse by themselves",
              {{"error", released.error()}});
}

asio::awaitable<std::chrono::milliseconds> Notifier::round() {
  const auto rt = runtime_();
  const Config& cfg = rt->config;
  const NotificationsConfig& opts = cfg.notifications;
  const int64_t now = now_ms();
  auto pause = kPoll;
  auto read_next = [claimant = claimant_](Store& s) { return s.next_notification_due(claimant); };
  if (auto next = co_await store_.run(std::move(read_next)); next && *next && **next > now)
    pause = std::min(pause, until(**next, now));

  // Each department's due rows are read on their own, so one with a long queue (a receiver
  // down for hours, a long batch) never hides another's; busy and paused ones are not read.
  std::map<std::string, Batch> by_department;
  for (const auto& [id, dep] : cfg.departments) {
    if (dep.webhook.url.empty()) continue;
    if (auto it = lanes_.find(id); it != lanes_.end()) {
      if (it->second->busy) continue;
      if (it->second->paused_until_ms > now) {
        pause = std::min(pause, until(it->second->paused_until_ms, now));
        continue;
      }
    }
    auto read = [now, claimant = claimant_, department = id](Store& s) {
      return s.due_notifications(now, kReadLimit, claimant, department);
    };
    auto rows = co_await store_.run(std::move(read));
    if (!rows) {
      log::error("reading the notification queue failed",
                 {{"department", id}, {"error", rows.error()}});
      co_return kPoll;
    }
    if (!rows->empty()) by_department[id] = std::move(*rows);
  }
  // Rows of departments whose webhook a reload took out wait to be given up.
  auto read_due = [now, claimant = claimant_](Store& s) {
    return s.due_notifications(now, kReadLimit, claimant, "");
  };
  auto due = co_await store_.run(std::move(read_due));
  if (!due) {
    log::error("reading the notification queue failed", {{"error", due.error()}});
    co_return kPoll;
  }
  for (auto& row : *due) {
    auto dep = cfg.departments.find(row.department);
    if (dep == cfg.departments.end() || dep->second.webhook.url.empty())
      by_department[row.department].push_back(std::move(row));
  }
  struct Work {
    Lane* lane;
    std::string department;
    WebhookConfig hook;
    std::vector<Batch> batches;
  };
  std::vector<Work> work;
  Batch abandoned;
  const int64_t give_up_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(opts.give_up_after).count();
  for (auto& [department, rows] : by_department) {
    auto dep = cfg.departments.find(department);
    if (dep == cfg.departments.end() || dep->second.webhook.url.empty()) {
      // The webhook was taken out by a reload: the rows wait for one until they are given up.
      if (without_webhook_.insert(department).second)
        log::warn("notifications queued but the department has no webhook now",
                  {{"department", department}});
      for (const auto& r : rows)
        if (r.created_at_ms + give_up_ms <= now) abandoned.push_back(r);
      continue;
    }
    without_webhook_.erase(department);
    const WebhookConfig& hook = dep->second.webhook;
    Lane& lane =
        lane_for(department, hook.url,
                 std::chrono::duration_cast<std::chrono::milliseconds>(opts.request_timeout));
    std::vector<Batch> batches;
    Batch held;
    for (auto& r : rows) {
      if (r.urgent || hook.batch.count() == 0)
        batches.push_back({std::move(r)});
      else
        held.push_back(std::move(r));
    }
    if (!held.empty()) {
      int64_t oldest = held.front().created_at_ms;
      for (const auto& r : held) oldest = std::min(oldest, r.created_at_ms);
      const int64_t ready_at =
          oldest + std::chrono::duration_cast<std::chrono::milliseconds>(hook.batch).count();
      if (ready_at <= now) {
        for (std::size_t i = 0; i < held.size(); i += kMaxBatch)
          batches.emplace_back(
              held.begin() + static_cast<std::ptrdiff_t>(i),
              held.begin() + static_cast<std::ptrdiff_t>(std::min(held.size(), i + kMaxBatch)));
      } else {
        pause = std::min(pause, until(ready_at, now));
      }
    }
    if (!batches.empty()) work.push_back({&lane, department, hook, std::move(batches)});
  }
  if (!abandoned.empty()) {
    log::error("notifications failed: no webhook for their department",
               {{notification_key(abandoned), ids_of(abandoned)},
                {ticket_key(abandoned), tickets_of(abandoned)}});
    auto give_up = [ids = id_list(abandoned)](Store& s) {
      return s.mark_notifications_failed(ids, 0, "the department has no webhook", now_ms());
    };
    co_await record(give_up, "failure", abandoned);
  }
  if (work.empty()) co_return pause;

  // Departments side by side, and the rounds go on meanwhile: one slow receiver holds up
  // neither another department's urgent news nor the reading of new rows.
  for (auto& w : work) {
    w.lane->busy = true;
    ++running_;
    asio::co_spawn(ex_,
                   deliver_department(*w.lane, w.department, w.hook, opts, std::move(w.batches)),
                   [this, lane = w.lane, department = w.department](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         log::error("notification delivery failed",
                                    {{"department", department}, {"error", ex.what()}});
                       }
                     }
                     lane->busy = false;
                     if (--running_ == 0) done_timer_.cancel();
                     wake();  // what came meanwhile for this department goes now
                   });
  }
  co_return pause;
}

asio::awaitable<void> Notifier::deliver_department(Lane& lane, std::string department,
                                                   WebhookConfig hook, NotificationsConfig opts,
                                                   std::vector<Batch> batches) {
  for (const auto& batch : batches) {
    if (stopping_) break;
    const bool ok = co_await deliver(lane, department, hook, opts, batch);
    if (!ok) break;  // the receiver is unwell: the rest wait with it
  }
}

template <class Job>
asio::awaitable<void> Notifier::record(const Job& job, const char* what, const Batch& rows) {
  auto s = co_await store_.run(job);
  // A timer of its own: departments record side by side, and a shared one would cut the
  // others' waits short.
  asio::steady_timer pause(ex_);
  while (!s && !stopping_) {
    log::error("notification outcome not recorded yet; retrying",
               {{notification_key(rows), ids_of(rows)},
                {ticket_key(rows), tickets_of(rows)},
                {"outcome", what},
                {"error", s.error()}});
    pause.expires_after(kStoreRecheck);
    boost::system::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    s = co_await store_.run(job);
  }
  if (!s)
    log::error("notification outcome not recorded", {{notification_key(rows), ids_of(rows)},
                                                     {ticket_key(rows), tickets_of(rows)},
                                                     {"outcome", what},
                                                     {"error", s.error()}});
}

asio::awaitable<bool> Notifier::deliver(Lane& lane, const std::string& department,
                                        const WebhookConfig& hook, const NotificationsConfig& opts,
                                        const Batch& batch) {
  // A request may take its timeout three times (name lookup, connect, exchange) and once
  // more on a stale kept-alive connection: the claim outlasts all of it.
  const auto lease = std::chrono::duration_cast<std::chrono::milliseconds>(
      opts.request_timeout * 8 + std::chrono::seconds(10));
  auto take = [ids = id_list(batch), claimant = claimant_, lease = lease.count()](Store& s) {
    return s.claim_notifications(ids, claimant, now_ms(), lease);
  };
  auto taken = co_await store_.run(std::move(take));
  if (!taken) {
    log::error("notification claim failed", {{"department", department},
                                             {notification_key(batch), ids_of(batch)},
                                             {ticket_key(batch), tickets_of(batch)},
                                             {"error", taken.error()}});
    lane.paused_until_ms = now_ms() + kStoreRecheck.count();
    co_return false;
  }
  Batch rows;
  for (const auto& r : batch)
    if (std::find(taken->begin(), taken->end(), r.id) != taken->end()) rows.push_back(r);
  if (rows.empty()) co_return true;  // another instance has them

  notification::Verdict verdict;
  int status = 0;
  if (!lane.client) {
    verdict = notification::judge_failure(lane.error);
  } else {
    HttpRequest req;
    req.method = "POST";
    req.target = lane.target;
    req.body = notification::body(rows, hook.format);
    req.headers = notification::headers(rows, hook.secret, req.target, req.body, now_ms() / 1000);
    auto res = co_await lane.client->request(req);
    if (res) {
      status = res->status;
      verdict = notification::judge(res->status, res->header("retry-after"), res->body);
    } else {
      verdict = notification::judge_failure(res.error());
    }
  }
  const int64_t now = now_ms();
  const std::string ids = ids_of(rows), tickets = tickets_of(rows);
  if (verdict.kind == Kind::kDelivered) {
    log::info("department notified", {{"department", department},
                                      {ticket_key(rows), tickets},
                                      {notification_key(rows), ids},
                                      {"status", status},
                                      {"latency_ms", now - rows.front().created_at_ms}});
    auto done = [ids = id_list(rows), status](Store& s) {
      return s.mark_notifications_delivered(ids, status, now_ms());
    };
    co_await record(done, "delivery", rows);
    co_return true;
  }
  if (verdict.kind == Kind::kRefused) {
    log::error("notification refused; not retried", {{"department", department},
                                                     {notification_key(rows), ids},
                                                     {ticket_key(rows), tickets},
                                                     {"status", status},
                                                     {"error", verdict.error}});
    auto refused = [ids = id_list(rows), status, e = verdict.error](Store& s) {
      return s.mark_notifications_failed(ids, status, e, now_ms());
    };
    co_await record(refused, "refusal", rows);
    co_return true;
  }
  // The longest-failing row sets the pace: a new event does not reset a dead receiver's backoff.
  int attempts = rows.front().attempts;
  for (const auto& r : rows) attempts = std::max(attempts, r.attempts);
  auto delay = jittered(notification::backoff(opts.initial_backoff, opts.max_backoff, attempts));
  delay = std::max(delay, verdict.retry_after);
  const int64_t next = now + delay.count();
  const int64_t give_up_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(opts.give_up_after).count();
  Batch retry, expired;
  for (const auto& r : rows) (r.created_at_ms + give_up_ms <= next ? expired : retry).push_back(r);
  lane.paused_until_ms = next;
  if (!retry.empty()) {
    log::warn("notification delivery failed; retrying", {{"department", department},
                                                         {notification_key(retry), ids_of(retry)},
                                                         {ticket_key(retry), tickets_of(retry)},
                                                         {"attempt", attempts + 1},
                                                         {"error", verdict.error},
                                                         {"retry_ms", delay.count()}});
    auto again = [ids = id_list(retry), next, status, e = verdict.error](Store& s) {
      return s.mark_notifications_retry(ids, next, status, e);
    };
    co_await record(again, "retry", retry);
  }
  if (!expired.empty()) {
    log::error("notification delivery given up",
               {{"department", department},
                {notification_key(expired), ids_of(expired)},
                {ticket_key(expired), tickets_of(expired)},
                {"give_up_after_h",
                 std::chrono::duration_cast<std::chrono::hours>(opts.give_up_after).count()},
                {"error", verdict.error}});
    auto give_up = [ids = id_list(expired), status, e = verdict.error](Store& s) {
      return s.mark_notifications_failed(ids, status, e, now_ms());
    };
    co_await record(give_up, "failure", expired);
  }
  co_return false;
}

}  // namespace sotong
