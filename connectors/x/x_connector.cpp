// One file for the X connector: reading, the rate budgets and posting share the account's
// state; the page parser is a free function here so tests can reach it.
#include "connectors/x/x_connector.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <random>

#include "connectors/retry.hpp"
#include "connectors/x/tweet_length.hpp"
#include "daemon/text/html.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong::x {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::use_awaitable;

namespace {

// X's rate-limit windows.
constexpr int64_t kWindowMs = 15 * 60 * 1000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
// The mentions endpoint's largest page, and how far back it reaches at all.
constexpr int kPageSize = 100;
constexpr int kReachableMentions = 800;
// X's snowflake ids carry milliseconds since this moment in their upper bits.
constexpr int64_t kSnowflakeEpochMs = 1288834974657;
constexpr int64_t kFirstStartWindowMs = 24LL * 3600 * 1000;
constexpr std::chrono::milliseconds kMinBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{5 * 60 * 1000};
constexpr std::chrono::milliseconds kMaxRateLimitWait{kWindowMs};
constexpr std::string_view kDuplicate = "duplicate content";

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

int64_t header_int(const HttpResponse& r, std::string_view name, int64_t fallback) {
  std::string v = r.header(name);
  if (v.empty() || v.size() > 18) return fallback;
  int64_t out = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return fallback;
    out = out * 10 + (c - '0');
  }
  return out;
}

// The message a person can act on from either of X's error shapes.
std::string error_text(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.get_object();
  std::string out = str(o, "detail");
  if (out.empty()) {
    if (auto e = o.find("errors"); e != o.end() && e->value().is_array() &&
                                   !e->value().get_array().empty() &&
                                   e->value().get_array()[0].is_object())
      out = str(e->value().get_array()[0].get_object(), "message");
  }
  if (out.empty()) out = str(o, "title");
  if (out.size() > 200) out.resize(200);
  return text::sanitize_utf8(out);
}

}  // namespace

bool Budget::update(const HttpResponse& r, int64_t now) {
  if (r.header("x-rate-limit-remaining").empty()) return false;
  limit = static_cast<int>(header_int(r, "x-rate-limit-limit", limit));
  remaining = static_cast<int>(header_int(r, "x-rate-limit-remaining", remaining));
  int64_t reset_s = header_int(r, "x-rate-limit-reset", 0);
  reset_ms = reset_s > 0 ? reset_s * 1000 : now + kWindowMs;
  return true;
}

int64_t Budget::wait_ms(int64_t now) const {
  if (remaining > 0 || reset_ms <= now) return 0;
  return std::min<int64_t>(reset_ms - now, kMaxRateLimitWait.count());
}

