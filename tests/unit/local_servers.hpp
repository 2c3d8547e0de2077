// LocalServers: an origin server over TLS, one in plain HTTP and an HTTP CONNECT proxy, all on
// 127.0.0.1 and all coroutines on one io_context, with the HttpClient under test on the same
// context. For tests only: one request per connection, no limits, errors end the connection.
// Ownership: the io_context is a member and everything network lives in its coroutines.
#pragma once

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/http_client.hpp"
#include "tests/unit/throwaway_ca.hpp"

namespace sotong::tls_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

struct ServerLog {
  std::vector<std::string> targets;        // request targets the origin server answered
  std::vector<std::string> connect_lines;  // "CONNECT host:port" lines the proxy saw
  std::vector<std::string> proxy_authorizations;
};

inline tcp::acceptor listen_on_loopback(asio::io_context& io) {
  return tcp::acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
}

// A loopback port nobody listens on (any more).
inline std::string listen_on_loopback_port_then_close() {
  asio::io_context io;
  auto acceptor = listen_on_loopback(io);
  return std::to_string(acceptor.local_endpoint().port());
}

// Answers one request per connection on `stream` (already handshaken if TLS).
template <class Stream>
asio::awaitable<void> answer_one(Stream& stream, std::shared_ptr<ServerLog> log,
                                 std::string greeting) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  co_await http::async_read(stream, buf, req, tok);
  if (ec) co_return;
  log->targets.emplace_back(req.target());
  http::response<http::string_body> res{http::status::ok, 11};
  res.body() = greeting;
  res.prepare_payload();
  res.keep_alive(false);
  co_await http::async_write(stream, res, tok);
}

inline asio::awaitable<void> serve_tls(tcp::acceptor acceptor, std::shared_ptr<ssl::context> ctx,
                                       std::shared_ptr<ServerLog> log) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  for (;;) {
    tcp::socket sock = co_await acceptor.async_accept(tok);
    if (ec) co_return;
    ssl::stream<tcp::socket> stream(std::move(sock), *ctx);
    co_await stream.async_handshake(ssl::stream_base::server, tok);
    if (ec) continue;
    co_await answer_one(stream, log, "hello over tls");
  }
}

inline asio::awaitable<void> serve_plain(tcp::acceptor acceptor, std::shared_ptr<ServerLog> log) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  for (;;) {
    tcp::socket sock = co_await acceptor.async_accept(tok);
    if (ec) co_return;
    co_await answer_one(sock, log, "hello in plain text");
  }
}

inline asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from,
                                  std::shared_ptr<tcp::socket> to) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  std::array<char, 4096> data{};
  for (;;) {
    const std::size_t n = co_await from->async_read_some(asio::buffer(data), tok);
    if (ec) break;
    co_await asio::async_write(*to, asio::buffer(data.data(), n), tok);
    if (ec) break;
  }
  to->shutdown(tcp::socket::shutdown_send, ec);
}

// A CONNECT proxy: records each CONNECT, answers 407 unless the Proxy-Authorization equals
// `required_auth` (when not empty), then connects to 127.0.0.1 at the requested port whatever
// the host, and splices bytes both ways.
inline asio::awaitable<void> serve_proxy(tcp::acceptor acceptor, std::string required_auth,
                                         std::shared_ptr<ServerLog> log) {
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  const std::string denied =
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n"
      "Content-Length: 6\r\nConnection: close\r\n\r\ndenied";
  const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
  for (;;) {
    auto client = std::make_shared<tcp::socket>(co_await acceptor.async_accept(tok));
    if (ec) co_return;
    beast::flat_buffer buf;
    http::request_parser<http::empty_body> parser;
    co_await http::async_read(*client, buf, parser, tok);
    if (ec) continue;
    const auto& req = parser.get();
    const std::string target(req.target());
    log->connect_lines.push_back(std::string(req.method_string()) + " " + target);
    const std::string auth(req[http::field::proxy_authorization]);
    log->proxy_authorizations.push_back(auth);
    if (!required_auth.empty() && auth != required_auth) {
      co_await asio::async_write(*client, asio::buffer(denied), tok);
      continue;
    }
    const auto colon = target.rfind(':');
    if (req.method() != http::verb::connect || colon == std::string::npos) continue;
    const auto port = static_cast<unsigned short>(std::stoi(target.substr(colon + 1)));
    auto upstream = std::make_shared<tcp::socket>(acceptor.get_executor());
    const tcp::endpoint to(asio::ip::make_address("127.0.0.1"), port);
    co_await upstream->async_connect(to, tok);
    if (ec) continue;
    co_await asio::async_write(*client, asio::buffer(established), tok);
    if (ec) continue;
    if (buf.size() != 0) co_await asio::async_write(*upstream, buf.data(), tok);
    asio::co_spawn(acceptor.get_executor(), pump(client, upstream), asio::detached);
    asio::co_spawn(acceptor.get_executor(), pump(upstream, client), asio::detached);
  }
}

inline asio::awaitable<Result<HttpResponse>> fetch(asio::any_io_executor ex, Endpoint ep,
                                                   std::shared_ptr<ssl::context> tls,
                                                   EnvLookup env) {
  HttpClient client(ex, std::move(ep), std::move(tls), std::chrono::seconds(2), env);
  HttpRequest req;
  req.target = "/hello";
  auto r = co_await client.request(req);
  co_return r;
}

// Servers on one io_context with the client under test; each test runs one request.
class LocalServers {
 public:
  LocalServers() : log_(std::make_shared<ServerLog>()) {}

  std::string start_tls_server(const Issued& cert) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain(asio::buffer(cert.cert_pem));
    ctx->use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
    auto acceptor = listen_on_loopback(io_);
    auto port = std::to_string(acceptor.local_endpoint().port());
    asio::co_spawn(io_, serve_tls(std::move(acceptor), ctx, log_), asio::detached);
    return port;
  }

  std::string start_plain_server() {
    auto acceptor = listen_on_loopback(io_);
    auto port = std::to_string(acceptor.local_endpoint().port());
    asio::co_spawn(io_, serve_plain(std::move(acceptor), log_), asio::detached);
    return port;
  }

  std::string start_proxy(std::string required_auth = "") {
    auto acceptor = listen_on_loopback(io_);
    auto port = std::to_string(acceptor.local_endpoint().port());
    asio::co_spawn(io_, serve_proxy(std::move(acceptor), std::move(required_auth), log_),
                   asio::detached);
    return port;
  }

  // One GET /hello to `ep`; at most a few seconds.
  Result<HttpResponse> get(Endpoint ep, std::shared_ptr<ssl::context> tls, EnvLookup env) {
    std::optional<Result<HttpResponse>> out;
    asio::co_spawn(io_, fetch(io_.get_executor(), std::move(ep), std::move(tls), std::move(env)),
                   [&](std::exception_ptr e, Result<HttpResponse> r) {
                     out = e ? Result<HttpResponse>(Error{"exception in the client"}) : r;
                     io_.stop();
                   });
    io_.run_for(std::chrono::seconds(4));
    io_.restart();
    if (!out) return Error{"the test's request did not finish"};
    return *out;
  }

  const ServerLog& log() const { return *log_; }

 private:
  std::shared_ptr<ServerLog> log_;
  asio::io_context io_;  // last: destroyed first, with the coroutines that use the rest
};

}  // namespace sotong::tls_test
