// XAuth: who an X API v2 request comes from. OAuth 1.0a user context is checked as X checks
// it: the signature is recomputed from the request (connectors/x/oauth1) and compared in
// constant time, the consumer key and token must be the configured ones, the timestamp within
// five minutes of our clock and the nonce unseen for fifteen minutes. The app-only Bearer
// token is compared in constant time as well.
//
// Time from the injected clock; not thread-safe (the server's io_context thread). The answer is
// a value; the reason for a refusal is kept for the log and never contains a secret.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

#include "connectors/x/oauth1.hpp"
#include "sandbox/sandbox_state.hpp"
#include "sandbox/x_state.hpp"

namespace sotong::sandbox {

enum class XCaller { kNobody, kUser, kApp };

struct XAuthResult {
  XCaller caller = XCaller::kNobody;
  std::string refusal;  // why kNobody, for the log
};

class XAuth {
 public:
  // X refuses timestamps more than five minutes off; nonces are remembered for fifteen.
  static constexpr int64_t kMaxClockSkewSeconds = 300;
  static constexpr int64_t kNonceMemoryMs = 900'000;
  // Far above fifteen minutes of any test's traffic; past it the oldest are forgotten.
  static constexpr std::size_t kMaxNonces = 200'000;

  XAuth(const XOptions& options, Clock clock);

  // base_url: "http://HOST/path" as the client addressed us. request_params: the decoded query
  // and, for a form-encoded body, the form parameters.
  XAuthResult check(std::string_view method, std::string_view base_url,
                    const x::Params& request_params, std::string_view authorization);
  void reset();

 private:
  XAuthResult check_oauth(std::string_view method, std::string_view base_url,
                          const x::Params& request_params, std::string_view authorization);
  bool remember_nonce(const std::string& nonce, int64_t now);

  x::OAuth1Credentials credentials_;
  std::string bearer_;
  Clock clock_;
  std::deque<std::pair<int64_t, std::string>> nonce_order_;
  std::unordered_set<std::string> nonces_;
};

}  // namespace sotong::sandbox
