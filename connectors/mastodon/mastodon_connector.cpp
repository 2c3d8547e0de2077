// One file for the Mastodon connector: reading (walk back, forward paging, streaming) and
// posting share the account's state and quirks, and splitting them would spread one
// platform's rules over several places.
#include "connectors/mastodon/mastodon_connector.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <optional>
#include <random>

#include "connectors/mastodon/status_length.hpp"
#include "connectors/retry.hpp"
#include "daemon/text/html.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong::mastodon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using asio::use_awaitable;

namespace {

// Mastodon's largest page of notifications.
constexpr int kPageLimit = 80;
// Pages walked back per poll: 40 × 80 = 3,200 mentions, far more than a poll interval brings;
// beyond that the log says some may be missed.
constexpr int kMaxPagesPerPoll = 40;
// On the very first start there is no cursor: answer only what came in the last day rather
// than every mention the account ever received.
constexpr int64_t kFirstStartWindowMs = 24LL * 3600 * 1000;
// The longest wait a 429 may impose before we try again anyway.
constexpr std::chrono::milliseconds kMaxRateLimitWait{15 * 60 * 1000};
constexpr std::chrono::milliseconds kMinBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{60 * 1000};
// A streaming message larger than this is not a notification we can use.
constexpr std::size_t kMaxStreamMessageBytes = 1 << 20;

bool is_decimal(std::string_view s) {
  return !s.empty() && s.size() <= 32 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::optional<Mention> from_object(const json::object& n, const std::string& account,
                                   const std::string& self_id, const std::string& self_username,
                                   std::string* why) {
  auto fail = [&](std::string w) -> std::optional<Mention> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  std::string nid = str(n, "id");
  if (!is_decimal(nid)) return fail("notification without a usable id");
  if (str(n, "type") != "mention") return fail("not a mention");
  auto st = n.find("status");
  if (st == n.end() || !st->value().is_object()) return fail("mention without status");
  const auto& status = st->value().get_object();
  auto acc = status.find("account");
  if (acc == status.end() || !acc->value().is_object()) return fail("status without account");
  const auto& author = acc->value().get_object();
  Mention m;
  m.platform = "mastodon";
  m.account = account;
  m.id = str(status, "id");
  if (m.id.empty() || m.id.size() > 64) return fail("status without a usable id");
  m.cursor = nid;
  m.author_id = str(author, "id");
  m.author = text::sanitize_utf8(str(author, "username"));
  m.author_acct = text::sanitize_utf8(str(author, "acct"));
  if (m.author_acct.empty() || m.author_acct.size() > 320) return fail("author without acct");
  for (char c : m.author_acct)
    if (c == ' ' || c == '\n' || c == '\t') return fail("author acct with whitespace");
  if (m.author.empty()) m.author = m.author_acct.substr(0, m.author_acct.find('@'));
  if (auto b = author.find("bot"); b != author.end() && b->value().is_bool())
    m.author_is_bot = b->value().get_bool();
  m.author_is_self = !self_id.empty() && m.author_id == self_id;
  m.text = text::remove_mentions_of(text::html_to_text(str(status, "content")), self_username);
  m.language = text::sanitize_utf8(str(status, "language"));
  if (m.language.size() > 35) m.language.clear();
  auto vis = parse_visibility(str(status, "visibility"));
  // An unknown visibility (a server's extension) is treated as the narrowest: never widen.
  m.visibility = vis ? *vis : Visibility::kDirect;
  m.in_reply_to_id = str(status, "in_reply_to_id");
  // Mention notifications carry the mentioning status itself, but a server may hand us a
  // boost wrapper; its original is the citizen's post and has its own notification.
  if (auto r = status.find("reblog"); r != status.end() && r->value().is_object())
    m.is_boost = true;
  m.thread_id = m.in_reply_to_id.empty() ? m.id : m.in_reply_to_id;
  m.created_at_ms = parse_iso8601(str(status, "created_at"));
  return m;
}

// The WebSocket handshake on a connected (and, for TLS, handshaken) stream. Arguments are
// references: the caller co_awaits at once (GCC 12 and temporaries in co_await).
template <class WebSocket, class Decorate>
asio::awaitable<void> upgrade(WebSocket& ws, const std::string& host, const std::string& target,
                              const Decorate& decorate, beast::error_code& ec) {
  beast::get_lowest_layer(ws).expires_never();
  // Pings after 45 s of silence and gives up after 90 s: a dead connection is noticed.
  ws.set_option(
      websocket::stream_base::timeout{std::chrono::seconds(30), std::chrono::seconds(90), true});
  ws.set_option(websocket::stream_base::decorator(decorate));
  ws.read_message_max(kMaxStreamMessageBytes);
  co_await ws.async_handshake(host, target, asio::redirect_error(use_awaitable, ec));
}

}  // namespace

std::optional<Mention> parse_notification(std::string_view text, const std::string& account,
                                          const std::string& self_id, std::string* why) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    if (why) *why = "not a JSON object";
    return std::nullopt;
  }
  return from_object(v.get_object(), account, self_id, "", why);
}

