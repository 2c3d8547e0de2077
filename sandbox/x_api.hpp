// XApi: the X API v2 subset of sotong-sandbox as pure request -> response logic, in the JSON
// shapes of X's OpenAPI documents (2.164, and 2.167's post.fields / referenced_posts names):
// GET /2/users/me, GET /2/users/:id/mentions, POST /2/tweets, their rate-limit headers and
// problem answers (rendered by x_shapes), plus the /_sandbox/x/ control routes
// (sandbox/README.md, "X API v2").
//
// Owns its XState and XAuth. No sockets and no Beast: the server hands in the few parts of an
// HTTP request that matter and writes out the answer, so tests drive it directly. Not
// thread-safe (the server's io_context thread). Every failure is an HTTP answer.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/sandbox_state.hpp"
#include "sandbox/x_auth.hpp"
#include "sandbox/x_state.hpp"

namespace sotong::sandbox {

struct XRequest {
  std::string_view method;  // "GET", "POST", ...
  std::string_view target;  // path and query, as received
  std::string_view host;    // the Host header: signatures cover http://HOST/path
  std::string_view authorization;
  std::string_view content_type;
  std::string_view body;
};

struct XResponse {
  unsigned status = 200;
  std::string body;  // JSON, sent as application/json; charset=utf-8
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of a header (names compared case-insensitively), empty when absent.
  std::string header(std::string_view name) const;
};

class XApi {
 public:
  XApi(XOptions options, Clock clock);

  // A request whose path starts with /2/.
  XResponse handle(const XRequest& req);
  // The answer to a request an injected fault stops before any processing (429, 500, 503,
  // malformed); nothing is recorded.
  XResponse fault_response(FaultKind kind, const XRequest& req);
  // POST /_sandbox/x/mentions, GET /_sandbox/x/posts, POST /_sandbox/x/ratelimit.
  XResponse handle_control(const XRequest& req, std::string_view path);
  // The x_* counters that GET /_sandbox/stats adds.
  boost::json::object stats_json() const;
  // Forgets posts, counters, rate usage and nonces (POST /_sandbox/reset).
  void reset();

  XState& state() { return state_; }

 private:
  XResponse users_me(const XRequest& req, const x::Params& query);
  XResponse mentions(const XRequest& req, std::string_view user_id, const x::Params& query);
  XResponse create_post(const XRequest& req);
  XResponse post_mention(const XRequest& req);
  XResponse post_ratelimit(const XRequest& req);
  boost::json::array posts_json() const;

  XState state_;
  XAuth auth_;
  Clock clock_;
};

}  // namespace sotong::sandbox
