// One piece past 400 lines because the three endpoints, the authentication and rate-limit
// wrapping around them and the control routes all work on the one XState; the JSON shapes and
// parameter rules they share are in x_shapes. Sections: helpers, routing and authentication,
// the three endpoints, faults, control routes.
#include "sandbox/x_api.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <iterator>
#include <set>

#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"
#include "sandbox/x_shapes.hpp"

namespace sotong::sandbox {
namespace {

namespace json = boost::json;

constexpr std::size_t kDefaultMaxResults = 10;
constexpr std::size_t kMinMaxResults = 5;
constexpr std::size_t kMaxMaxResults = 100;
// An injected 429 says the budget is back a second later, so a test need not wait 15 minutes.
constexpr int64_t kInjected429ResetMs = 1'000;
constexpr int64_t kMaxWindowSeconds = 366LL * 86'400;

constexpr std::string_view kMentionsParams =
    "end_time,expansions,max_results,media.fields,pagination_token,place.fields,"
    "poll.fields,post.fields,since_id,start_time,tweet.fields,until_id,user.fields";
constexpr std::string_view kUsersMeParams = "expansions,post.fields,tweet.fields,user.fields";
constexpr std::string_view kCreateFields =
    "card_uri,community_id,direct_message_deep_link,edit_options,for_super_followers_only,"
    "geo,made_with_ai,media,nullcast,paid_partnership,poll,quote_tweet_id,reply,"
    "reply_settings,share_with_followers,text";
constexpr std::string_view kReplyFields =
    "auto_populate_reply_metadata,exclude_reply_user_ids,in_reply_to_tweet_id";

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// X's ids: ^[0-9]{1,19}$.
std::optional<uint64_t> x_id(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  return parse_id(s);
}

XResponse control_error(unsigned status, std::string_view message) {
  return json_answer(status, json::object{{"error", message}});
}

void add_rate_headers(XResponse& r, const RateDecision& d, const std::string& prefix) {
  if (d.unlimited) return;
  r.headers.emplace_back(prefix + "limit", std::to_string(d.limit));
  r.headers.emplace_back(prefix + "remaining", std::to_string(d.remaining));
  // Unix seconds, rounded up so a client that waits until then is never early.
  r.headers.emplace_back(prefix + "reset", std::to_string((d.reset_ms + 999) / 1000));
}

const std::string* param(const x::Params& query, std::string_view name) {
  for (const auto& [key, value] : query) {
    if (key == name) return &value;
  }
  return nullptr;
}

// A string member; with numbers_ok a non-negative integer becomes its decimal text (ids come
// both ways from hand-written JSON). The error names the field.
Result<std::optional<std::string>> member(const json::object& o, std::string_view key,
                                          bool numbers_ok = false) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>{};
  const json::value& v = it->value();
  if (v.is_string()) return std::optional<std::string>(std::string(v.as_string()));
  if (numbers_ok && v.is_uint64()) return std::optional<std::string>(std::to_string(v.as_uint64()));
  if (numbers_ok && v.is_int64() && v.as_int64() >= 0) {
    return std::optional<std::string>(std::to_string(v.as_int64()));
  }
  return Error{std::string(key) + ": must be a string"};
}

enum class Route { kNone, kUsersMe, kMentions, kPost };

struct Routed {
  Route route = Route::kNone;
  XEndpoint endpoint = XEndpoint::kUsersMe;
  std::string_view method;   // the one the route answers
  std::string_view user_id;  // kMentions: the :id segment
};

Routed route_of(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  constexpr std::string_view kUsers = "/2/users/";
  constexpr std::string_view kMentions = "/mentions";
  if (path == "/2/users/me") return {Route::kUsersMe, XEndpoint::kUsersMe, "GET", {}};
  if (path == "/2/tweets") return {Route::kPost, XEndpoint::kPost, "POST", {}};
  if (path.starts_with(kUsers) && path.ends_with(kMentions) &&
      path.size() > kUsers.size() + kMentions.size()) {
    std::string_view id =
        path.substr(kUsers.size(), path.size() - kUsers.size() - kMentions.size());
    if (id.find('/') == std::string_view::npos) {
      return {Route::kMentions, XEndpoint::kMentions, "GET", id};
    }
  }
  return {};
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace

std::string XResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && starts_with_nocase(key, name)) return value;
  }
  return {};
}