struct MastodonConnector::Stream {
  std::optional<websocket::stream<beast::tcp_stream>> plain;
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> tls;
  void close() {
    beast::error_code ec;
    if (plain) beast::get_lowest_layer(*plain).socket().close(ec);
    if (tls) beast::get_lowest_layer(*tls).socket().close(ec);
  }
};

MastodonConnector::MastodonConnector(asio::any_io_executor ex, AccountConfig config,
                                     std::shared_ptr<asio::ssl::context> tls)
    : ex_(ex), config_(std::move(config)), tls_(std::move(tls)), poll_timer_(ex) {
  auto ep = parse_endpoint(config_.base_url);
  if (ep) endpoint_ = *ep;  // the config loader already checked the URL's shape
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.request_timeout);
  reader_ = std::make_unique<HttpClient>(ex_, endpoint_, tls_, timeout);
  poster_ = std::make_unique<HttpClient>(ex_, endpoint_, tls_, timeout);
  // A request cut off by stop() is no platform error.
  auto count = [this](const Result<HttpResponse>& r) {
    if (!stopping_) observe(r);
  };
  reader_->on_result(count);
  poster_->on_result(count);
}

MastodonConnector::~MastodonConnector() = default;

HttpRequest MastodonConnector::authed(std::string method, std::string target) const {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.emplace_back("Authorization", "Bearer " + config_.token);
  r.headers.emplace_back("Accept", "application/json");
  return r;
}

std::chrono::milliseconds MastodonConnector::rate_limit_wait(const HttpResponse& r) const {
  int64_t reset = parse_iso8601(r.header("x-ratelimit-reset"));
  std::chrono::milliseconds wait{5000};
  if (reset > 0) wait = std::chrono::milliseconds(std::max<int64_t>(reset - now_ms(), 1000));
  return std::min(wait, kMaxRateLimitWait);
}

asio::awaitable<void> MastodonConnector::sleep(std::chrono::milliseconds d) {
  poll_timer_.expires_after(d);
  beast::error_code ec;
  co_await poll_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
}

void MastodonConnector::stop() {
  stopping_ = true;
  poll_timer_.cancel();
  if (stream_) stream_->close();
  reader_->close();
}

asio::awaitable<bool> MastodonConnector::verify() {
  const auto verify_req = authed("GET", "/api/v1/accounts/verify_credentials");
  auto r = co_await reader_->request(verify_req);
  if (!r) {
    log::warn("credentials check failed", {{"account", config_.name}, {"error", r.error()}});
    co_return false;
  }
  if (r->status != 200) {
    log::error("credentials not accepted",
               {{"account", config_.name},
                {"status", r->status},
                {"hint", "is the token valid, with read and write:statuses scopes?"}});
    co_return false;
  }
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  if (ec || !v.is_object() || str(v.get_object(), "id").empty()) {
    log::warn("credentials check answer unreadable", {{"account", config_.name}});
    co_return false;
  }
  self_id_ = str(v.get_object(), "id");
  self_acct_ = str(v.get_object(), "username");
  const auto instance_req = authed("GET", "/api/v1/instance");
  auto inst = co_await reader_->request(instance_req);
  if (inst && inst->status == 200) {
    auto iv = json::parse(inst->body, ec);
    if (!ec && iv.is_object()) {
      if (auto* p = iv.find_pointer("/configuration/statuses/max_characters", ec);
          p && p->is_int64() && p->get_int64() > 50 && p->get_int64() < 1000000)
        max_chars_ = static_cast<std::size_t>(p->get_int64());
      else if (auto* q = iv.find_pointer("/max_toot_chars", ec);
               q && q->is_int64() && q->get_int64() > 50)
        max_chars_ = static_cast<std::size_t>(q->get_int64());  // Pleroma/Akkoma
    }
  }
  log::info("account verified", {{"account", config_.name},
                                 {"platform", platform_},
                                 {"acct", self_acct_},
                                 {"account_id", self_id_},
                                 {"max_characters", max_chars_.load()}});
  co_return true;
}

