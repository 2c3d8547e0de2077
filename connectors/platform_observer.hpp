// PlatformObserver: what a connector or sender tells monitoring about a platform: failed
// requests by kind and the waits a rate limit imposed. Counts only: no text, no tokens.
// The daemon's Metrics implements it; connectors hold a pointer that may be null (tests).
// Thread rules: called on the network loop; implementations must be thread-safe anyway.
#pragma once

#include <string>
#include <string_view>

#include "connectors/http_client.hpp"

namespace sotong {

enum class PlatformErrorKind {
  kNetwork,      // resolve, connect, TLS, a dropped connection
  kTimeout,      // no answer within the request timeout
  kRateLimited,  // HTTP 429
  kClientError,  // another 4xx (a revoked token, a deleted thread)
  kServerError,  // 5xx
};

constexpr std::string_view to_string(PlatformErrorKind k) {
  switch (k) {
    case PlatformErrorKind::kNetwork:
      return "network";
    case PlatformErrorKind::kTimeout:
      return "timeout";
    case PlatformErrorKind::kRateLimited:
      return "rate_limited";
    case PlatformErrorKind::kClientError:
      return "http_4xx";
    case PlatformErrorKind::kServerError:
      return "http_5xx";
  }
  return "network";
}

class PlatformObserver {
 public:
  virtual ~PlatformObserver() = default;
  virtual void platform_error(const std::string& account, PlatformErrorKind kind) = 0;
  // A 429 or our own posting budget made a read or a post wait.
  virtual void rate_limit_wait(const std::string& account) = 0;
};

// The kind of a failed request, or false for an answer that is no error (1xx to 3xx).
// HttpClient reports a timeout as an error whose message says "timed out".
inline bool classify(const Result<HttpResponse>& r, PlatformErrorKind* kind) {
  if (!r) {
    *kind = r.error().find("timed out") != std::string::npos ? PlatformErrorKind::kTimeout
                                                             : PlatformErrorKind::kNetwork;
    return true;
  }
  if (r->status == 429) {
    *kind = PlatformErrorKind::kRateLimited;
  } else if (r->status >= 500) {
    *kind = PlatformErrorKind::kServerError;
  } else if (r->status >= 400) {
    *kind = PlatformErrorKind::kClientError;
  } else {
    return false;
  }
  return true;
}

}  // namespace sotong