XApi::XApi(XOptions options, Clock clock)
    : state_(options, clock), auth_(options, clock), clock_(std::move(clock)) {}

// ---- Routing and authentication ----

XResponse XApi::handle(const XRequest& req) {
  ++state_.stats().requests;
  auto [path, raw_query] = split_target(req.target);
  Routed r = route_of(path);
  if (r.route == Route::kNone) {
    // What X answers for a path it does not know.
    return json_answer(
        404, json::object{
                 {"errors", json::array{json::object{{"message", "Sorry, that page does not exist"},
                                                     {"code", 34}}}}});
  }
  // Every answer of a known endpoint carries its budget; only authorised calls spend it.
  RateDecision rate = state_.peek_rate(r.endpoint);
  auto finish = [&](XResponse res) {
    add_rate_headers(res, rate, "x-rate-limit-");
    if (r.route == Route::kPost) {
      add_rate_headers(res, state_.peek_rate(XEndpoint::kPostDay), "x-user-limit-24hour-");
    }
    return res;
  };
  if (req.method != r.method) {
    return finish(problem(405, "Method Not Allowed", "Method Not Allowed"));
  }
  // OAuth 1.0a signs the query and a form body, never a JSON body.
  auto query = decode_form(raw_query);
  bool is_form = starts_with_nocase(req.content_type, "application/x-www-form-urlencoded");
  std::optional<x::Params> form = is_form ? decode_form(req.body) : x::Params{};
  if (!query || !form) {
    return finish(invalid_request({}, {}, "The query string or form body is malformed"));
  }
  x::Params signed_params = *query;
  signed_params.insert(signed_params.end(), form->begin(), form->end());
  std::string base_url = "http://" + std::string(req.host) + std::string(path);
  XAuthResult who = auth_.check(req.method, base_url, signed_params, req.authorization);
  if (who.caller == XCaller::kNobody) {
    ++state_.stats().unauthorized;
    log::info("x request unauthorized",
              {{"method", req.method}, {"path", path}, {"status", 401}, {"reason", who.refusal}});
    return finish(problem(401, "Unauthorized", "Unauthorized"));
  }
  if (who.caller == XCaller::kApp && r.route != Route::kMentions) {
    return finish(problem(
        403, "Unsupported Authentication",
        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
        "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        "https://api.twitter.com/2/problems/unsupported-authentication"));
  }
  bool day_left = r.route != Route::kPost || state_.peek_rate(XEndpoint::kPostDay).allowed;
  if (day_left) rate = state_.take_rate(r.endpoint);
  if (!rate.allowed || !day_left) {
    ++state_.stats().rate_limited;
    return finish(problem(429, "Too Many Requests", "Too Many Requests"));
  }
  switch (r.route) {
    case Route::kUsersMe:
      return finish(users_me(req, *query));
    case Route::kMentions:
      return finish(mentions(req, r.user_id, *query));
    case Route::kPost:
      return finish(create_post(req));
    case Route::kNone:
      break;
  }
  return finish(problem(500, "Internal Server Error", "Internal Server Error"));
}

// ---- Endpoints ----

XResponse XApi::users_me(const XRequest&, const x::Params& query) {
  XFields fields;
  if (auto bad = check_query(query, kUsersMeParams, &fields)) return *bad;
  return json_answer(200,
                     json::object{{"data", user_json(*state_.user(state_.self_id()), fields)}});
}

XResponse XApi::mentions(const XRequest&, std::string_view user_id, const x::Params& query) {
  auto id = x_id(user_id);
  if (!id) {
    return invalid_request("id", user_id,
                           "The `id` query parameter value [" + std::string(user_id) +
                               "] does not match ^[0-9]{1,19}$");
  }
  XFields fields;
  if (auto bad = check_query(query, kMentionsParams, &fields)) return *bad;
  MentionsQuery q;
  q.max_results = kDefaultMaxResults;
  if (const std::string* v = param(query, "max_results")) {
    auto n = x_id(*v);
    if (!n || *n < kMinMaxResults || *n > kMaxMaxResults) {
      return invalid_request(
          "max_results", *v,
          "The `max_results` query parameter value [" + *v + "] is not between 5 and 100");
    }
    q.max_results = static_cast<std::size_t>(*n);
  }
  for (auto [name, field] :
       {std::pair{"since_id", &q.since_id}, std::pair{"until_id", &q.until_id}}) {
    if (const std::string* v = param(query, name)) {
      *field = x_id(*v);
      if (!*field) {
        return invalid_request(name, *v,
                               "The `" + std::string(name) + "` query parameter value [" + *v +
                                   "] does not match ^[0-9]{1,19}$");
      }
    }
  }
  if (const std::string* v = param(query, "pagination_token")) {
    q.before_id = decode_pagination_token(*v);
    if (!q.before_id) {
      return invalid_request(
          "pagination_token", *v,
          "The `pagination_token` query parameter value [" + *v + "] is not valid");
    }
  }
  for (auto [name, field] :
       {std::pair{"start_time", &q.start_ms}, std::pair{"end_time", &q.end_ms}}) {
    if (const std::string* v = param(query, name)) {
      int64_t ms = parse_iso8601(*v);
      if (ms < 0) {
        return invalid_request(name, *v,
                               "The `" + std::string(name) + "` query parameter value [" + *v +
                                   "] is not a valid time (YYYY-MM-DDTHH:mm:ssZ)");
      }
      *field = ms;
    }
  }
  if (state_.user(*id) == nullptr) {
    std::string s = std::to_string(*id);
    return json_answer(
        200, json::object{{"errors", json::array{json::object{
                                         {"value", s},
                                         {"detail", "Could not find user with id: [" + s + "]."},
                                         {"title", "Not Found Error"},
                                         {"resource_type", "user"},
                                         {"parameter", "id"},
                                         {"resource_id", s},
                                         {"type",
                                          "https://api.twitter.com/2/problems/"
                                          "resource-not-found"}}}}});
  }
  MentionsPage page = state_.mentions(*id, q);
  if (page.ids.empty()) return json_answer(200, json::object{{"meta", {{"result_count", 0}}}});

  json::array data;
  json::array users;
  std::set<uint64_t> included;
  auto include = [&](uint64_t user_id_to_add) {
    if (included.insert(user_id_to_add).second) {
      users.push_back(user_json(*state_.user(user_id_to_add), fields));
    }
  };
  for (uint64_t post_id : page.ids) {
    const XPost& p = *state_.post(post_id);
    data.push_back(post_json(p, fields));
    if (fields.expands("author_id")) include(p.author_id);
    if (fields.expands("in_reply_to_user_id") && p.in_reply_to_user_id) {
      include(*p.in_reply_to_user_id);
    }
  }
  json::object meta{{"newest_id", std::to_string(page.ids.front())},
                    {"oldest_id", std::to_string(page.ids.back())},
                    {"result_count", page.ids.size()}};
  if (page.more) meta["next_token"] = encode_pagination_token(page.ids.back());
  json::object body{{"data", std::move(data)}};
  if (!users.empty()) body["includes"] = json::object{{"users", std::move(users)}};
  body["meta"] = std::move(meta);
  return json_answer(200, body);
}

XResponse XApi::create_post(const XRequest& req) {
  if (!starts_with_nocase(req.content_type, "application/json")) {
    return invalid_request({}, {},
                           "Requests with bodies must have content-type of application/json.");
  }
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) return invalid_request({}, {}, "Request body is not a JSON object.");
  const json::object& o = body.as_object();
  for (const auto& kv : o) {
    if (!list_contains(kCreateFields, kv.key())) {
      return invalid_request({}, {},
                             "$." + std::string(kv.key()) +
                                 ": is not defined in the schema and the schema does not "
                                 "allow additional properties");
    }
  }
  auto text = member(o, "text");
  if (!text) return invalid_request({}, {}, "$." + text.error());
  std::optional<uint64_t> reply_to;
  if (auto it = o.find("reply"); it != o.end()) {
    const json::object* reply = it->value().if_object();
    if (reply == nullptr) return invalid_request({}, {}, "$.reply: must be an object");
    for (const auto& kv : *reply) {
      if (!list_contains(kReplyFields, kv.key())) {
        return invalid_request({}, {},
                               "$.reply." + std::string(kv.key()) +
                                   ": is not defined in the schema and the schema does "
                                   "not allow additional properties");
      }
    }
    auto target = member(*reply, "in_reply_to_tweet_id");
    if (!target) return invalid_request({}, {}, "$.reply." + target.error());
    if (!*target) {
      return invalid_request({}, {}, "$.reply.in_reply_to_tweet_id: is missing but it is required");
    }
    reply_to = x_id(**target);
    if (!reply_to) {
      return invalid_request("reply.in_reply_to_tweet_id", **target,
                             "$.reply.in_reply_to_tweet_id: does not match ^[0-9]{1,19}$");
    }
  }
  std::string content = text->value_or("");
  XPostOutcome out = state_.create_post(content, reply_to);
  switch (out.kind) {
    case XPostOutcome::Kind::kCreated: {
      state_.take_rate(XEndpoint::kPostDay);
      std::string id = std::to_string(out.id);
      return json_answer(201,
                         json::object{{"data",
                                       {{"edit_history_tweet_ids", json::array{json::string(id)}},
                                        {"id", id},
                                        {"text", content}}}});
    }
    case XPostOutcome::Kind::kDuplicate:
      return json_answer(
          403,
          json::object{{"detail", "You are not allowed to create a Tweet with duplicate content."},
                       {"type", "about:blank"},
                       {"title", "Forbidden"},
                       {"status", 403}});
    case XPostOutcome::Kind::kTooLong:
      return invalid_request(
          "text", content,
          "Your post is longer than " + std::to_string(XState::kMaxWeightedLength) +
              " weighted characters (" + std::to_string(x_weighted_length(content)) + ")");
    case XPostOutcome::Kind::kEmpty:
      return invalid_request("text", content, "Post text must not be empty");
    case XPostOutcome::Kind::kUnknownReply: {
      std::string id = std::to_string(*reply_to);
      return invalid_request(
          "reply.in_reply_to_tweet_id", id,
          "The post you are replying to [" + id + "] does not exist or is not visible to you");
    }
    case XPostOutcome::Kind::kFull:
      break;
  }
  return problem(503, "Service Unavailable", "The sandbox holds its maximum of posts; reset it");
}

// ---- Faults ----

XResponse XApi::fault_response(FaultKind kind, const XRequest& req) {
  ++state_.stats().requests;
  Routed r = route_of(split_target(req.target).first);
  RateDecision rate = r.route == Route::kNone ? RateDecision{} : state_.peek_rate(r.endpoint);
  if (r.route == Route::kNone) rate.unlimited = true;
  XResponse res;
  switch (kind) {
    case FaultKind::kTooManyRequests: {
      res = problem(429, "Too Many Requests", "Too Many Requests");
      RateDecision injected;
      injected.limit = rate.unlimited ? state_.options().mentions_limit : rate.limit;
      injected.reset_ms = clock_() + kInjected429ResetMs;
      add_rate_headers(res, injected, "x-rate-limit-");
      return res;
    }
    case FaultKind::kUnavailable:
      res = problem(503, "Service Unavailable", "Service Unavailable");
      break;
    case FaultKind::kMalformed:
      res.status = 200;
      res.body = R"({"data":[{"id":"1","text":"trunc)";
      break;
    case FaultKind::kInternalError:
    case FaultKind::kHang:
    case FaultKind::kReset:
    case FaultKind::kLostAnswer:
    case FaultKind::kDelay:
      res = problem(500, "Internal Server Error", "Internal Server Error");
      break;
  }
  add_rate_headers(res, rate, "x-rate-limit-");
  return res;
}

