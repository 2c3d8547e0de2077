// The sandbox's network side in one file: connection handling, routing of the Mastodon and
// control APIs, and the streaming hub share the Impl's few fields (state, open streams,
// connections). The X API's logic lives in XApi; this file only carries its requests there.
// Sections: helpers, connections and streaming, Mastodon routes, control routes.
#include "sandbox/sandbox_server.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse_query.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <set>
#include <utility>
#include <vector>

#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"
#include "sandbox/x_api.hpp"

namespace sotong::sandbox {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

// The control API's documented limit on request bodies.
constexpr std::size_t kMaxBodyBytes = 1 << 20;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// Longer than the 60 s a typical client pool keeps an idle connection, so the client closes
// first and never writes into a socket we just closed.
constexpr auto kIdleTimeout = std::chrono::seconds(75);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
// The "hang" fault: long enough to outlast any client timeout under test.
constexpr auto kHangTimeout = std::chrono::seconds(120);
// Beast pings an idle stream after half of this (30 s, as Mastodon's streaming server does)
// and drops it when nothing at all arrived for the whole of it.
constexpr auto kStreamIdleTimeout = std::chrono::seconds(60);
constexpr auto kStreamHandshakeTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxStreamMessageBytes = 64 * 1024;
// A stream consumer this far behind is cut off instead of growing our memory.
constexpr std::size_t kMaxStreamQueue = 10'000;
// Far above what a test opens; a connection flood is refused before descriptors run out.
constexpr std::size_t kMaxConnections = 1'000;
constexpr int64_t kInjected429ResetMs = 1'000;
constexpr const char* kJsonType = "application/json; charset=utf-8";
constexpr const char* kServerName = "sotong-sandbox";

using Params = std::vector<std::pair<std::string, std::string>>;

void append_escaped(std::string& out, unsigned char u) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '%';
  out += kHex[u >> 4];
  out += kHex[u & 15];
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

// Query strings and form bodies. Clients send bytes RFC 3986 forbids in a query (raw
// brackets as in types[]=mention, raw UTF-8, spaces) and Rack accepts them, so they are
// escaped before Boost.URL parses; a broken %-escape stays an error.
std::optional<Params> parse_params(std::string_view raw) {
  static constexpr std::string_view kAllowed = "-._~!$&'()*+,;=:@/?%";
  std::string escaped;
  escaped.reserve(raw.size());
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || kAllowed.find(c) != std::string_view::npos) {
      escaped += c;
    } else {
      append_escaped(escaped, u);
    }
  }
  auto parsed = urls::parse_query(escaped);
  if (!parsed) return std::nullopt;
  Params out;
  urls::encoding_opts plus_is_space(true);
  for (auto p : *parsed) {
    if (p.key.empty() && !p.has_value) continue;
    std::string key = p.key.decode(plus_is_space);
    std::string value = p.value.decode(plus_is_space);
    if (!valid_utf8(key) || !valid_utf8(value)) return std::nullopt;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// Rails semantics: the last occurrence of a scalar parameter wins.
std::optional<std::string> param(const Params& params, std::string_view key) {
  std::optional<std::string> found;
  for (const auto& [k, v] : params) {
    if (k == key) found = v;
  }
  return found;
}

std::vector<std::string> param_list(const Params& params, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k == key || (k.size() == key.size() + 2 && k.starts_with(key) && k.ends_with("[]"))) {
      out.push_back(v);
    }
  }
  return out;
}

std::string pct_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      append_escaped(out, u);
    }
  }
  return out;
}

// Compares in time independent of where equal-length strings differ.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

std::optional<std::string> bearer_token(const Request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v = it->value();
  if (v.size() < 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) {
    return std::nullopt;
  }
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return {path, query};
}

Response make_response(http::status status, std::string body, const char* type, unsigned version,
                       bool keep_alive) {
  Response res{status, version};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(const Request& req, http::status status, const json::value& v) {
  return make_response(status, json::serialize(v), kJsonType, req.version(), req.keep_alive());
}

Response error_response(const Request& req, http::status status, std::string_view message) {
  return json_response(req, status, json::object{{"error", message}});
}

void set_rate_headers(Response& res, const RateDecision& rate) {
  if (rate.unlimited) return;
  res.set("X-RateLimit-Limit", std::to_string(rate.limit));
  res.set("X-RateLimit-Remaining", std::to_string(rate.remaining));
  res.set("X-RateLimit-Reset", iso8601_utc(rate.reset_ms));
}

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// Typed field access for the control API; the error names the field for the 400 message.
Result<std::optional<std::string>> string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>{};
  if (!it->value().is_string()) return Error{std::string(key) + ": must be a string"};
  return std::optional<std::string>(std::string(it->value().as_string()));
}

// Ids arrive as strings from Mastodon clients and as numbers from hand-written JSON.
Result<std::optional<std::string>> id_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it != o.end() && it->value().is_uint64()) {
    return std::optional<std::string>(std::to_string(it->value().as_uint64()));
  }
  if (it != o.end() && it->value().is_int64() && it->value().as_int64() >= 0) {
    return std::optional<std::string>(std::to_string(it->value().as_int64()));
  }
  return string_field(o, key);
}