asio::awaitable<void> MastodonConnector::wait_out_rate_limit(const HttpResponse& r) {
  auto wait = rate_limit_wait(r);
  log::warn("poll rate-limited; waiting", {{"account", config_.name}, {"wait_ms", wait.count()}});
  observe_rate_limit_wait();
  co_await sleep(wait);
}

asio::awaitable<bool> MastodonConnector::catch_up(MentionSink& sink) {
  auto loaded = co_await sink.load_cursor(platform_, config_.name);
  if (!loaded.ok) co_return false;
  const std::optional<std::string>& cursor = loaded.cursor;
  std::vector<json::object> fresh;  // newest first
  std::string max_id;
  bool reached = false;
  int pages = 0;
  std::string newest;
  for (; pages < kMaxPagesPerPoll && !stopping_; ++pages) {
    std::string target =
        "/api/v1/notifications?types%5B%5D=mention&limit=" + std::to_string(kPageLimit);
    if (!max_id.empty()) target += "&max_id=" + max_id;
    const auto page_req = authed("GET", target);
    auto r = co_await reader_->request(page_req);
    if (!r) {
      log::warn("poll failed", {{"account", config_.name}, {"error", r.error()}});
      co_return false;
    }
    if (r->status == 429) {
      co_await wait_out_rate_limit(*r);
      co_return false;
    }
    if (r->status != 200) {
      log::warn("poll answered an error", {{"account", config_.name}, {"status", r->status}});
      co_return false;
    }
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (ec || !v.is_array()) {
      log::warn("malformed notifications page", {{"account", config_.name}});
      co_return false;
    }
    const auto& arr = v.get_array();
    if (arr.empty()) {
      reached = true;
      break;
    }
    std::string oldest_in_page;
    for (const auto& item : arr) {
      if (!item.is_object()) continue;
      std::string id = str(item.get_object(), "id");
      if (!is_decimal(id)) continue;
      if (newest.empty() || id_less(newest, id)) newest = id;
      if (oldest_in_page.empty() || id_less(id, oldest_in_page)) oldest_in_page = id;
      if (cursor && !id_less(*cursor, id)) {
        reached = true;
        continue;
      }
      if (!cursor) {
        // First start: only recent mentions.
        auto st = item.get_object().find("created_at");
        int64_t at = st != item.get_object().end() && st->value().is_string()
                         ? parse_iso8601(std::string(st->value().get_string()))
                         : -1;
        if (at >= 0 && now_ms() - at > kFirstStartWindowMs) {
          reached = true;
          continue;
        }
      }
      fresh.push_back(item.get_object());
    }
    // A server that ignores max_id hands the same page back: stop rather than loop.
    if (reached || oldest_in_page.empty() || oldest_in_page == max_id) break;
    max_id = oldest_in_page;
  }
  // Only a walk that reached the cursor may move it: otherwise there is a gap behind the
  // oldest page read, and moving the cursor would skip it for good.
  const bool contiguous = !cursor || reached;
  std::sort(fresh.begin(), fresh.end(), [](const json::object& a, const json::object& b) {
    return id_less(str(a, "id"), str(b, "id"));
  });
  fresh.erase(std::unique(fresh.begin(), fresh.end(),
                          [](const json::object& a, const json::object& b) {
                            return str(a, "id") == str(b, "id");
                          }),
              fresh.end());
  std::vector<Mention> mentions;
  for (const auto& n : fresh) {
    std::string why;
    auto m = from_object(n, config_.name, self_id_, self_acct_, &why);
    if (m) {
      mentions.push_back(std::move(*m));
    } else {
      log::debug("notification skipped",
                 {{"account", config_.name}, {"notification", str(n, "id")}, {"reason", why}});
    }
  }
  if (!contiguous) {
    // A long outage: the gap behind the pages read is read forward from the cursor first,
    // page by page, and the newest pages held here go last. So the store takes the backlog
    // oldest first (the replies follow in that order) and the cursor moves with every page.
    log::warn("walk back did not reach the cursor; reading forward from it",
              {{"account", config_.name}, {"pages", pages}});
    const std::string from = *cursor;
    const std::string until = fresh.empty() ? std::string() : str(fresh.front(), "id");
    if (!(co_await catch_up_forward(sink, from, until))) co_return false;
  }
  if (!mentions.empty() && !(co_await sink.deliver(mentions))) co_return false;
  if (!newest.empty() && (!cursor || id_less(*cursor, newest)))
    if (!(co_await sink.save_cursor(platform_, config_.name, newest))) co_return false;
  co_return true;
}

