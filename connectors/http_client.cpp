#include "connectors/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <optional>

namespace sotong {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

Result<Endpoint> parse_endpoint(const std::string& base_url) {
  auto u = boost::urls::parse_absolute_uri(base_url);
  if (!u) return Error{"invalid URL " + base_url};
  Endpoint e;
  if (u->scheme() == "https")
    e.tls = true;
  else if (u->scheme() != "http")
    return Error{"URL scheme must be http or https: " + base_url};
  e.host = std::string(u->host_address());
  if (e.host.empty()) return Error{"URL has no host: " + base_url};
  e.port = u->has_port() ? std::string(u->port()) : (e.tls ? "443" : "80");
  e.path_prefix = std::string(u->encoded_path());
  while (!e.path_prefix.empty() && e.path_prefix.back() == '/') e.path_prefix.pop_back();
  return e;
}

bool set_sni(SSL* ssl, const std::string& host) {
  return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(host.c_str())) == 1;
}

std::shared_ptr<asio::ssl::context> make_client_tls_context() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_default_verify_paths();
  ctx->set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return ctx;
}

struct HttpClient::Conn {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }
};

HttpClient::HttpClient(asio::any_io_executor ex, Endpoint endpoint,
                       std::shared_ptr<asio::ssl::context> tls, std::chrono::milliseconds timeout)
    : ex_(std::move(ex)), endpoint_(std::move(endpoint)), tls_(std::move(tls)), timeout_(timeout) {}

HttpClient::~HttpClient() = default;

void HttpClient::close() {
  if (conn_) {
    beast::error_code ec;
    conn_->tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    conn_->tcp().close();
  }
  conn_.reset();
}

asio::awaitable<Result<HttpResponse>> HttpClient::request(const HttpRequest& req) {
  // A kept-alive connection may have been closed by the server while idle: one fresh retry,
  // but only when the request could not have been received (write failed, or nothing read).
  bool reused = conn_ != nullptr;
  auto r = co_await attempt(req);
  if (!r && reused && r.error().rfind("stale:", 0) == 0) {
    close();
    r = co_await attempt(req);
  }
  if (!r && r.error().rfind("stale:", 0) == 0) co_return Error{r.error().substr(6)};
  co_return r;
}

asio::awaitable<Result<HttpResponse>> HttpClient::attempt(const HttpRequest& req) {
  beast::error_code ec;
  auto tok = asio::redirect_error(use_awaitable, ec);
  // A local owner: close() may drop conn_ while an operation on it is still pending.
  std::shared_ptr<Conn> c = conn_;
  if (!c) {
    c = std::make_shared<Conn>();
    if (endpoint_.tls)
      c->tls.emplace(ex_, *tls_);
    else
      c->plain.emplace(ex_);
    asio::ip::tcp::resolver resolver(ex_);
    // The resolver has no deadline of its own: a timer cancels a lookup that hangs.
    asio::steady_timer resolve_deadline(ex_);
    resolve_deadline.expires_after(timeout_);
    resolve_deadline.async_wait([&resolver](boost::system::error_code e) {
      if (!e) resolver.cancel();
    });
    auto results = co_await resolver.async_resolve(endpoint_.host, endpoint_.port, tok);
    resolve_deadline.cancel();
    if (ec) co_return Error{"resolve " + endpoint_.host + ": " + ec.message()};
    c->tcp().expires_after(timeout_);
    co_await c->tcp().async_connect(results, tok);
    if (ec)
      co_return Error{"connect " + endpoint_.host + ":" + endpoint_.port + ": " + ec.message()};
    if (c->tls) {
      if (!set_sni(c->tls->native_handle(), endpoint_.host))
        co_return Error{"TLS: cannot set SNI for " + endpoint_.host};
      c->tls->set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
      co_await c->tls->async_handshake(asio::ssl::stream_base::client, tok);
      if (ec) co_return Error{"TLS handshake with " + endpoint_.host + ": " + ec.message()};
    }
    conn_ = c;
  }
  http::request<http::string_body> hreq;
  hreq.method_string(req.method);
  hreq.target(endpoint_.path_prefix + req.target);
  hreq.version(11);
  // RFC 9110: the port belongs in Host unless it is the scheme's default (OAuth 1.0a
  // signatures cover it too).
  const bool default_port = endpoint_.port == (endpoint_.tls ? "443" : "80");
  hreq.set(http::field::host,
           default_port ? endpoint_.host : endpoint_.host + ":" + endpoint_.port);
  hreq.set(http::field::user_agent, "sotong/0.1");
  for (const auto& [k, v] : req.headers) hreq.set(k, v);
  hreq.body() = req.body;
  hreq.prepare_payload();
  hreq.keep_alive(true);

  c->tcp().expires_after(timeout_);
  if (c->tls)
    co_await http::async_write(*c->tls, hreq, tok);
  else
    co_await http::async_write(*c->plain, hreq, tok);
  if (ec) {
    close();
    co_return Error{"stale:write to " + endpoint_.host + ": " + ec.message()};
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  parser.header_limit(64 * 1024);
  if (c->tls)
    co_await http::async_read(*c->tls, c->buffer, parser, tok);
  else
    co_await http::async_read(*c->plain, c->buffer, parser, tok);
  if (ec) {
    bool nothing_read = !parser.got_some();
    std::string what = ec == beast::error::timeout ? "timed out" : ec.message();
    close();
    // A reset before any byte of the answer on a reused connection is the idle-close race.
    bool stale = nothing_read && (ec == http::error::end_of_stream ||
                                  ec == asio::error::connection_reset || ec == asio::error::eof);
    co_return Error{std::string(stale ? "stale:" : "") + "read from " + endpoint_.host + ": " +
                    what};
  }
  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& ch : name)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  out.body = std::move(res.body());
  if (!res.keep_alive()) close();
  co_return out;
}

}  // namespace sotong