Result<MentionsPage> parse_mentions_page(std::string_view body, const std::string& account,
                                         const std::string& self_id,
                                         const std::string& self_username) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return Error{"mentions page is not a JSON object"};
  const auto& o = v.get_object();
  MentionsPage page;
  std::map<std::string, std::string> usernames;
  if (auto inc = o.find("includes"); inc != o.end() && inc->value().is_object()) {
    if (auto users = inc->value().get_object().find("users");
        users != inc->value().get_object().end() && users->value().is_array())
      for (const auto& u : users->value().get_array())
        if (u.is_object()) usernames[str(u.get_object(), "id")] = str(u.get_object(), "username");
  }
  if (auto meta = o.find("meta"); meta != o.end() && meta->value().is_object()) {
    const auto& m = meta->value().get_object();
    page.newest_id = str(m, "newest_id");
    page.next_token = str(m, "next_token");
    if (auto rc = m.find("result_count"); rc != m.end() && rc->value().is_int64())
      page.result_count = static_cast<int>(rc->value().get_int64());
  }
  auto data = o.find("data");
  if (data == o.end()) return page;  // no mentions: {"meta":{"result_count":0}}
  if (!data->value().is_array()) return Error{"mentions page: data is not a list"};
  for (const auto& item : data->value().get_array()) {
    if (!item.is_object()) continue;
    const auto& t = item.get_object();
    Mention m;
    m.platform = "x";
    m.account = account;
    m.id = str(t, "id");
    if (m.id.empty() || m.id.size() > 32 ||
        !std::all_of(m.id.begin(), m.id.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    m.cursor = m.id;
    m.author_id = str(t, "author_id");
    m.author = text::sanitize_utf8(usernames[m.author_id]);
    if (m.author.empty() || m.author.size() > 64) continue;  // cannot address a reply
    m.author_acct = m.author;
    m.author_is_self = !self_id.empty() && m.author_id == self_id;
    // X escapes &, < and > in text; there are no tags to strip.
    m.text = text::remove_mentions_of(text::html_to_text(str(t, "text")), self_username);
    m.language = str(t, "lang");
    if (m.language == "und" || m.language.size() > 35) m.language.clear();
    m.visibility = Visibility::kPublic;  // mentions are public posts; DMs are another API
    m.thread_id = str(t, "conversation_id");
    m.in_reply_to_self = !self_id.empty() && str(t, "in_reply_to_user_id") == self_id;
    for (const char* key : {"referenced_tweets", "referenced_posts"}) {
      auto refs = t.find(key);
      if (refs == t.end() || !refs->value().is_array()) continue;
      for (const auto& r : refs->value().get_array())
        if (r.is_object()) {
          const std::string type = str(r.get_object(), "type");
          if (type == "replied_to") m.in_reply_to_id = str(r.get_object(), "id");
          // A retweet repeats someone's mention of us; the original has its own ticket.
          if (type == "retweeted") m.is_boost = true;
        }
    }
    m.created_at_ms = parse_iso8601(str(t, "created_at"));
    page.mentions.push_back(std::move(m));
  }
  return page;
}

XConnector::XConnector(asio::any_io_executor ex, AccountConfig config,
                       std::shared_ptr<asio::ssl::context> tls)
    : ex_(ex), config_(std::move(config)), tls_(std::move(tls)), timer_(ex) {
  auto ep = parse_endpoint(config_.base_url);
  if (ep) endpoint_ = *ep;  // the config loader checked the URL's shape
  creds_ = {config_.consumer_key, config_.consumer_secret, config_.access_token,
            config_.access_token_secret};
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.request_timeout);
  reader_ = std::make_unique<HttpClient>(ex_, endpoint_, tls_, timeout);
  poster_ = std::make_unique<HttpClient>(ex_, endpoint_, tls_, timeout);
  // A request cut off by stop() is no platform error.
  auto count = [this](const Result<HttpResponse>& r) {
    if (!stopping_) observe(r);
  };
  reader_->on_result(count);
  poster_->on_result(count);
  post_budget_ = {config_.posts_per_window, config_.posts_per_window, 0};
  post_day_budget_ = {config_.posts_per_day, config_.posts_per_day, 0};
  read_budget_ = {config_.mentions_per_window, config_.mentions_per_window, 0};
}

XConnector::~XConnector() = default;

std::string XConnector::base_url_for_signing(const std::string& path) const {
  std::string url = endpoint_.tls ? "https://" : "http://";
  std::string host = endpoint_.host;
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  url += host;
  if (!((endpoint_.tls && endpoint_.port == "443") || (!endpoint_.tls && endpoint_.port == "80")))
    url += ":" + endpoint_.port;
  return url + endpoint_.path_prefix + path;
}

HttpRequest XConnector::signed_get(const std::string& path, const Params& params,
                                   bool prefer_bearer) const {
  HttpRequest r;
  r.method = "GET";
  r.target = path;
  char sep = '?';
  for (const auto& [k, v] : params) {
    r.target += sep + percent_encode(k) + "=" + percent_encode(v);
    sep = '&';
  }
  if (prefer_bearer && !config_.bearer_token.empty()) {
    r.headers.emplace_back("Authorization", "Bearer " + config_.bearer_token);
  } else {
    r.headers.emplace_back("Authorization",
                           authorization_header(creds_, "GET", base_url_for_signing(path), params,
                                                make_nonce(), now_ms() / 1000));
  }
  return r;
}