// ---- Control routes ----

XResponse XApi::handle_control(const XRequest& req, std::string_view path) {
  auto only = [&](std::string_view method, auto&& answer) {
    return req.method == method ? answer() : control_error(405, "Method not allowed");
  };
  if (path == "/_sandbox/x/mentions") return only("POST", [&] { return post_mention(req); });
  if (path == "/_sandbox/x/posts") {
    return only("GET", [&] { return json_answer(200, posts_json()); });
  }
  if (path == "/_sandbox/x/ratelimit") return only("POST", [&] { return post_ratelimit(req); });
  return control_error(404, "Record not found");
}

XResponse XApi::post_mention(const XRequest& req) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) return control_error(400, "body: expected a JSON object");
  const json::object& o = body.as_object();
  auto author = member(o, "author");
  auto text = member(o, "text");
  auto lang = member(o, "lang");
  auto reply = member(o, "in_reply_to_id", true);
  for (const auto* field : {&author, &text, &lang, &reply}) {
    if (!*field) return control_error(400, field->error());
  }
  if (!*author) return control_error(400, "author: required");
  if (!*text) return control_error(400, "text: required");
  XMentionInput in{**author, **text, *lang, *reply};
  auto id = state_.add_mention(in);
  if (!id) return control_error(400, id.error());
  const XPost& p = *state_.post(*id);
  return json_answer(200, json::object{{"id", std::to_string(p.id)},
                                       {"author_id", std::to_string(p.author_id)},
                                       {"conversation_id", std::to_string(p.conversation_id)},
                                       {"text", p.text}});
}