Result<std::optional<int64_t>> int_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>{};
  if (it->value().is_int64()) return std::optional<int64_t>(it->value().as_int64());
  return Error{std::string(key) + ": must be an integer"};
}

Result<std::optional<bool>> bool_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>{};
  if (it->value().is_bool()) return std::optional<bool>(it->value().as_bool());
  return Error{std::string(key) + ": must be true or false"};
}

// Logs what escaped a coroutine: a broken invariant, reported once, closing one connection.
auto log_failure(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("task failed", {{"task", what}, {"error", ex.what()}});
    }
  };
}

struct Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool upgraded = false;  // the stream was moved into a WebSocket
};

struct StreamSession {
  explicit StreamSession(beast::tcp_stream s)
      : ws(std::move(s)), wake(ws.get_executor(), asio::steady_timer::time_point::max()) {}
  websocket::stream<beast::tcp_stream> ws;
  asio::steady_timer wake;  // cancelled to wake the writer
  std::deque<std::string> queue;
  std::set<std::string> streams;  // subscribed stream names
  bool closing = false;           // close handshake requested
  bool done = false;
};

bool known_stream(std::string_view s) {
  return s == "user" || s == "user:notification";
}

}  // namespace

class SandboxServer::Impl {
 public:
  explicit Impl(ServerOptions options)
      : options_(std::move(options)),
        acceptor_(ioc_),
        state_(options_.state, [] { return now_ms(); }),
        x_api_(options_.x, [] { return now_ms(); }) {}

  // First member: destroyed last, after the coroutine frames it owns, whose destructors
  // touch only their own sockets (never the fields below).
  asio::io_context ioc_{1};

  Status listen();
  uint16_t port() const { return acceptor_.is_open() ? acceptor_.local_endpoint().port() : 0; }
  void stop();

 private:
  struct Outcome {
    enum class Action { kRespond, kHang, kReset };
    Response res;
    Action action = Action::kRespond;
    std::chrono::milliseconds delay{0};  // the "delay" fault: the answer leaves this late
  };

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<Connection> conn);
  asio::awaitable<void> serve_stream(std::shared_ptr<Connection> conn, Request req);
  asio::awaitable<void> stream_writer(std::shared_ptr<StreamSession> s);
  asio::awaitable<void> hang(std::shared_ptr<Connection> conn);
  asio::awaitable<void> hold_answer(std::chrono::milliseconds delay);
  void on_stream_text(StreamSession& s, std::string_view text);
  void push(StreamSession& s, std::string message);
  std::size_t broadcast(uint64_t notification_id);
  std::size_t drop_streams();
  std::size_t open_streams();

  Outcome handle(const Request& req);
  Outcome handle_api(const Request& req, std::string_view path, std::string_view query);
  Outcome handle_x(const Request& req, std::string_view path);
  Response route_api(const Request& req, std::string_view path, const Params& query);
  Response get_notifications(const Request& req, const Params& query);
  Response post_status(const Request& req, const Params& query);
  Response handle_control(const Request& req, std::string_view path);
  Response post_mention(const Request& req);
  Response post_fault(const Request& req);
  Response post_redeliver(const Request& req);
  Response post_ratelimit(const Request& req);
  Response stats(const Request& req);
  bool token_ok(const Request& req, const Params& query) const;
  std::string link_base(const Request& req) const;

  ServerOptions options_;
  tcp::acceptor acceptor_;
  SandboxState state_;
  XApi x_api_;
  std::vector<std::weak_ptr<Connection>> connections_;
  std::vector<std::weak_ptr<StreamSession>> sessions_;
  int64_t stream_connects_total_ = 0;
  int64_t answers_held_ = 0;     // delayed answers not yet sent
  int64_t answers_delayed_ = 0;  // delayed answers ever
};

// ---- Listening, connections and streaming ----

Status SandboxServer::Impl::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.listen, ec);
  if (ec) return Error{"--listen " + options_.listen + ": not an IP address"};
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error{"cannot listen on " + options_.listen + ":" + std::to_string(options_.port) +
                 ": " + ec.message()};
  }
  std::string domain = options_.domain;
  if (domain.empty()) {
    std::string host = address.is_v6() ? "[" + options_.listen + "]" : options_.listen;
    domain = host + ":" + std::to_string(port());
  }
  state_.set_domain(domain);
  asio::co_spawn(ioc_, accept_loop(), log_failure("accept loop"));
  return Status::Ok();
}

void SandboxServer::Impl::stop() {
  asio::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& weak : connections_) {
      if (auto c = weak.lock(); c && !c->upgraded) c->stream.socket().close(ec);
    }
    for (auto& weak : sessions_) {
      if (auto s = weak.lock()) beast::get_lowest_layer(s->ws).socket().close(ec);
    }
    ioc_.stop();
  });
}

