#include "webhook_receiver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "harness.hpp"

namespace sotong::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http_ns = beast::http;
using tcp = asio::ip::tcp;

struct WebhookReceiver::Server {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
};

namespace {

// One connection: sotongd keeps it alive between deliveries, and several departments
// connect at once, so each has its own coroutine.
asio::awaitable<void> session(
    tcp::socket socket, std::function<WebhookReceiver::Answer(WebhookReceiver::Request)> next) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  beast::error_code ec;
  auto tok = asio::redirect_error(asio::use_awaitable, ec);
  for (;;) {
    http_ns::request<http_ns::string_body> req;
    co_await http_ns::async_read(stream, buffer, req, tok);
    if (ec) break;
    WebhookReceiver::Request r;
    r.target = std::string(req.target());
    r.body = req.body();
    for (const auto& f : req) {
      std::string n(f.name_string());
      for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[n] = std::string(f.value());
    }
    const WebhookReceiver::Answer a = next(std::move(r));
    if (a.status == WebhookReceiver::Answer::kDrop) break;
    http_ns::response<http_ns::string_body> res{static_cast<http_ns::status>(a.status), 11};
    res.set(http_ns::field::content_type, "application/json");
    if (!a.retry_after.empty()) res.set(http_ns::field::retry_after, a.retry_after);
    res.body() = a.status < 300 ? "{\"ok\":true}" : "{\"error\":\"scripted\"}";
    res.keep_alive(!a.close && req.keep_alive());
    res.prepare_payload();
    co_await http_ns::async_write(stream, res, tok);
    if (ec || !res.keep_alive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream.socket().close(ec);
}

asio::awaitable<void> accept_loop(
    tcp::acceptor& acceptor,
    std::function<WebhookReceiver::Answer(WebhookReceiver::Request)> next) {
  for (;;) {
    beast::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), session(std::move(s), next), asio::detached);
  }
}

}  // namespace

std::string WebhookReceiver::Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

WebhookReceiver::WebhookReceiver() : server_(std::make_unique<Server>()) {
  port_ = server_->acceptor.local_endpoint().port();
  auto next = [this](Request r) { return this->next(std::move(r)); };
  asio::co_spawn(server_->ioc, accept_loop(server_->acceptor, next), asio::detached);
  thread_ = std::thread([this] { server_->ioc.run(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_->ioc.stop();
  thread_.join();
}

std::string WebhookReceiver::url(const std::string& target) const {
  return "http://127.0.0.1:" + std::to_string(port_) + target;
}

void WebhookReceiver::script(std::vector<Answer> answers) {
  std::lock_guard lock(mu_);
  script_.assign(answers.begin(), answers.end());
}

void WebhookReceiver::set_default(int status) {
  std::lock_guard lock(mu_);
  default_status_ = status;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool WebhookReceiver::wait_for(const std::function<bool(const std::vector<Request>&)>& done,
                               std::chrono::milliseconds timeout) {
  return wait_until([&] { return done(requests()); }, timeout, std::chrono::milliseconds(20));
}

WebhookReceiver::Answer WebhookReceiver::next(Request r) {
  std::lock_guard lock(mu_);
  Answer a;
  a.status = default_status_;
  if (!script_.empty()) {
    a = script_.front();
    script_.pop_front();
  }
  r.answered = a.status;
  r.at = std::chrono::steady_clock::now();
  requests_.push_back(std::move(r));
  return a;
}

}  // namespace sotong::test_support
