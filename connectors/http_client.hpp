// HttpClient: an HTTP/1.1 client over one kept-alive connection (TLS for https), for the
// connectors. Requests are made one at a time by the owner (no pipelining); a broken
// connection is reopened on the next request. Every request has a deadline covering connect,
// TLS handshake, write and read. TLS verifies the peer against the system store, with SNI and
// host-name verification. Name resolution runs on Asio's resolver thread, not the loop.
// Errors: network failures and timeouts are Result errors; any HTTP status is a response.
// Thread rules: use from the executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/util/result.hpp"

struct ssl_st;
using SSL = ssl_st;

namespace boost::asio::ssl {
class context;
}

namespace sotong {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. /api/v1/notifications?limit=80
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The first header of that (lower-case) name, or "".
  std::string header(std::string_view name) const;
};

// The parts of a base URL the clients need.
struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path_prefix;  // without trailing slash
};
Result<Endpoint> parse_endpoint(const std::string& base_url);

// Sets SNI on a client TLS connection (OpenSSL's macro for it needs an old-style cast).
bool set_sni(SSL* ssl, const std::string& host);

// One TLS context for the process: system trust store, TLS 1.2 or newer.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context();
// The same, also trusting the CA certificate(s) in `extra_ca_pem` (the system store still
// counts). Errors: a PEM OpenSSL cannot read.
Result<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    const std::string& extra_ca_pem);

// An HTTP proxy reached with CONNECT.
struct ProxyConfig {
  std::string host;
  std::string port;
  // The Proxy-Authorization value ("Basic ...") from the URL's user:password, or "".
  // A secret: never logged, never part of an error.
  std::string authorization;
};

// Reads an environment variable: nullopt when unset. A seam so tests need no real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
EnvLookup process_environment();

// Whether `host` matches the no_proxy list `no_proxy`: comma-separated names, each matching
// itself and its subdomains (a leading "." or "*." changes nothing), "*" for every host, IP
// literals and CIDR ranges (10.0.0.0/8); case-insensitive, any ":port" ignored.
bool no_proxy_matches(std::string_view host, std::string_view no_proxy);

// The proxy for `endpoint`: https_proxy (or HTTPS_PROXY) for TLS endpoints, http_proxy (or
// HTTP_PROXY) for plain ones, none when unset, empty or when no_proxy (NO_PROXY) matches the
// host. The lower-case name wins when both are set, as in curl. A proxy URL is
// [http://][user:password@]host[:port], port 80 by default. Errors: a proxy URL that cannot
// be used (without its credentials in the message).
Result<std::optional<ProxyConfig>> proxy_for(const Endpoint& endpoint, const EnvLookup& env);

class HttpClient {
 public:
  // Responses larger than this are refused: no platform answer we use comes near it.
  static constexpr std::size_t kMaxResponseBytes = 8 * 1024 * 1024;

  // Takes its proxy from the process environment (proxy_for).
  HttpClient(boost::asio::any_io_executor ex, Endpoint endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, std::chrono::milliseconds timeout);
  // Takes its proxy from `env`, read here once. A proxy setting that cannot be used makes
  // every request fail with that message.
  HttpClient(boost::asio::any_io_executor ex, Endpoint endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, std::chrono::milliseconds timeout,
             const EnvLookup& env);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `req` must outlive the returned awaitable (co_await it at once, on a named request).
  boost::asio::awaitable<Result<HttpResponse>> request(const HttpRequest& req);
  // Called with every request's final result (monitoring counts the failures).
  void on_result(std::function<void(const Result<HttpResponse>&)> f) { on_result_ = std::move(f); }
  // Closes the connection; an outstanding request fails with operation_aborted.
  void close();
  const Endpoint& endpoint() const { return endpoint_; }
  // The proxy requests go through, if any.
  const std::optional<ProxyConfig>& proxy() const { return proxy_; }

 private:
  struct Conn;
  boost::asio::awaitable<Result<HttpResponse>> attempt(const HttpRequest& req);
  boost::asio::awaitable<Status> open(Conn& c);
  boost::asio::awaitable<Status> open_tunnel(Conn& c);
  boost::asio::any_io_executor ex_;
  Endpoint endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::chrono::milliseconds timeout_;
  std::optional<ProxyConfig> proxy_;
  std::string proxy_error_;  // non-empty: the proxy setting is unusable
  std::shared_ptr<Conn> conn_;
  std::function<void(const Result<HttpResponse>&)> on_result_;
};

}  // namespace sotong