asio::awaitable<void> SandboxServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseAwaitable);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors and the like: pause instead of spinning.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(ioc_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseAwaitable);
      continue;
    }
    std::erase_if(connections_, [](const auto& w) { return w.expired(); });
    if (connections_.size() >= kMaxConnections) {
      log::warn("connection refused: too many open", {{"connections", connections_.size()}});
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    connections_.push_back(conn);
    asio::co_spawn(ioc_, serve(std::move(conn)), log_failure("http connection"));
  }
}

asio::awaitable<void> SandboxServer::Impl::serve(std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    conn->stream.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, parser, kUseAwaitable);
    if (!ec && parser.content_length() && *parser.content_length() > kMaxBodyBytes) {
      ec = http::error::body_limit;
    }
    if (!ec && parser.get()[http::field::expect] == "100-continue") {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      std::tie(ec, n) = co_await http::async_write(conn->stream, cont, kUseAwaitable);
    }
    if (!ec)
      std::tie(ec, n) = co_await http::async_read(conn->stream, buffer, parser, kUseAwaitable);
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      co_return;
    }
    if (ec) {
      // Only a request we cannot frame gets an answer; then we close, as the stream is out
      // of step. Network errors have no one to answer.
      if (ec.category() != http::make_error_code(http::error::body_limit).category()) co_return;
      Request bad;
      bad.keep_alive(false);
      Response res = ec == http::error::body_limit
                         ? error_response(bad, http::status::payload_too_large,
                                          "Request body larger than 1 MiB")
                         : error_response(bad, http::status::bad_request, "Bad request");
      conn->stream.expires_after(kWriteTimeout);
      co_await http::async_write(conn->stream, res, kUseAwaitable);
      co_return;
    }
    Request req = parser.release();
    auto [path, query] = split_target(req.target());
    if (websocket::is_upgrade(req) && path == "/api/v1/streaming") {
      co_await serve_stream(conn, std::move(req));
      co_return;
    }
    Outcome out = handle(req);
    // The path only: a query may carry the access token.
    log::debug("request",
               {{"method", std::string(req.method_string())},
                {"path", text::sanitize_utf8(path)},
                {"status", out.action == Outcome::Action::kRespond ? out.res.result_int() : 0}});
    if (out.action == Outcome::Action::kHang) {
      co_await hang(conn);
      co_return;
    }
    if (out.delay.count() > 0) co_await hold_answer(out.delay);
    if (out.action == Outcome::Action::kReset) {
      // SO_LINGER 0: close() sends RST, so the client sees a reset, not a clean end.
      boost::system::error_code ignored;
      conn->stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
      conn->stream.socket().close(ignored);
      co_return;
    }
    bool keep_alive = out.res.keep_alive();
    conn->stream.expires_after(kWriteTimeout);
    auto [wec, written] = co_await http::async_write(conn->stream, out.res, kUseAwaitable);
    if (wec) co_return;
    if (!keep_alive) {
      boost::system::error_code ignored;
      conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

asio::awaitable<void> SandboxServer::Impl::hang(std::shared_ptr<Connection> conn) {
  conn->stream.expires_after(kHangTimeout);
  std::array<char, 4096> sink{};
  for (;;) {
    auto [ec, n] = co_await conn->stream.async_read_some(asio::buffer(sink), kUseAwaitable);
    if (ec) break;
  }
  boost::system::error_code ignored;
  conn->stream.socket().close(ignored);
}

// The work is done; the client waits for its answer. The counter lets a test see that a
// request is in flight before it kills the client.
asio::awaitable<void> SandboxServer::Impl::hold_answer(std::chrono::milliseconds delay) {
  ++answers_held_;
  ++answers_delayed_;
  asio::steady_timer timer(ioc_, delay);
  co_await timer.async_wait(kUseAwaitable);
  --answers_held_;
}

asio::awaitable<void> SandboxServer::Impl::serve_stream(std::shared_ptr<Connection> conn,
                                                        Request req) {
  auto [path, raw_query] = split_target(req.target());
  auto query = parse_params(raw_query);
  std::optional<std::string> refusal;
  http::status refusal_status = http::status::bad_request;
  std::string protocol_echo;
  auto stream = query ? param(*query, "stream") : std::nullopt;
  if (!query) {
    refusal = "Malformed query string";
  } else if (stream && !known_stream(*stream)) {
    refusal = "Unknown stream type";
  } else {
    bool ok = token_ok(req, *query);
    // Browsers can only pass the token as a subprotocol; it must be echoed back.
    auto proto = req.find(http::field::sec_websocket_protocol);
    if (!ok && proto != req.end() && same_secret(proto->value(), options_.token)) {
      ok = true;
      protocol_echo = options_.token;
    }
    if (!ok) {
      refusal = "The access token is invalid";
      refusal_status = http::status::unauthorized;
    }
  }
  if (refusal) {
    Response res = error_response(req, refusal_status, *refusal);
    res.keep_alive(false);
    conn->stream.expires_after(kWriteTimeout);
    co_await http::async_write(conn->stream, res, kUseAwaitable);
    co_return;
  }

  conn->stream.expires_never();  // the WebSocket keeps its own timeouts
  conn->upgraded = true;
  auto s = std::make_shared<StreamSession>(std::move(conn->stream));
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = kStreamHandshakeTimeout;
  timeouts.idle_timeout = kStreamIdleTimeout;
  timeouts.keep_alive_pings = true;
  s->ws.set_option(timeouts);
  s->ws.set_option(websocket::stream_base::decorator([protocol_echo](websocket::response_type& r) {
    r.set(http::field::server, kServerName);
    if (!protocol_echo.empty()) r.set(http::field::sec_websocket_protocol, protocol_echo);
  }));
  s->ws.read_message_max(kMaxStreamMessageBytes);
  auto [ec] = co_await s->ws.async_accept(req, kUseAwaitable);
  if (ec) co_return;
  if (stream) s->streams.insert(*stream);
  ++stream_connects_total_;
  std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
  sessions_.push_back(s);
  log::info("stream connected", {{"open_streams", open_streams()}});
  asio::co_spawn(ioc_, stream_writer(s), log_failure("stream writer"));

  beast::flat_buffer buffer;
  for (;;) {
    auto [rec, n] = co_await s->ws.async_read(buffer, kUseAwaitable);
    if (rec) break;
    if (s->ws.got_text()) on_stream_text(*s, beast::buffers_to_string(buffer.data()));
    buffer.consume(buffer.size());
  }
  s->done = true;
  s->wake.cancel();
  log::info("stream closed", {{"open_streams", open_streams()}});
}

asio::awaitable<void> SandboxServer::Impl::stream_writer(std::shared_ptr<StreamSession> s) {
  while (!s->done) {
    if (s->closing) {
      co_await s->ws.async_close(websocket::close_code::going_away, kUseAwaitable);
      co_return;
    }
    if (s->queue.empty()) {
      s->wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->wake.async_wait(kUseAwaitable);
      continue;
    }
    std::string message = std::move(s->queue.front());
    s->queue.pop_front();
    s->ws.text(true);
    auto [ec, n] = co_await s->ws.async_write(asio::buffer(message), kUseAwaitable);
    if (ec) co_return;  // the read loop sees the same failure and ends the session
  }
}

// Mastodon's multiplexed protocol: {"type":"subscribe","stream":"user:notification"}.
void SandboxServer::Impl::on_stream_text(StreamSession& s, std::string_view text) {
  auto msg = parse_object(text);
  if (!msg) return;
  auto type = string_field(*msg, "type");
  auto stream = string_field(*msg, "stream");
  if (!type.ok() || !stream.ok() || !type.value() || !stream.value()) return;
  if (!known_stream(**stream)) {
    push(s, json::serialize(json::object{{"error", "Unknown stream type"}, {"status", 400}}));
    return;
  }
  if (**type == "subscribe") s.streams.insert(**stream);
  if (**type == "unsubscribe") s.streams.erase(**stream);
}

void SandboxServer::Impl::push(StreamSession& s, std::string message) {
  if (s.done || s.closing) return;
  if (s.queue.size() >= kMaxStreamQueue) {
    log::warn("stream consumer too far behind; disconnecting", {{"queued", s.queue.size()}});
    boost::system::error_code ignored;
    beast::get_lowest_layer(s.ws).socket().close(ignored);
    return;
  }
  s.queue.push_back(std::move(message));
  s.wake.cancel();
}

std::size_t SandboxServer::Impl::broadcast(uint64_t notification_id) {
  std::string payload = json::serialize(state_.notification_json(notification_id));
  std::size_t delivered = 0;
  for (auto& weak : sessions_) {
    auto s = weak.lock();
    if (!s || s->done || s->closing || s->streams.empty()) continue;
    for (const auto& name : s->streams) {
      json::object event{
          {"stream", json::array{name}}, {"event", "notification"}, {"payload", payload}};
      push(*s, json::serialize(event));
    }
    ++delivered;
  }
  return delivered;
}

std::size_t SandboxServer::Impl::drop_streams() {
  std::size_t dropped = 0;
  for (auto& weak : sessions_) {
    auto s = weak.lock();
    if (!s || s->done || s->closing) continue;
    s->closing = true;
    s->wake.cancel();
    ++dropped;
  }
  return dropped;
}

// A dropped stream counts as closed at once, though its close handshake may still run.
std::size_t SandboxServer::Impl::open_streams() {
  std::size_t n = 0;
  for (auto& weak : sessions_) {
    auto s = weak.lock();
    if (s && !s->done && !s->closing) ++n;
  }
  return n;
}

// ---- Mastodon API ----

SandboxServer::Impl::Outcome SandboxServer::Impl::handle(const Request& req) {
  auto [path, query] = split_target(req.target());
  if (path == "/_sandbox" || path.starts_with("/_sandbox/")) {
    return {handle_control(req, path)};
  }
  if (path == "/api/v1/streaming/health") {
    if (req.method() != http::verb::get) {
      return {error_response(req, http::status::method_not_allowed, "Method not allowed")};
    }
    return {make_response(http::status::ok, "OK", "text/plain; charset=utf-8", req.version(),
                          req.keep_alive())};
  }
  if (path == "/api/v1/streaming") {
    return {error_response(req, http::status::bad_request, "Expected a WebSocket upgrade")};
  }
  if (path.starts_with("/api/")) return handle_api(req, path, query);
  if (path.starts_with("/2/")) return handle_x(req, path);
  return {error_response(req, http::status::not_found, "Record not found")};
}

// The X API: queued faults first, as for /api/, then XApi.
SandboxServer::Impl::Outcome SandboxServer::Impl::handle_x(const Request& req,
                                                           std::string_view path) {
  XRequest xreq{req.method_string(),
                req.target(),
                req[http::field::host],
                req[http::field::authorization],
                req[http::field::content_type],
                req.body()};
  int64_t delay_ms = 0;
  auto fault = state_.take_fault(req.method_string(), path, &delay_ms);
  if (fault == FaultKind::kLostAnswer) {
    x_api_.handle(xreq);
    return {Response{}, Outcome::Action::kReset};
  }
  if (fault == FaultKind::kHang) return {Response{}, Outcome::Action::kHang};
  if (fault == FaultKind::kReset) return {Response{}, Outcome::Action::kReset};
  const bool delayed = fault == FaultKind::kDelay;
  XResponse out = fault && !delayed ? x_api_.fault_response(*fault, xreq) : x_api_.handle(xreq);
  Response res = make_response(static_cast<http::status>(out.status), std::move(out.body),
                               kJsonType, req.version(), req.keep_alive());
  for (auto& [name, value] : out.headers) res.set(name, value);
  Outcome outcome{std::move(res)};
  if (delayed) outcome.delay = std::chrono::milliseconds(delay_ms);
  return outcome;
}

SandboxServer::Impl::Outcome SandboxServer::Impl::handle_api(const Request& req,
                                                             std::string_view path,
                                                             std::string_view raw_query) {
  state_.count_api_request();
  // Faults come before anything else so a failed request leaves no trace in the state.
  int64_t delay_ms = 0;
  auto fault = state_.take_fault(req.method_string(), path, &delay_ms);
  if (fault == FaultKind::kDelay) {
    // The work now, the answer later: see hold_answer.
    auto query = parse_params(raw_query);
    Outcome out{query ? route_api(req, path, *query)
                      : error_response(req, http::status::bad_request, "Malformed query string")};
    out.delay = std::chrono::milliseconds(delay_ms);
    return out;
  }
  if (fault == FaultKind::kLostAnswer) {
    auto query = parse_params(raw_query);
    if (query) route_api(req, path, *query);
    return {Response{}, Outcome::Action::kReset};
  }
  if (fault) {
    RateDecision rate = state_.peek_rate();
    switch (*fault) {
      case FaultKind::kLostAnswer:
      case FaultKind::kDelay:
        break;  // handled above
      case FaultKind::kHang:
        return {Response{}, Outcome::Action::kHang};
      case FaultKind::kReset:
        return {Response{}, Outcome::Action::kReset};
      case FaultKind::kTooManyRequests: {
        // The budget "resets" a second later, so a test need not wait out a real window.
        Response res = error_response(req, http::status::too_many_requests, "Too many requests");
        RateDecision injected;
        injected.limit = rate.unlimited ? 300 : rate.limit;
        injected.reset_ms = now_ms() + kInjected429ResetMs;
        set_rate_headers(res, injected);
        return {std::move(res)};
      }
      case FaultKind::kInternalError: {
        Response res = error_response(req, http::status::internal_server_error,
                                      "We're sorry, but something went wrong on our end.");
        set_rate_headers(res, rate);
        return {std::move(res)};
      }
      case FaultKind::kUnavailable: {
        Response res =
            error_response(req, http::status::service_unavailable, "Service Unavailable");
        set_rate_headers(res, rate);
        return {std::move(res)};
      }
      case FaultKind::kMalformed: {
        Response res = make_response(http::status::ok, R"({"id":"1","content":"<p>trunc)",
                                     kJsonType, req.version(), req.keep_alive());
        set_rate_headers(res, rate);
        return {std::move(res)};
      }
    }
  }
  auto query = parse_params(raw_query);
  if (!query) {
    Response res = error_response(req, http::status::bad_request, "Malformed query string");
    set_rate_headers(res, state_.peek_rate());
    return {std::move(res)};
  }
  return {route_api(req, path, *query)};
}

