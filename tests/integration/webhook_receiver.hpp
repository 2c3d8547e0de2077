// WebhookReceiver: a department's webhook for the notification tests, a small Beast server on
// 127.0.0.1 in a thread of its own. It answers requests from a script (a status, or a dropped
// connection), then with its default status, and records every request it read, with when it
// came and what it was answered. Thread-safe: the test reads while the server thread writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sotong::test_support {

class WebhookReceiver {
 public:
  struct Answer {
    static constexpr int kDrop = -1;  // close the connection without answering
    int status = 200;
    std::string retry_after;  // a Retry-After header, if set
    bool close = false;       // Connection: close after the answer
  };
  struct Request {
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int answered = 0;  // the status sent; Answer::kDrop when dropped
    std::chrono::steady_clock::time_point at;
    std::string header(const std::string& name) const;
  };

  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& target) const;
  // The answers to the next requests, in order; then the default.
  void script(std::vector<Answer> answers);
  void set_default(int status);
  std::vector<Request> requests() const;
  // Waits until `done` holds for the requests so far; false on timeout.
  bool wait_for(const std::function<bool(const std::vector<Request>&)>& done,
                std::chrono::milliseconds timeout);

 private:
  struct Server;
  Answer next(Request r);  // records the request with the answer it gets

  mutable std::mutex mu_;
  std::deque<Answer> script_;
  int default_status_ = 200;
  std::vector<Request> requests_;
  uint16_t port_ = 0;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace sotong::test_support
