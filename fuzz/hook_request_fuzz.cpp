// libFuzzer target: bytes as a department's request to the hook. Beast's request parser with
// the hook's limits, then the pure functions a parsed request reaches (route, bearer token,
// signature, JSON bodies, list query, Idempotency-Key). The raw bytes also go to the body
// parsers directly, since most inputs are not a valid request. Build and run: fuzz/run.sh.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/hook_auth.hpp"
#include "daemon/hook_parse.hpp"

namespace {

namespace http = boost::beast::http;
using namespace sotong;

// A fixed "now" inside the signing window of the seed corpus's signed request.
constexpr int64_t kNowSeconds = 1767225600;

const Config& config() {
  static const Config c = [] {
    Config out;
    out.departments["roads"].id = "roads";
    out.departments["roads"].auth.token_sha256 = {sha256_hex("tok-roads")};
    out.departments["roads"].auth.hmac_secret = std::string(32, 'r');
    out.admins["kim"].id = "kim";
    out.admins["kim"].auth.hmac_secret = std::string(32, 'k');
    return out;
  }();
  return c;
}

void bodies(std::string_view body) {
  (void)hook::parse_close_body(body);
  (void)hook::parse_reopen_body(body);
  (void)hook::parse_reassign_body(body);
  (void)hook::parse_comment_body(body);
}

void request(const http::request<http::string_body>& req) {
  const auto route = hook::match_route(req.method_string(), req.target());
  if (auto token = hook::bearer_token(req[http::field::authorization]))
    (void)hook::principal_for_token(config(), *token);
  auto check = hook::check_signature(config(), req["X-Sotong-Client"], req["X-Sotong-Timestamp"],
                                     req["X-Sotong-Signature"], req.method_string(), req.target(),
                                     req.body(), kNowSeconds);
  (void)check;
  (void)hook::valid_idempotency_key(req["Idempotency-Key"]);
  (void)hook::parse_list_query(route.query, "roads");
  (void)hook::parse_list_query(route.query, "");
  bodies(req.body());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  bodies(in);

  http::request_parser<http::string_body> parser;
  parser.body_limit(config().hook_max_body_bytes);
  parser.header_limit(hook::kMaxHeaderBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    used += n;
    if (ec == http::error::need_more) break;  // the bytes end mid-request
    if (ec) return 0;
    if (n == 0) break;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  request(parser.get());
  return 0;
}
