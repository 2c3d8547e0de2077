// OAuth 1.0a (RFC 5849) request signing with HMAC-SHA1, as X's API v2 user context needs:
// RFC 3986 percent-encoding, parameters (oauth_*, query and form) sorted by encoded name then
// value, the signature base string, and the Authorization header. Also parsing and checking of
// such a header (the sandbox verifies signatures with it). Pure functions; thread-safe.
// Secrets are never put into error messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong::x {

struct OAuth1Credentials {
  std::string consumer_key;
  std::string consumer_secret;
  std::string token;
  std::string token_secret;
};

using Params = std::vector<std::pair<std::string, std::string>>;  // decoded name/value pairs

// RFC 3986: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" as %XX (upper-case hex).
std::string percent_encode(std::string_view s);

// METHOD&encode(base_url)&encode(sorted, encoded params). base_url: scheme://host[:port]/path,
// lower-case scheme and host, default port omitted, no query.
std::string signature_base_string(std::string_view method, std::string_view base_url,
                                  const Params& params);

// The oauth_* parameters for a request (without oauth_signature).
Params oauth_params(const OAuth1Credentials& c, std::string_view nonce, int64_t timestamp);

// base64(HMAC-SHA1(encode(consumer_secret)&encode(token_secret), base string)).
std::string sign(const OAuth1Credentials& c, std::string_view method, std::string_view base_url,
                 const Params& request_params, std::string_view nonce, int64_t timestamp);

// base64(HMAC-SHA1(encode(consumer_secret)&encode(token_secret), base_string)): the last step of
// sign(), for a verifier that rebuilt the base string from the oauth_* parameters it received.
std::string sign_base_string(std::string_view base_string, std::string_view consumer_secret,
                             std::string_view token_secret);

// `OAuth oauth_consumer_key="...", ...` for the Authorization header. request_params are the
// query and form parameters of the request (decoded); a JSON body is not signed.
std::string authorization_header(const OAuth1Credentials& c, std::string_view method,
                                 std::string_view base_url, const Params& request_params,
                                 std::string_view nonce, int64_t timestamp);

// A random nonce (32 alphanumeric characters) from OpenSSL's RNG.
std::string make_nonce();

// Parses an `OAuth k="v", ...` header into its decoded parameters.
Result<std::map<std::string, std::string>> parse_authorization_header(std::string_view header);

}  // namespace sotong::x
