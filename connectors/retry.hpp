// Small helpers every connector needs: ordering platform ids and spreading retries. Pure
// functions; thread-safe (the random engine is per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace sotong {

// Platform ids are decimal strings of growing numbers (Mastodon, X): a longer one is newer.
inline bool id_less(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// `d` scaled by a random factor in [0.5, 1.5): reconnects and retries from many clients
// should not arrive in step.
inline std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.5, 1.5);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(d.count()) * dist(rng)));
}

}  // namespace sotong
