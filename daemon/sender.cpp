#include "daemon/sender.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>
#include <utility>

#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;

namespace {
// How often a sender looks again while the store refuses writes.
constexpr std::chrono::milliseconds kStoreRecheck{1000};
constexpr int64_t kHourMs = 3600 * 1000;  // the posting budget's window
// When nothing is due, look again at least this often (a row may be added by another path).
constexpr std::chrono::milliseconds kIdleRecheck{5000};
}  // namespace

Sender::Sender(asio::any_io_executor ex, StoreThread& store, Connector& connector,
               SenderOptions options, Metrics* metrics)
    : store_(store),
      connector_(connector),
      metrics_(metrics),
      options_(options),
      bell_(ex),
      pause_timer_(ex) {}

std::chrono::milliseconds Sender::backoff(const SenderOptions& o, int attempts) {
  int shift = std::clamp(attempts, 0, 30);
  int64_t ms = o.initial_backoff.count() << std::min(shift, 20);
  return std::chrono::milliseconds(std::min<int64_t>(ms, o.max_backoff.count()));
}

void Sender::wake() {
  bell_.ring();
}

void Sender::stop() {
  stopping_ = true;
  bell_.close();
  pause_timer_.cancel();
}

bool Sender::budget_spent(int64_t now) {
  if (options_.posts_per_hour <= 0) return false;
  while (!sent_at_ms_.empty() && sent_at_ms_.front() <= now - kHourMs) sent_at_ms_.pop_front();
  return std::cmp_greater_equal(sent_at_ms_.size(), options_.posts_per_hour);
}