Response SandboxServer::Impl::route_api(const Request& req, std::string_view path,
                                        const Params& query) {
  http::verb want = http::verb::get;
  enum class Route { kNone, kCredentials, kInstance, kNotifications, kPost, kShowStatus, kContext };
  Route route = Route::kNone;
  std::optional<uint64_t> status_id;
  if (path == "/api/v1/accounts/verify_credentials") {
    route = Route::kCredentials;
  } else if (path == "/api/v1/instance") {
    route = Route::kInstance;
  } else if (path == "/api/v1/notifications") {
    route = Route::kNotifications;
  } else if (path == "/api/v1/statuses") {
    route = Route::kPost;
    want = http::verb::post;
  } else if (path.starts_with("/api/v1/statuses/") && path.ends_with("/context") &&
             (status_id = parse_id(
                  path.substr(std::string_view("/api/v1/statuses/").size(),
                              path.size() - std::string_view("/api/v1/statuses/").size() - 8)))) {
    route = Route::kContext;
  } else if (path.starts_with("/api/v1/statuses/") &&
             (status_id = parse_id(path.substr(std::string_view("/api/v1/statuses/").size())))) {
    route = Route::kShowStatus;
  }
  if (route == Route::kNone) {
    Response res = error_response(req, http::status::not_found, "Record not found");
    set_rate_headers(res, state_.peek_rate());
    return res;
  }
  if (!token_ok(req, query)) {
    Response res = error_response(req, http::status::unauthorized, "The access token is invalid");
    res.set(http::field::www_authenticate, R"(Bearer realm="Doorkeeper", error="invalid_token", )"
                                           R"(error_description="The access token is invalid")");
    set_rate_headers(res, state_.peek_rate());
    return res;
  }
  RateDecision rate = state_.take_rate_token();
  Response res;
  if (!rate.allowed) {
    res = error_response(req, http::status::too_many_requests, "Too many requests");
  } else if (req.method() != want) {
    res = error_response(req, http::status::method_not_allowed, "Method not allowed");
  } else {
    switch (route) {
      case Route::kCredentials:
        res = json_response(req, http::status::ok, state_.credential_account_json());
        break;
      case Route::kInstance:
        res = json_response(req, http::status::ok, state_.instance_json());
        break;
      case Route::kNotifications:
        res = get_notifications(req, query);
        break;
      case Route::kPost:
        res = post_status(req, query);
        break;
      case Route::kShowStatus:
        res = state_.has_status(*status_id)
                  ? json_response(req, http::status::ok, state_.status_json(*status_id))
                  : error_response(req, http::status::not_found, "Record not found");
        break;
      case Route::kContext:
        res = state_.has_status(*status_id)
                  ? json_response(req, http::status::ok, state_.context_json(*status_id))
                  : error_response(req, http::status::not_found, "Record not found");
        break;
      case Route::kNone:
        break;
    }
  }
  res.set(http::field::cache_control, "private, no-store");
  set_rate_headers(res, rate);
  return res;
}