asio::awaitable<bool> MastodonConnector::catch_up_forward(MentionSink& sink,
                                                          const std::string& cursor,
                                                          const std::string& until) {
  std::string from = cursor;
  // No page limit: every page is stored and the cursor moved before the next is read, so a
  // stop or an error anywhere resumes from there.
  while (!stopping_) {
    // min_id: the page just after `from`, so each page joins the last and the cursor may move.
    const auto req = authed("GET", "/api/v1/notifications?types%5B%5D=mention&limit=" +
                                       std::to_string(kPageLimit) + "&min_id=" + from);
    auto r = co_await reader_->request(req);
    if (r && r->status == 429) {
      co_await wait_out_rate_limit(*r);
      continue;
    }
    if (!r || r->status != 200) co_return false;
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (ec || !v.is_array()) co_return false;
    std::vector<json::object> items;
    for (const auto& item : v.get_array())
      if (item.is_object() && is_decimal(str(item.get_object(), "id")) &&
          id_less(from, str(item.get_object(), "id")))
        items.push_back(item.get_object());
    if (items.empty()) co_return true;
    std::sort(items.begin(), items.end(), [](const json::object& a, const json::object& b) {
      return id_less(str(a, "id"), str(b, "id"));
    });
    std::vector<Mention> mentions;
    for (const auto& n : items) {
      std::string why;
      if (auto m = from_object(n, config_.name, self_id_, self_acct_, &why))
        mentions.push_back(std::move(*m));
    }
    if (!mentions.empty() && !(co_await sink.deliver(mentions))) co_return false;
    const std::string newest = str(items.back(), "id");
    if (!(co_await sink.save_cursor(platform_, config_.name, newest))) co_return false;
    from = newest;
    // Joined the pages the walk back read: the caller stores those.
    if (!until.empty() && !id_less(from, until)) co_return true;
  }
  co_return !stopping_;
}

