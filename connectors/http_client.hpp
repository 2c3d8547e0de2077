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
#include <memory>
#include <string>
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

class HttpClient {
 public:
  // Responses larger than this are refused: no platform answer we use comes near it.
  static constexpr std::size_t kMaxResponseBytes = 8 * 1024 * 1024;

  HttpClient(boost::asio::any_io_executor ex, Endpoint endpoint,
             std::shared_ptr<boost::asio::ssl::context> tls, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `req` must outlive the returned awaitable (co_await it at once, on a named request).
  boost::asio::awaitable<Result<HttpResponse>> request(const HttpRequest& req);
  // Closes the connection; an outstanding request fails with operation_aborted.
  void close();
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Conn;
  boost::asio::awaitable<Result<HttpResponse>> attempt(const HttpRequest& req);
  boost::asio::any_io_executor ex_;
  Endpoint endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<Conn> conn_;
};

}  // namespace sotong