bool SandboxServer::Impl::token_ok(const Request& req, const Params& query) const {
  if (auto t = bearer_token(req)) return same_secret(*t, options_.token);
  if (auto t = param(query, "access_token")) return same_secret(*t, options_.token);
  return false;
}

// Mastodon builds Link URLs from its own domain; we use the Host the client used, so a client
// that follows them reaches this sandbox.
std::string SandboxServer::Impl::link_base(const Request& req) const {
  std::string_view host = req[http::field::host];
  bool sane =
      !host.empty() && host.size() < 256 && std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' ||
               c == ':' || c == '[' || c == ']';
      });
  return "http://" + std::string(sane ? host : state_.options().domain) + "/api/v1/notifications?";
}

Response SandboxServer::Impl::get_notifications(const Request& req, const Params& query) {
  NotificationQuery q;
  q.types = param_list(query, "types");
  q.exclude_types = param_list(query, "exclude_types");
  for (auto [name, field] : {std::pair{"max_id", &q.max_id}, std::pair{"since_id", &q.since_id},
                             std::pair{"min_id", &q.min_id}}) {
    auto v = param(query, name);
    if (!v || v->empty()) continue;
    *field = parse_id(*v);
    if (!*field) {
      return error_response(req, http::status::bad_request, std::string(name) + ": not an id");
    }
  }
  auto limit = param(query, "limit");
  if (limit && !limit->empty()) {
    auto n = parse_id(*limit);
    if (!n) return error_response(req, http::status::bad_request, "limit: not a number");
    q.limit = static_cast<std::size_t>(std::min<uint64_t>(*n, SandboxState::kMaxLimit));
  }
  std::vector<uint64_t> ids = state_.notification_page(q);
  json::array body;
  for (uint64_t id : ids) body.push_back(state_.notification_json(id));
  Response res = json_response(req, http::status::ok, body);
  if (!ids.empty()) {
    // Like Mastodon's pagination links: keep the filters and limit, swap the cursor.
    std::string extra;
    if (limit) extra += "&limit=" + pct_encode(*limit);
    for (const auto& t : q.types) extra += "&types%5B%5D=" + pct_encode(t);
    for (const auto& t : q.exclude_types) extra += "&exclude_types%5B%5D=" + pct_encode(t);
    std::string base = link_base(req);
    res.set(http::field::link,
            "<" + base + "max_id=" + std::to_string(ids.back()) + extra + ">; rel=\"next\", <" +
                base + "min_id=" + std::to_string(ids.front()) + extra + ">; rel=\"prev\"");
  }
  return res;
}