asio::awaitable<void> MastodonConnector::stream_loop(MentionSink& sink) {
  auto backoff = kMinBackoff;
  while (!stopping_) {
    beast::error_code ec;
    auto tok = asio::redirect_error(use_awaitable, ec);
    stream_ = std::make_unique<Stream>();
    asio::ip::tcp::resolver resolver(ex_);
    auto results = co_await resolver.async_resolve(endpoint_.host, endpoint_.port, tok);
    std::string target = endpoint_.path_prefix + "/api/v1/streaming?stream=user:notification";
    auto decorate = [this](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + config_.token);
      req.set(beast::http::field::user_agent, "sotong/0.1");
    };
    if (!ec) {
      if (endpoint_.tls) {
        auto& ws = stream_->tls.emplace(ex_, *tls_);
        auto& tcp = beast::get_lowest_layer(ws);
        tcp.expires_after(config_.request_timeout);
        co_await tcp.async_connect(results, tok);
        if (!ec) {
          set_sni(ws.next_layer().native_handle(), endpoint_.host);
          ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
          co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client, tok);
        }
        if (!ec) co_await upgrade(ws, endpoint_.host, target, decorate, ec);
      } else {
        auto& ws = stream_->plain.emplace(ex_);
        auto& tcp = beast::get_lowest_layer(ws);
        tcp.expires_after(config_.request_timeout);
        co_await tcp.async_connect(results, tok);
        if (!ec) co_await upgrade(ws, endpoint_.host, target, decorate, ec);
      }
    }
    if (ec) {
      if (stopping_) break;
      log::warn(
          "streaming connect failed; polling meanwhile",
          {{"account", config_.name}, {"error", ec.message()}, {"retry_ms", backoff.count()}});
      observe(Error{ec == beast::error::timeout ? std::string("timed out") : ec.message()});
    } else {
      log::info("streaming connected", {{"account", config_.name}});
      backoff = kMinBackoff;
      poll_timer_.cancel();  // a poll now covers anything sent while we were away
      beast::flat_buffer buf;
      while (!stopping_) {
        buf.clear();
        if (stream_->tls)
          co_await stream_->tls->async_read(buf, tok);
        else
          co_await stream_->plain->async_read(buf, tok);
        if (ec) break;
        std::string msg = beast::buffers_to_string(buf.data());
        boost::system::error_code jec;
        auto v = json::parse(msg, jec);
        if (jec || !v.is_object()) {
          // The next poll covers it.
          log::warn("unreadable streaming message dropped", {{"account", config_.name}});
          continue;
        }
        if (str(v.get_object(), "event") != "notification") continue;
        std::string payload = str(v.get_object(), "payload");
        std::string why;
        auto pv = json::parse(payload, jec);
        if (jec || !pv.is_object()) continue;
        auto m = from_object(pv.get_object(), config_.name, self_id_, self_acct_, &why);
        if (!m) continue;
        m->cursor.clear();  // only a contiguous poll moves the cursor
        std::vector<Mention> one;
        one.push_back(std::move(*m));
        co_await sink.deliver(one);  // on failure the next poll retries it
      }
      if (stopping_) break;
      log::warn("streaming dropped; reconnecting",
                {{"account", config_.name}, {"error", ec.message()}});
      poll_timer_.cancel();
    }
    stream_->close();
    auto wait = jittered(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    asio::steady_timer t(ex_);
    t.expires_after(wait);
    // Reconnect waits are cut short by stop(): it closes the stream and sets stopping_.
    while (!stopping_ && t.expiry() > asio::steady_timer::clock_type::now()) {
      asio::steady_timer step(ex_);
      step.expires_after(std::min<std::chrono::steady_clock::duration>(
          t.expiry() - asio::steady_timer::clock_type::now(), std::chrono::milliseconds(200)));
      co_await step.async_wait(tok);
    }
  }
  stream_running_ = false;
}

