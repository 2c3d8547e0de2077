// RateLimiter: a token bucket per client address for the hook. A client may send a minute's
// allowance at once, then as fast as the bucket refills. Memory is bounded: past
// kMaxTrackedClients, full buckets (forgetting them loses nothing) and then the least recently
// seen are evicted. Not thread-safe: the hook uses it from the network loop only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace sotong {

class RateLimiter {
 public:
  // Far more departments' systems than a city has, yet a few MiB at most.
  static constexpr std::size_t kMaxTrackedClients = 10000;

  struct Admission {
    int64_t retry_after_s = 0;   // 0: go ahead; otherwise whole seconds until a token is back
    bool first_refusal = false;  // the first refusal since the client's last admitted request
  };

  // `per_minute` requests per client; 0 admits everything.
  explicit RateLimiter(int per_minute, std::size_t max_clients = kMaxTrackedClients);

  Admission admit(const std::string& client, int64_t now_ms);
  // A reloaded configuration; buckets keep what they hold, capped at the new size.
  void set_rate(int per_minute);
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
    bool refused = false;
  };
  void refill(Bucket& b, int64_t now_ms) const;
  void evict(int64_t now_ms);

  int per_minute_;
  std::size_t max_clients_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sotong