Response SandboxServer::Impl::post_status(const Request& req, const Params& query) {
  PostInput in;
  std::optional<std::string> status = param(query, "status");
  in.in_reply_to_id = param(query, "in_reply_to_id");
  in.visibility = param(query, "visibility");
  in.language = param(query, "language");
  std::string_view type = req[http::field::content_type];
  if (type.starts_with("application/json")) {
    auto body = parse_object(req.body());
    if (!body) return error_response(req, http::status::bad_request, "Malformed JSON body");
    auto text = string_field(*body, "status");
    auto reply = id_field(*body, "in_reply_to_id");
    auto visibility = string_field(*body, "visibility");
    auto language = string_field(*body, "language");
    for (const std::string* err :
         {text.ok() ? nullptr : &text.error(), reply.ok() ? nullptr : &reply.error(),
          visibility.ok() ? nullptr : &visibility.error(),
          language.ok() ? nullptr : &language.error()}) {
      if (err) return error_response(req, http::status::bad_request, *err);
    }
    if (*text) status = *text;
    if (*reply) in.in_reply_to_id = *reply;
    if (*visibility) in.visibility = *visibility;
    if (*language) in.language = *language;
  } else if (type.starts_with("application/x-www-form-urlencoded")) {
    auto form = parse_params(req.body());
    if (!form) return error_response(req, http::status::bad_request, "Malformed form body");
    for (auto [key, field] :
         {std::pair{"status", &status}, std::pair{"in_reply_to_id", &in.in_reply_to_id},
          std::pair{"visibility", &in.visibility}, std::pair{"language", &in.language}}) {
      if (auto v = param(*form, key)) *field = std::move(v);
    }
  } else if (!req.body().empty()) {
    return error_response(req, http::status::unsupported_media_type,
                          "Send application/x-www-form-urlencoded or application/json");
  }
  in.text = status.value_or("");
  if (auto key = req.find("Idempotency-Key"); key != req.end()) {
    in.idempotency_key = std::string(key->value());
  }
  PostOutcome out = state_.post_status(in);
  switch (out.kind) {
    case PostOutcome::Kind::kCreated:
    case PostOutcome::Kind::kReplayed:
      return json_response(req, http::status::ok, state_.status_json(out.status_id));
    case PostOutcome::Kind::kNotFound:
      return error_response(req, http::status::not_found, out.error);
    case PostOutcome::Kind::kInvalid:
      break;
  }
  return error_response(req, http::status::unprocessable_entity, out.error);
}

