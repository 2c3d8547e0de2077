// One piece with its header, past 400 lines: choosing the proxy, opening the connection
// (directly or through its tunnel), TLS and the request itself share one connection's state.
#include "connectors/http_client.hpp"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
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
#include <cstdlib>
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

Result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(
    const std::string& extra_ca_pem) {
  auto ctx = make_client_tls_context();
  beast::error_code ec;
  ctx->add_certificate_authority(asio::buffer(extra_ca_pem), ec);
  if (ec) return Error{"extra CA certificate: " + ec.message()};
  return ctx;
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

namespace {

// A proxy's answer to CONNECT is a status line and a few headers; more is not a proxy.
constexpr std::size_t kMaxProxyAnswerBytes = 16 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the IP address `host` lies in the CIDR range `range` ("10.0.0.0/8", "fd00::/8").
bool in_range(const asio::ip::address& host, const std::string& range) {
  beast::error_code ec;
  if (host.is_v4()) {
    auto net = asio::ip::make_network_v4(range, ec);
    return !ec &&
           asio::ip::network_v4(host.to_v4(), net.prefix_length()).canonical() == net.canonical();
  }
  auto net = asio::ip::make_network_v6(range, ec);
  return !ec &&
         asio::ip::network_v6(host.to_v6(), net.prefix_length()).canonical() == net.canonical();
}

// Host-name (or IP address) verification by OpenSSL itself, so that a failure keeps its reason
// ("hostname mismatch") instead of a bare "certificate verify failed".
bool verify_peer_name(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  return X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

// host:port for a request line or Host header; an IPv6 literal needs its brackets back.
std::string authority(const std::string& host, const std::string& port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::optional<ProxyConfig>> parse_proxy_url(const std::string& var, std::string url) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  auto u = boost::urls::parse_absolute_uri(url);
  // The URL may hold a password: messages name the variable, never its value.
  if (!u) return Error{var + " is not a valid proxy URL"};
  if (u->scheme() != "http")
    return Error{var +
                 ": only http:// proxies are supported (the tunnel to the server is still "
                 "TLS), not " +
                 std::string(u->scheme()) + "://"};
  ProxyConfig p;
  p.host = std::string(u->host_address());
  if (p.host.empty()) return Error{var + " has no proxy host"};
  p.port = u->has_port() ? std::string(u->port()) : "80";
  if (u->has_userinfo()) p.authorization = "Basic " + base64(u->user() + ":" + u->password());
  return std::optional<ProxyConfig>(std::move(p));
}

}  // namespace

bool no_proxy_matches(std::string_view host_in, std::string_view no_proxy) {
  std::string host = lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  while (!host.empty() && host.back() == '.') host.pop_back();
  beast::error_code ec;
  const auto host_ip = asio::ip::make_address(host, ec);
  const bool host_is_ip = !ec;
  while (!no_proxy.empty()) {
    const auto comma = no_proxy.find(',');
    std::string entry = lower(trim(no_proxy.substr(0, comma)));
    no_proxy.remove_prefix(comma == std::string_view::npos ? no_proxy.size() : comma + 1);
    if (entry == "*") return true;
    if (entry.find('/') != std::string::npos) {
      if (host_is_ip && in_range(host_ip, entry)) return true;
      continue;
    }
    if (!entry.empty() && entry.front() == '[') {
      entry = entry.substr(1, entry.find(']') - 1);  // [v6]:port
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      entry.resize(entry.find(':'));  // name:port or v4:port
    }
    if (host_is_ip) {
      const auto entry_ip = asio::ip::make_address(entry, ec);
      if (!ec && entry_ip == host_ip) return true;
      continue;  // "0.0.1" is not a domain suffix of 127.0.0.1
    }
    if (entry.rfind("*.", 0) == 0) entry.erase(0, 1);
    while (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    while (!entry.empty() && entry.back() == '.') entry.pop_back();
    if (entry.empty()) continue;
    if (host == entry) return true;
    if (host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

Result<std::optional<ProxyConfig>> proxy_for(const Endpoint& endpoint, const EnvLookup& env) {
  // The first of the names that is set and non-empty: its name and value.
  auto first_set =
      [&env](std::initializer_list<const char*> names) -> std::pair<std::string, std::string> {
    for (const char* name : names) {
      auto v = env(name);
      if (v && !v->empty()) return {name, *v};
    }
    return {};
  };
  auto [var, url] = endpoint.tls ? first_set({"https_proxy", "HTTPS_PROXY"})
                                 : first_set({"http_proxy", "HTTP_PROXY"});
  if (url.empty()) return std::optional<ProxyConfig>();
  if (no_proxy_matches(endpoint.host, first_set({"no_proxy", "NO_PROXY"}).second))
    return std::optional<ProxyConfig>();
  return parse_proxy_url(var, url);
}

struct HttpClient::Conn {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& tcp() { return plain ? *plain : beast::get_lowest_layer(*tls); }
};

HttpClient::HttpClient(asio::any_io_executor ex, Endpoint endpoint,
                       std::shared_ptr<asio::ssl::context> tls, std::chrono::milliseconds timeout)
    : HttpClient(std::move(ex), std::move(endpoint), std::move(tls), timeout,
                 process_environment()) {}

HttpClient::HttpClient(asio::any_io_executor ex, Endpoint endpoint,
                       std::shared_ptr<asio::ssl::context> tls, std::chrono::milliseconds timeout,
                       const EnvLookup& env)
    : ex_(std::move(ex)), endpoint_(std::move(endpoint)), tls_(std::move(tls)), timeout_(timeout) {
  auto proxy = proxy_for(endpoint_, env);
  if (proxy)
    proxy_ = std::move(*proxy);
  else
    proxy_error_ = proxy.error();
}

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
  if (!r && r.error().rfind("stale:", 0) == 0) r = Error{r.error().substr(6)};
  if (on_result_) on_result_(r);
  co_return r;
}

// Connects `c` to the endpoint (through the proxy when there is one) and does the TLS
// handshake; one deadline covers it all.
asio::awaitable<Status> HttpClient::open(Conn& c) {
  beast::error_code ec;
  auto tok = asio::redirect_error(use_awaitable, ec);
  const std::string& host = proxy_ ? proxy_->host : endpoint_.host;
  const std::string& port = proxy_ ? proxy_->port : endpoint_.port;
  const std::string what = (proxy_ ? "proxy " : "") + authority(host, port);
  asio::ip::tcp::resolver resolver(ex_);
  // The resolver has no deadline of its own: a timer cancels a lookup that hangs.
  asio::steady_timer resolve_deadline(ex_);
  resolve_deadline.expires_after(timeout_);
  resolve_deadline.async_wait([&resolver](boost::system::error_code e) {
    if (!e) resolver.cancel();
  });
  auto results = co_await resolver.async_resolve(host, port, tok);
  resolve_deadline.cancel();
  if (ec) co_return Error{"resolve " + what + ": " + ec.message()};
  c.tcp().expires_after(timeout_);
  co_await c.tcp().async_connect(results, tok);
  if (ec)
    co_return Error{"connect " + what + ": " +
                    (ec == beast::error::timeout ? std::string("timed out") : ec.message())};
  if (proxy_) {
    auto tunnel = co_await open_tunnel(c);
    if (!tunnel) co_return tunnel;
  }
  if (c.tls) {
    SSL* ssl = c.tls->native_handle();
    if (!set_sni(ssl, endpoint_.host) || !verify_peer_name(ssl, endpoint_.host))
      co_return Error{"TLS: cannot set the peer name " + endpoint_.host};
    co_await c.tls->async_handshake(asio::ssl::stream_base::client, tok);
    if (ec) {
      std::string why = ec == beast::error::timeout ? std::string("timed out") : ec.message();
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) why += std::string(": ") + X509_verify_cert_error_string(verify);
      co_return Error{"TLS handshake with " + endpoint_.host + ": " + why};
    }
  }
  co_return Status::Ok();
}

// Asks the proxy, already connected, for a tunnel to the endpoint (RFC 9110, 9.3.6).
asio::awaitable<Status> HttpClient::open_tunnel(Conn& c) {
  beast::error_code ec;
  auto tok = asio::redirect_error(use_awaitable, ec);
  const std::string proxy = "proxy " + authority(proxy_->host, proxy_->port);
  const std::string target = authority(endpoint_.host, endpoint_.port);
  http::request<http::empty_body> connect{http::verb::connect, target, 11};
  connect.set(http::field::host, target);
  connect.set(http::field::user_agent, "sotong/0.1");
  if (!proxy_->authorization.empty())
    connect.set(http::field::proxy_authorization, proxy_->authorization);
  co_await http::async_write(c.tcp(), connect, tok);
  if (ec) co_return Error{"write to " + proxy + ": " + ec.message()};
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a CONNECT answer has no body; after a 2xx the bytes are the tunnel's
  parser.header_limit(kMaxProxyAnswerBytes);
  co_await http::async_read(c.tcp(), c.buffer, parser, tok);
  if (ec)
    co_return Error{"read from " + proxy + ": " +
                    (ec == beast::error::timeout ? std::string("timed out") : ec.message())};
  const auto& res = parser.get();
  // Any 2xx opens the tunnel (RFC 9110, 9.3.6).
  if (res.result_int() / 100 != 2) {
    std::string reason(res.reason().substr(0, 80));
    std::string hint = res.result_int() == 407
                           ? std::string(" (check the user:password in the proxy URL)")
                           : std::string();
    co_return Error{proxy + " refused CONNECT to " + target + ": " +
                    std::to_string(res.result_int()) + " " + reason + hint};
  }
  // TLS starts with the client: a proxy that already sent bytes is not a clean tunnel. For
  // plain HTTP the bytes stay in the buffer and the response parser reads them.
  if (c.tls && c.buffer.size() != 0)
    co_return Error{proxy + " sent data before the TLS handshake to " + target};
  co_return Status::Ok();
}

asio::awaitable<Result<HttpResponse>> HttpClient::attempt(const HttpRequest& req) {
  beast::error_code ec;
  auto tok = asio::redirect_error(use_awaitable, ec);
  // A local owner: close() may drop conn_ while an operation on it is still pending.
  std::shared_ptr<Conn> c = conn_;
  if (!c) {
    if (!proxy_error_.empty()) co_return Error{proxy_error_};
    c = std::make_shared<Conn>();
    if (endpoint_.tls)
      c->tls.emplace(ex_, *tls_);
    else
      c->plain.emplace(ex_);
    auto opened = co_await open(*c);
    if (!opened) co_return Error{opened.error()};
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