asio::awaitable<void> XConnector::sleep(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  boost::system::error_code ec;
  co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

void XConnector::stop() {
  stopping_ = true;
  timer_.cancel();
  reader_->close();
}

asio::awaitable<bool> XConnector::verify() {
  const auto req = signed_get("/2/users/me", {}, false);
  auto r = co_await reader_->request(req);
  if (!r) {
    log::warn("credentials check failed", {{"account", config_.name}, {"error", r.error()}});
    co_return false;
  }
  if (r->status != 200) {
    log::error("credentials not accepted",
               {{"account", config_.name},
                {"status", r->status},
                {"error", error_text(r->body)},
                {"hint",
                 "are the consumer key and access token right, with read and write "
                 "permission?"}});
    co_return false;
  }
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  const json::value* data = ec ? nullptr : v.find_pointer("/data", ec);
  if (data == nullptr || !data->is_object() || str(data->get_object(), "id").empty()) {
    log::warn("credentials check answer unreadable", {{"account", config_.name}});
    co_return false;
  }
  self_id_ = str(data->get_object(), "id");
  self_username_ = str(data->get_object(), "username");
  log::info("account verified", {{"account", config_.name},
                                 {"platform", platform_},
                                 {"acct", self_username_},
                                 {"account_id", self_id_}});
  co_return true;
}

asio::awaitable<bool> XConnector::poll(MentionSink& sink) {
  auto loaded = co_await sink.load_cursor(platform_, config_.name);
  if (!loaded.ok) co_return false;
  const std::optional<std::string>& cursor = loaded.cursor;
  const std::string fields_key = config_.x_api_version == "2.167" ? "post.fields" : "tweet.fields";
  std::vector<Mention> fresh;  // newest first
  std::string newest;
  std::string token;
  int pages = 0;
  for (; pages * kPageSize < kReachableMentions && !stopping_; ++pages) {
    Params params{
        {"max_results", std::to_string(kPageSize)},
        {"expansions", "author_id"},
        {fields_key, "created_at,conversation_id,lang,in_reply_to_user_id,referenced_tweets"},
        {"user.fields", "username,name"}};
    if (cursor) params.emplace_back("since_id", *cursor);
    if (!token.empty()) params.emplace_back("pagination_token", token);
    if (int64_t wait = read_budget_.wait_ms(now_ms()); wait > 0) {
      log::info("mentions budget spent; waiting", {{"account", config_.name}, {"wait_ms", wait}});
      observe_rate_limit_wait();
      co_await sleep(std::chrono::milliseconds(wait));
      if (stopping_) co_return false;
    }
    const auto req = signed_get("/2/users/" + self_id_ + "/mentions", params, true);
    auto r = co_await reader_->request(req);
    if (!r) {
      log::warn("mentions read failed", {{"account", config_.name}, {"error", r.error()}});
      co_return false;
    }
    if (!read_budget_.update(*r, now_ms()) && read_budget_.remaining > 0) --read_budget_.remaining;
    if (r->status == 429) {
      read_budget_.remaining = 0;
      if (read_budget_.reset_ms <= now_ms()) read_budget_.reset_ms = now_ms() + kWindowMs;
      log::warn("mentions rate-limited until the reset", {{"account", config_.name}});
      observe_rate_limit_wait();
      co_return false;
    }
    if (r->status != 200) {
      log::warn("mentions read answered an error",
                {{"account", config_.name}, {"status", r->status}, {"error", error_text(r->body)}});
      co_return false;
    }
    auto page = parse_mentions_page(r->body, config_.name, self_id_, self_username_);
    if (!page) {
      log::warn("mentions page unreadable", {{"account", config_.name}, {"error", page.error()}});
      co_return false;
    }
    if (newest.empty() || (!page->newest_id.empty() && id_less(newest, page->newest_id)))
      newest = page->newest_id;
    for (auto& m : page->mentions) {
      if (!cursor && m.created_at_ms >= 0 && now_ms() - m.created_at_ms > kFirstStartWindowMs)
        continue;                                       // first start: only recent mentions
      if (cursor && !id_less(*cursor, m.id)) continue;  // a server that ignores since_id
      if (newest.empty() || id_less(newest, m.id)) newest = m.id;
      fresh.push_back(std::move(m));
    }
    if (!cursor) break;  // first start: one page is enough
    token = page->next_token;
    if (token.empty()) break;
  }
  if (cursor && fresh.size() >= static_cast<std::size_t>(kReachableMentions)) {
    // Post ids are snowflakes: their time tells how long a stretch may be unreadable.
    auto when = [](const std::string& id) -> std::string {
      if (id.size() > 19) return "(unknown)";  // not a snowflake that fits 64 bits
      return iso8601_utc(static_cast<int64_t>(std::stoull(id) >> 22) + kSnowflakeEpochMs);
    };
    const auto oldest =
        std::min_element(fresh.begin(), fresh.end(),
                         [](const Mention& a, const Mention& b) { return id_less(a.id, b.id); });
    // X serves only the most recent kReachableMentions: `count` or more came since the cursor.
    log::warn("mentions may have been missed", {{"account", config_.name},
                                                {"count", fresh.size()},
                                                {"reachable", kReachableMentions},
                                                {"missed_from", when(*cursor)},
                                                {"missed_to", when(oldest->id)}});
  }
  std::sort(fresh.begin(), fresh.end(),
            [](const Mention& a, const Mention& b) { return id_less(a.id, b.id); });
  fresh.erase(std::unique(fresh.begin(), fresh.end(),
                          [](const Mention& a, const Mention& b) { return a.id == b.id; }),
              fresh.end());
  if (!fresh.empty() && !(co_await sink.deliver(fresh))) co_return false;
  if (!newest.empty() && (!cursor || id_less(*cursor, newest)))
    if (!(co_await sink.save_cursor(platform_, config_.name, newest))) co_return false;
  co_return true;
}

asio::awaitable<void> XConnector::run(MentionSink& sink) {
  auto backoff = kMinBackoff;
  while (!stopping_ && !(co_await verify())) {
    co_await sleep(jittered(backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  // As often as the budget allows and no more: a 15-minute window spread evenly.
  const auto budget_interval =
      std::chrono::milliseconds(kWindowMs / std::max(1, config_.mentions_per_window));
  const auto interval =
      std::max(std::chrono::duration_cast<std::chrono::milliseconds>(config_.poll_interval),
               budget_interval);
  backoff = kMinBackoff;
  while (!stopping_) {
    if (!sink.accepting()) {
      co_await sleep(interval);
      continue;
    }
    bool ok = co_await poll(sink);
    if (ok) ready_ = true;
    if (stopping_) break;
    auto wait = ok ? interval : jittered(backoff);
    backoff = ok ? kMinBackoff : std::min(backoff * 2, kMaxBackoff);
    if (int64_t budget_wait = read_budget_.wait_ms(now_ms()); budget_wait > wait.count())
      wait = std::chrono::milliseconds(budget_wait);
    co_await sleep(wait);
  }
}

std::string XConnector::fit(std::string_view prefix, std::string_view body) const {
  return fit_post(prefix, body);
}

asio::awaitable<PostOutcome> XConnector::post(const Reply& reply) {
  PostOutcome out;
  const int64_t now = now_ms();
  // Our own count keeps us under the budget even where the headers are missing.
  for (Budget* b : {&post_budget_, &post_day_budget_}) {
    if (int64_t wait = b->wait_ms(now); wait > 0) {
      out.kind = PostOutcome::Kind::kRetry;
      out.error = "posting budget spent";
      out.retry_after = std::chrono::milliseconds(wait);
      co_return out;
    }
  }
  json::object body;
  body["text"] = reply.text;
  if (!reply.in_reply_to_id.empty()) {
    json::object r;
    r["in_reply_to_tweet_id"] = reply.in_reply_to_id;
    body["reply"] = std::move(r);
  }
  HttpRequest req;
  req.method = "POST";
  req.target = "/2/tweets";
  req.headers.emplace_back(
      "Authorization", authorization_header(creds_, "POST", base_url_for_signing("/2/tweets"), {},
                                            make_nonce(), now / 1000));
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = json::serialize(body);
  auto r = co_await poster_->request(req);
  if (!r) {
    out.kind = PostOutcome::Kind::kRetry;
    out.error = r.error();
    co_return out;
  }
  const int64_t after = now_ms();
  for (Budget* b : {&post_budget_, &post_day_budget_}) {
    if (b->reset_ms <= after) {
      b->remaining = b->limit;
      b->reset_ms = after + (b == &post_budget_ ? kWindowMs : kDayMs);
    }
  }
  if (!post_budget_.update(*r, after)) --post_budget_.remaining;
  if (!r->header("x-user-limit-24hour-remaining").empty() ||
      !r->header("x-app-limit-24hour-remaining").empty()) {
    const char* prefix = !r->header("x-user-limit-24hour-remaining").empty()
                             ? "x-user-limit-24hour-"
                             : "x-app-limit-24hour-";
    post_day_budget_.remaining = static_cast<int>(
        header_int(*r, std::string(prefix) + "remaining", post_day_budget_.remaining));
    int64_t reset_s = header_int(*r, std::string(prefix) + "reset", 0);
    if (reset_s > 0) post_day_budget_.reset_ms = reset_s * 1000;
  } else {
    --post_day_budget_.remaining;
  }
  std::string detail = error_text(r->body);
  if (r->status == 200 || r->status == 201) {
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    const json::value* id = ec ? nullptr : v.find_pointer("/data/id", ec);
    if (id != nullptr && id->is_string()) {
      out.kind = PostOutcome::Kind::kPosted;
      out.post_id = std::string(id->get_string());
      if (!detail.empty())
        log::warn("posted with partial errors", {{"ticket", reply.ticket_number},
                                                 {"account", config_.name},
                                                 {"post", out.post_id},
                                                 {"error", detail}});
      co_return out;
    }
    out.kind = PostOutcome::Kind::kRetry;  // a retry that did arrive is answered "duplicate"
    out.error = "HTTP " + std::to_string(r->status) + " with an unreadable body";
    co_return out;
  }
  out.error = "HTTP " + std::to_string(r->status) + (detail.empty() ? "" : ": " + detail);
  if (r->status == 403 && detail.find(kDuplicate) != std::string::npos) {
    // The same text is already there: an earlier attempt arrived. Record it, never loop.
    out.kind = PostOutcome::Kind::kPosted;
    out.post_id = "duplicate";
    co_return out;
  }
  if (r->status == 429) {
    out.kind = PostOutcome::Kind::kRetry;
    int64_t wait = std::max(post_budget_.wait_ms(after), post_day_budget_.wait_ms(after));
    if (wait == 0) {
      post_budget_.remaining = 0;
      post_budget_.reset_ms = after + kWindowMs;
      wait = kWindowMs;
    }
    out.retry_after = std::chrono::milliseconds(wait);
  } else if (r->status >= 500 || r->status == 401) {
    out.kind = PostOutcome::Kind::kRetry;
  } else {
    out.kind = PostOutcome::Kind::kRejected;
  }
  co_return out;
}

}  // namespace sotong::x