XResponse XApi::post_ratelimit(const XRequest& req) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) return control_error(400, "body: expected a JSON object");
  const json::object& o = body.as_object();
  const XOptions& now = state_.options();
  int64_t values[] = {now.mentions_limit, now.post_limit, now.post_day_limit, now.window_ms / 1000};
  const char* names[] = {"mentions_limit", "post_limit", "post_day_limit", "window_seconds"};
  for (std::size_t i = 0; i < std::size(names); ++i) {
    auto it = o.find(names[i]);
    if (it == o.end()) continue;
    bool window = i == 3;
    if (!it->value().is_int64() || it->value().as_int64() < (window ? 1 : 0) ||
        (window && it->value().as_int64() > kMaxWindowSeconds)) {
      return control_error(400, std::string(names[i]) + (window ? ": between 1 and 31622400"
                                                                : ": a non-negative integer"));
    }
    values[i] = it->value().as_int64();
  }
  state_.set_limits(values[0], values[1], values[2], values[3] * 1000);
  return json_answer(200, json::object{{"mentions_limit", values[0]},
                                       {"post_limit", values[1]},
                                       {"post_day_limit", values[2]},
                                       {"window_seconds", values[3]}});
}

json::array XApi::posts_json() const {
  json::array out;
  for (uint64_t id : state_.api_posts()) {
    const XPost& p = *state_.post(id);
    json::value reply =
        p.in_reply_to_id ? json::value(std::to_string(*p.in_reply_to_id)) : json::value(nullptr);
    out.push_back(json::object{{"id", std::to_string(p.id)},
                               {"in_reply_to_id", reply},
                               {"text", p.text},
                               {"received_at", iso8601_utc(p.created_at_ms)},
                               {"received_at_ms", p.created_at_ms}});
  }
  return out;
}

json::object XApi::stats_json() const {
  const XStats& s = state_.stats();
  return json::object{{"x_requests", s.requests},
                      {"x_posts", s.posts},
                      {"x_duplicates_rejected", s.duplicates_rejected},
                      {"x_rejected_posts", s.rejected_posts},
                      {"x_unauthorized", s.unauthorized},
                      {"x_rate_limited", s.rate_limited}};
}

void XApi::reset() {
  state_.reset();
  auth_.reset();
}

}  // namespace sotong::sandbox