// ---- Control API ----

Response SandboxServer::Impl::handle_control(const Request& req, std::string_view path) {
  http::verb m = req.method();
  auto method_is = [&](http::verb v) { return m == v; };
  auto ok = [&](json::value v) { return json_response(req, http::status::ok, v); };
  auto wrong_method = [&] {
    return error_response(req, http::status::method_not_allowed, "Method not allowed");
  };
  if (path == "/_sandbox/mentions")
    return method_is(http::verb::post) ? post_mention(req) : wrong_method();
  if (path == "/_sandbox/posts") {
    return method_is(http::verb::get) ? ok(state_.posts_json()) : wrong_method();
  }
  if (path == "/_sandbox/faults") {
    if (method_is(http::verb::post)) return post_fault(req);
    if (!method_is(http::verb::delete_)) return wrong_method();
    state_.clear_faults();
    return ok(json::object{{"faults_pending", 0}});
  }
  if (path == "/_sandbox/stream/drop") {
    return method_is(http::verb::post) ? ok(json::object{{"dropped", drop_streams()}})
                                       : wrong_method();
  }
  if (path == "/_sandbox/redeliver") {
    return method_is(http::verb::post) ? post_redeliver(req) : wrong_method();
  }
  if (path == "/_sandbox/ratelimit") {
    return method_is(http::verb::post) ? post_ratelimit(req) : wrong_method();
  }
  if (path == "/_sandbox/stats") return method_is(http::verb::get) ? stats(req) : wrong_method();
  if (path.starts_with("/_sandbox/x/")) {
    XRequest xreq{req.method_string(), req.target(), req[http::field::host], {}, {}, req.body()};
    XResponse out = x_api_.handle_control(xreq, path);
    return make_response(static_cast<http::status>(out.status), std::move(out.body), kJsonType,
                         req.version(), req.keep_alive());
  }
  if (path == "/_sandbox/reset") {
    if (!method_is(http::verb::post)) return wrong_method();
    state_.reset();
    x_api_.reset();
    return ok(json::object{{"reset", true}});
  }
  return error_response(req, http::status::not_found, "Record not found");
}

Response SandboxServer::Impl::post_mention(const Request& req) {
  auto body = parse_object(req.body());
  if (!body) return error_response(req, http::status::bad_request, "body: expected a JSON object");
  auto author = string_field(*body, "author");
  auto text = string_field(*body, "text");
  auto visibility = string_field(*body, "visibility");
  auto language = string_field(*body, "language");
  auto reply = id_field(*body, "in_reply_to_id");
  auto bot = bool_field(*body, "bot");
  auto domain = string_field(*body, "domain");
  for (const std::string* err :
       {author.ok() ? nullptr : &author.error(), text.ok() ? nullptr : &text.error(),
        visibility.ok() ? nullptr : &visibility.error(),
        language.ok() ? nullptr : &language.error(), reply.ok() ? nullptr : &reply.error(),
        bot.ok() ? nullptr : &bot.error(), domain.ok() ? nullptr : &domain.error()}) {
    if (err) return error_response(req, http::status::bad_request, *err);
  }
  if (!*text) return error_response(req, http::status::bad_request, "text: required");
  MentionInput in;
  in.author = author->value_or("");
  in.text = **text;
  in.visibility = visibility->value_or("public");
  in.language = *language;
  in.in_reply_to_id = *reply;
  in.bot = *bot;
  in.domain = domain->value_or("");
  auto created = state_.add_mention(in);
  if (!created) return error_response(req, http::status::bad_request, created.error());
  std::size_t delivered = broadcast(created->notification_id);
  return json_response(req, http::status::ok,
                       json::object{{"id", std::to_string(created->status_id)},
                                    {"notification_id", std::to_string(created->notification_id)},
                                    {"streams_delivered", delivered}});
}