asio::awaitable<void> MastodonConnector::run(MentionSink& sink) {
  auto backoff = kMinBackoff;
  while (!stopping_ && !(co_await verify())) {
    co_await sleep(jittered(backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  if (stopping_) co_return;
  if (config_.streaming) {
    stream_running_ = true;
    asio::co_spawn(ex_, stream_loop(sink), [this](std::exception_ptr e) {
      stream_running_ = false;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("streaming task failed", {{"account", config_.name}, {"error", ex.what()}});
        }
      }
    });
  }
  backoff = kMinBackoff;
  while (!stopping_) {
    if (!sink.accepting()) {
      co_await sleep(std::chrono::duration_cast<std::chrono::milliseconds>(config_.poll_interval));
      continue;
    }
    bool ok = co_await catch_up(sink);
    if (ok) ready_ = true;
    if (stopping_) break;
    auto wait = ok ? std::chrono::duration_cast<std::chrono::milliseconds>(config_.poll_interval)
                   : jittered(backoff);
    backoff = ok ? kMinBackoff : std::min(backoff * 2, kMaxBackoff);
    co_await sleep(wait);
  }
  // Let the stream task see stopping_ and finish before the connector goes away.
  while (stream_running_) {
    if (stream_) stream_->close();
    asio::steady_timer t(ex_);
    t.expires_after(std::chrono::milliseconds(20));
    beast::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

std::string MastodonConnector::fit(std::string_view prefix, std::string_view body) const {
  return fit_status(prefix, body, max_chars_);
}

namespace {

// A reply's text without its leading @mentions, with runs of white space as one space.
std::string reply_words(std::string_view text) {
  std::size_t i = 0;
  for (;;) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size() || text[i] != '@') break;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  }
  std::string out;
  bool space = false;
  for (; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += text[i];
  }
  return out;
}

}  // namespace

asio::awaitable<std::optional<std::string>> MastodonConnector::find_in_thread(const Reply& reply,
                                                                              bool* thread_gone) {
  const auto req = authed("GET", "/api/v1/statuses/" + reply.in_reply_to_id + "/context");
  // The poster's connection: the reader's belongs to the poll loop, one request at a time.
  auto r = co_await poster_->request(req);
  if (!r) co_return std::nullopt;
  if (r->status == 404) *thread_gone = true;
  if (r->status != 200) co_return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  const json::value* desc = ec ? nullptr : v.find_pointer("/descendants", ec);
  if (desc == nullptr || !desc->is_array()) co_return std::nullopt;
  for (const auto& s : desc->get_array()) {
    if (!s.is_object()) continue;
    const auto& st = s.get_object();
    const json::value* author = st.if_contains("account");
    if (author == nullptr || !author->is_object() || str(author->get_object(), "id") != self_id_)
      continue;
    if (str(st, "in_reply_to_id") != reply.in_reply_to_id) continue;
    // This very reply: the same words after the leading @mentions (Mastodon renders those as
    // links). The ticket number alone would match the acknowledgement when looking for the
    // follow-up, which both answer the same mention.
    const std::string seen = text::html_to_text(str(st, "content"));
    if (seen.find(reply.ticket_number) != std::string::npos &&
        reply_words(seen) == reply_words(reply.text))
      co_return str(st, "id");
  }
  co_return std::nullopt;
}

asio::awaitable<PostOutcome> MastodonConnector::post(const Reply& reply) {
  // Past the key's lifetime even a first attempt may follow one that a crash (kill -9 during
  // the post) left unrecorded: look in the thread before posting.
  if (!reply.ticket_number.empty() &&
      now_ms() - reply.queued_at_ms >=
          std::chrono::duration_cast<std::chrono::milliseconds>(config_.idempotency_window)
              .count()) {
    // The server may have forgotten the Idempotency-Key: look for the reply before posting.
    bool thread_gone = false;
    auto found = co_await find_in_thread(reply, &thread_gone);
    PostOutcome early;
    if (found) {
      log::info("reply found in the thread; not posted again",
                {{"ticket", reply.ticket_number}, {"account", config_.name}, {"post", *found}});
      early.kind = PostOutcome::Kind::kPosted;
      early.post_id = *found;
      co_return early;
    }
    if (thread_gone) {
      early.kind = PostOutcome::Kind::kRejected;
      early.error = "the mention's thread is gone";
      co_return early;
    }
  }
  json::object body;
  body["status"] = reply.text;
  if (!reply.in_reply_to_id.empty()) body["in_reply_to_id"] = reply.in_reply_to_id;
  body["visibility"] = std::string(to_string(reply.visibility));
  if (!reply.language.empty()) body["language"] = reply.language;
  auto req = authed("POST", "/api/v1/statuses");
  req.headers.emplace_back("Content-Type", "application/json");
  // The outbox row's key: a retry after a crash or a lost answer returns the first status.
  req.headers.emplace_back("Idempotency-Key", reply.idempotency_key);
  req.body = json::serialize(body);
  PostOutcome out;
  auto r = co_await poster_->request(req);
  if (!r) {
    out.kind = PostOutcome::Kind::kRetry;
    out.error = r.error();
    co_return out;
  }
  if (r->status == 200) {
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (!ec && v.is_object() && !str(v.get_object(), "id").empty()) {
      out.kind = PostOutcome::Kind::kPosted;
      out.post_id = str(v.get_object(), "id");
      co_return out;
    }
    // It may be posted; the same Idempotency-Key makes the retry return it.
    out.kind = PostOutcome::Kind::kRetry;
    out.error = "HTTP 200 with an unreadable body";
    co_return out;
  }
  std::string detail;
  {
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (!ec && v.is_object()) detail = str(v.get_object(), "error");
    if (detail.size() > 200) detail.resize(200);
  }
  out.error = "HTTP " + std::to_string(r->status) + (detail.empty() ? "" : ": " + detail);
  if (r->status == 429) {
    out.kind = PostOutcome::Kind::kRetry;
    out.retry_after = rate_limit_wait(*r);
  } else if (r->status >= 500 || r->status == 408 || r->status == 401 || r->status == 403) {
    // 401/403: a revoked or narrowed token. Keep the reply until an admin fixes the token.
    out.kind = PostOutcome::Kind::kRetry;
  } else {
    out.kind = PostOutcome::Kind::kRejected;  // 404 thread gone, 422 invalid: never accepted
  }
  co_return out;
}

}  // namespace sotong::mastodon
