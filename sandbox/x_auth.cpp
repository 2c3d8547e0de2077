#include "sandbox/x_auth.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace sotong::sandbox {
namespace {

// Ten digits cover Unix seconds until the year 2286.
constexpr std::size_t kMaxTimestampDigits = 12;
constexpr std::size_t kMaxNonceBytes = 256;

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool starts_with_word(std::string_view s, std::string_view word) {
  if (s.size() <= word.size() || (s[word.size()] != ' ' && s[word.size()] != '\t')) return false;
  return std::equal(word.begin(), word.end(), s.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

const std::string* find(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

XAuth::XAuth(const XOptions& options, Clock clock)
    : credentials_{options.consumer_key, options.consumer_secret, options.token,
                   options.token_secret},
      bearer_(options.bearer),
      clock_(std::move(clock)) {}

XAuthResult XAuth::check(std::string_view method, std::string_view base_url,
                         const x::Params& request_params, std::string_view authorization) {
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  if (authorization.empty()) return {XCaller::kNobody, "no Authorization header"};
  if (starts_with_word(authorization, "Bearer")) {
    std::string_view token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (same_secret(token, bearer_)) return {XCaller::kApp, {}};
    return {XCaller::kNobody, "unknown Bearer token"};
  }
  if (starts_with_word(authorization, "OAuth")) {
    return check_oauth(method, base_url, request_params, authorization);
  }
  return {XCaller::kNobody, "Authorization is neither OAuth nor Bearer"};
}

XAuthResult XAuth::check_oauth(std::string_view method, std::string_view base_url,
                               const x::Params& request_params, std::string_view authorization) {
  auto header = x::parse_authorization_header(authorization);
  if (!header) return {XCaller::kNobody, header.error()};
  const std::string* consumer_key = find(*header, "oauth_consumer_key");
  const std::string* token = find(*header, "oauth_token");
  const std::string* signature = find(*header, "oauth_signature");
  const std::string* method_name = find(*header, "oauth_signature_method");
  const std::string* timestamp = find(*header, "oauth_timestamp");
  const std::string* nonce = find(*header, "oauth_nonce");
  const std::string* version = find(*header, "oauth_version");
  if (!consumer_key || !token || !signature || !method_name || !timestamp || !nonce) {
    return {XCaller::kNobody, "OAuth header lacks a required oauth_* parameter"};
  }
  if (*method_name != "HMAC-SHA1")
    return {XCaller::kNobody, "oauth_signature_method not HMAC-SHA1"};
  if (version && *version != "1.0") return {XCaller::kNobody, "oauth_version not 1.0"};
  if (!same_secret(*consumer_key, credentials_.consumer_key)) {
    return {XCaller::kNobody, "unknown consumer key"};
  }
  if (!same_secret(*token, credentials_.token)) return {XCaller::kNobody, "unknown access token"};
  if (timestamp->empty() || timestamp->size() > kMaxTimestampDigits ||
      !std::all_of(timestamp->begin(), timestamp->end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return {XCaller::kNobody, "oauth_timestamp is not a number"};
  }
  int64_t now = clock_();
  int64_t skew = std::stoll(*timestamp) - now / 1000;
  if (skew > kMaxClockSkewSeconds || skew < -kMaxClockSkewSeconds) {
    return {XCaller::kNobody, "oauth_timestamp " + std::to_string(skew) + " s off our clock"};
  }
  if (nonce->empty() || nonce->size() > kMaxNonceBytes) {
    return {XCaller::kNobody, "oauth_nonce empty or too long"};
  }

  x::Params signed_params = request_params;
  for (const auto& [name, value] : *header) {
    if (name != "realm" && name != "oauth_signature") signed_params.emplace_back(name, value);
  }
  std::string expected =
      x::sign_base_string(x::signature_base_string(method, base_url, signed_params),
                          credentials_.consumer_secret, credentials_.token_secret);
  if (!same_secret(*signature, expected)) return {XCaller::kNobody, "signature mismatch"};
  if (!remember_nonce(*nonce, now)) return {XCaller::kNobody, "oauth_nonce used before"};
  return {XCaller::kUser, {}};
}

bool XAuth::remember_nonce(const std::string& nonce, int64_t now) {
  while (!nonce_order_.empty() && (now - nonce_order_.front().first >= kNonceMemoryMs ||
                                   nonce_order_.size() >= kMaxNonces)) {
    nonces_.erase(nonce_order_.front().second);
    nonce_order_.pop_front();
  }
  if (!nonces_.insert(nonce).second) return false;
  nonce_order_.emplace_back(now, nonce);
  return true;
}

void XAuth::reset() {
  nonce_order_.clear();
  nonces_.clear();
}

}  // namespace sotong::sandbox