Response SandboxServer::Impl::post_fault(const Request& req) {
  auto body = parse_object(req.body());
  if (!body) return error_response(req, http::status::bad_request, "body: expected a JSON object");
  // "429" may come as a string or as a number.
  std::optional<std::string> kind_name;
  if (auto it = body->find("kind"); it != body->end() && it->value().is_int64()) {
    kind_name = std::to_string(it->value().as_int64());
  } else if (auto k = string_field(*body, "kind"); k.ok()) {
    kind_name = *k;
  }
  auto kind = kind_name ? parse_fault_kind(*kind_name) : std::nullopt;
  if (!kind) {
    return error_response(req, http::status::bad_request,
                          "kind: one of 429, 500, 503, hang, reset, malformed, lost_answer, delay");
  }
  auto count = int_field(*body, "count");
  auto prefix = string_field(*body, "path_prefix");
  auto delay = int_field(*body, "delay_ms");
  if (!count) return error_response(req, http::status::bad_request, count.error());
  if (!prefix) return error_response(req, http::status::bad_request, prefix.error());
  if (!delay) return error_response(req, http::status::bad_request, delay.error());
  Status added =
      state_.add_fault(*kind, count->value_or(1), prefix->value_or(""), delay->value_or(0));
  if (!added) return error_response(req, http::status::bad_request, added.error());
  return json_response(req, http::status::ok,
                       json::object{{"faults_pending", state_.faults_pending()}});
}

Response SandboxServer::Impl::post_redeliver(const Request& req) {
  auto body = parse_object(req.body());
  if (!body) return error_response(req, http::status::bad_request, "body: expected a JSON object");
  auto id_text = id_field(*body, "notification_id");
  if (!id_text || !*id_text) {
    return error_response(req, http::status::bad_request, "notification_id: required");
  }
  auto id = parse_id(**id_text);
  if (!id || !state_.has_notification(*id)) {
    return error_response(req, http::status::not_found, "Record not found");
  }
  return json_response(req, http::status::ok, json::object{{"delivered", broadcast(*id)}});
}

Response SandboxServer::Impl::post_ratelimit(const Request& req) {
  auto body = parse_object(req.body());
  if (!body) return error_response(req, http::status::bad_request, "body: expected a JSON object");
  auto limit = int_field(*body, "limit");
  auto window = int_field(*body, "window_seconds");
  if (!limit || !*limit || **limit < 0) {
    return error_response(req, http::status::bad_request, "limit: a non-negative integer");
  }
  // A window of a year is already far beyond any test; the cap keeps the ms product sane.
  constexpr int64_t kMaxWindowSeconds = 366LL * 86'400;
  int64_t seconds = state_.options().rate_window_ms / 1000;
  if (!window) return error_response(req, http::status::bad_request, window.error());
  if (*window) seconds = **window;
  if (seconds < 1 || seconds > kMaxWindowSeconds) {
    return error_response(req, http::status::bad_request, "window_seconds: between 1 and 31622400");
  }
  state_.set_rate_limit(**limit, seconds * 1000);
  return json_response(req, http::status::ok,
                       json::object{{"limit", **limit}, {"window_seconds", seconds}});
}

Response SandboxServer::Impl::stats(const Request& req) {
  const Stats& s = state_.stats();
  json::object body{{"api_requests", s.api_requests},
                    {"posts", s.posts},
                    {"idempotent_replays", s.idempotent_replays},
                    {"rejected_posts", s.rejected_posts},
                    {"stream_connections", open_streams()},
                    {"stream_connects_total", stream_connects_total_},
                    {"faults_pending", state_.faults_pending()},
                    {"answers_held", answers_held_},
                    {"answers_delayed", answers_delayed_}};
  for (const auto& kv : x_api_.stats_json()) body.insert(kv);
  return json_response(req, http::status::ok, body);
}

// ---- Public face ----

SandboxServer::SandboxServer(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
SandboxServer::~SandboxServer() = default;
Status SandboxServer::listen() {
  return impl_->listen();
}
uint16_t SandboxServer::port() const {
  return impl_->port();
}
void SandboxServer::run() {
  impl_->ioc_.run();
}
void SandboxServer::stop() {
  impl_->stop();
}
boost::asio::io_context& SandboxServer::io_context() {
  return impl_->ioc_;
}

}  // namespace sotong::sandbox