asio::awaitable<void> Sender::wait_for_budget() {
  for (int64_t now = now_ms(); !stopping_ && budget_spent(now); now = now_ms()) {
    const int64_t free_at = sent_at_ms_.front() + kHourMs;
    log::warn("hourly posting budget spent: waiting", {{"account", connector_.account()},
                                                       {"posted", sent_at_ms_.size()},
                                                       {"budget", options_.posts_per_hour},
                                                       {"wait_s", (free_at - now + 999) / 1000}});
    if (metrics_ != nullptr) metrics_->rate_limit_wait(connector_.account());
    pause_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(free_at - now, 1)));
    boost::system::error_code ec;
    co_await pause_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Sender::run() {
  running_ = true;
  if (options_.posts_per_hour > 0) {
    // Posts before a restart count against the hour too.
    auto read_sent = [account = connector_.account()](Store& s) {
      return s.sent_times(account, now_ms() - kHourMs);
    };
    auto sent = co_await store_.run(std::move(read_sent));
    if (sent) sent_at_ms_.assign(sent->begin(), sent->end());
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const std::string account = connector_.account();
  while (!stopping_) {
    // Nothing is posted that could not be recorded as posted.
    if (!store_.healthy()) {
      co_await bell_.wait(kStoreRecheck);
      continue;
    }
    auto read_due = [account, claimant = options_.claimant](Store& s) {
      return s.due_outbox(account, now_ms(), kBatch, claimant);
    };
    auto due = co_await store_.run(std::move(read_due));
    if (!due) {
      log::error("reading the outbox failed", {{"account", account}, {"error", due.error()}});
      co_await bell_.wait(options_.initial_backoff * 10);
      continue;
    }
    if (due->empty()) {
      auto read_next = [account, claimant = options_.claimant](Store& s) {
        return s.next_due(account, claimant);
      };
      auto next = co_await store_.run(std::move(read_next));
      auto d = kIdleRecheck;
      if (next && *next)
        d = std::min(d, std::chrono::milliseconds(std::max<int64_t>(**next - now_ms(), 1)));
      co_await bell_.wait(d);
      continue;
    }
    std::chrono::milliseconds pause{0};
    for (const auto& row : *due) {
      if (stopping_) break;
      if (budget_spent(now_ms())) {
        // Spent: wait, then read the outbox again so urgent rows queued meanwhile go first.
        co_await wait_for_budget();
        break;
      }
      // Several instances on one PostgreSQL store: take the row first, or leave it be.
      auto take = [id = row.id, claimant = options_.claimant, lease = options_.claim_lease.count()](
                      Store& st) { return st.claim(id, claimant, now_ms(), lease); };
      auto taken = co_await store_.run(std::move(take));
      if (!taken || !*taken) continue;
      Reply reply;
      reply.outbox_id = row.id;
      reply.account = row.account;
      reply.in_reply_to_id = row.in_reply_to_id;
      reply.mention_author_acct = row.author_acct;
      reply.text = row.text;
      reply.visibility = row.visibility;
      reply.language = row.language;
      reply.idempotency_key = row.idempotency_key;
      reply.ticket_number = row.ticket_number;
      reply.attempts = row.attempts;
      reply.queued_at_ms = row.created_at_ms;
      auto out = co_await connector_.post(reply);
      int64_t now = now_ms();
      if (out.kind == PostOutcome::Kind::kPosted) {
        auto record_sent = [id = row.id, pid = out.post_id](Store& st) {
          return st.mark_sent(id, pid, now_ms());
        };
        sent_at_ms_.push_back(now);
        if (metrics_ != nullptr) metrics_->reply_sent(row.kind, row.created_at_ms, now);
        auto s = co_await store_.run(record_sent);
        // Posted but not recorded: keep trying to record it rather than post it again. A stop
        // in between leaves it pending, and the platform's duplicate guards answer the retry.
        while (!s && !stopping_) {
          log::error("reply posted but not recorded yet; retrying the record",
                     {{"ticket", row.ticket_number},
                      {"outbox", row.id},
                      {"post", out.post_id},
                      {"error", s.error()}});
          co_await bell_.wait(kStoreRecheck);
          s = co_await store_.run(record_sent);
        }
        if (!s)
          log::error("reply posted but not recorded", {{"ticket", row.ticket_number},
                                                       {"outbox", row.id},
                                                       {"post", out.post_id},
                                                       {"error", s.error()}});
        else
          log::info("reply posted", {{"ticket", row.ticket_number},
                                     {"kind", row.kind},
                                     {"account", account},
                                     {"post", out.post_id},
                                     {"latency_ms", now - row.created_at_ms}});
        continue;
      }
      if (out.kind == PostOutcome::Kind::kRejected) {
        log::error("reply rejected by the platform, not retried",
                   {{"ticket", row.ticket_number}, {"kind", row.kind}, {"error", out.error}});
        auto record_failed = [id = row.id, e = out.error](Store& st) {
          return st.mark_failed(id, e, now_ms());
        };
        auto s = co_await store_.run(std::move(record_failed));
        if (!s)
          log::error("reply failure not recorded",
                     {{"ticket", row.ticket_number}, {"outbox", row.id}, {"error", s.error()}});
        continue;
      }
      auto wait_for = std::chrono::milliseconds(static_cast<int64_t>(
          static_cast<double>(backoff(options_, row.attempts).count()) * jitter(rng)));
      wait_for = std::max(wait_for, out.retry_after);
      if (metrics_ != nullptr && out.retry_after.count() > 0)
        metrics_->rate_limit_wait(connector_.account());
      log::warn("reply attempt failed; retrying", {{"ticket", row.ticket_number},
                                                   {"kind", row.kind},
                                                   {"attempt", row.attempts + 1},
                                                   {"error", out.error},
                                                   {"retry_ms", wait_for.count()}});
      auto record_retry = [id = row.id, at = now + wait_for.count(), e = out.error](Store& st) {
        return st.mark_retry(id, at, e);
      };
      auto s = co_await store_.run(std::move(record_retry));
      if (!s)
        log::error("reply retry not recorded",
                   {{"ticket", row.ticket_number}, {"outbox", row.id}, {"error", s.error()}});
      // The platform is unwell or limiting us: pause the whole account, not just this row.
      pause = std::max(out.retry_after, std::min(wait_for, options_.initial_backoff * 4));
      break;
    }
    if (pause.count() > 0 && !stopping_) {
      pause_timer_.expires_after(pause);
      boost::system::error_code ec;
      co_await pause_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  // Rows taken but not posted are free for the next leader at once.
  auto release = [account, claimant = options_.claimant](Store& st) {
    return st.release_claims(account, claimant);
  };
  auto released = co_await store_.run(std::move(release));
  if (!released)
    log::warn("outbox claims not given back; they lapse by themselves",
              {{"account", account}, {"error", released.error()}});
  running_ = false;
}

}  // namespace sotong
