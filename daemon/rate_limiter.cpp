#include "daemon/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace sotong {

RateLimiter::RateLimiter(int per_minute, std::size_t max_clients)
    : per_minute_(std::max(0, per_minute)), max_clients_(std::max<std::size_t>(1, max_clients)) {}

void RateLimiter::set_rate(int per_minute) {
  if (std::max(0, per_minute) == per_minute_) return;  // the common case: called per request
  per_minute_ = std::max(0, per_minute);
  for (auto& [client, b] : buckets_) b.tokens = std::min(b.tokens, double(per_minute_));
}

void RateLimiter::refill(Bucket& b, int64_t now_ms) const {
  const int64_t elapsed = std::max<int64_t>(0, now_ms - b.last_ms);
  b.tokens = std::min(double(per_minute_), b.tokens + double(elapsed) * per_minute_ / 60000.0);
  b.last_ms = now_ms;
}

void RateLimiter::evict(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    it = it->second.tokens >= per_minute_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_clients_) return;
  auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
    return a.second.last_ms < b.second.last_ms;
  });
  buckets_.erase(oldest);
}

RateLimiter::Admission RateLimiter::admit(const std::string& client, int64_t now_ms) {
  if (per_minute_ == 0) return {};
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) evict(now_ms);
    it = buckets_.emplace(client, Bucket{double(per_minute_), now_ms, false}).first;
  }
  Bucket& b = it->second;
  refill(b, now_ms);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    b.refused = false;
    return {};
  }
  Admission a;
  a.retry_after_s =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b.tokens) * 60.0 / per_minute_)));
  a.first_refusal = !b.refused;
  b.refused = true;
  return a;
}

}  // namespace sotong
