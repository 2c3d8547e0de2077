// Doorbell: a wait that work arriving (ring) or stopping (close) cuts short, for the loops
// that drain a queue (Sender, Notifier). A ring while nobody waits is kept for the next wait.
// Thread rules: on its executor only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace sotong {

class Doorbell {
 public:
  explicit Doorbell(boost::asio::any_io_executor ex) : timer_(ex) {}
  void ring() {
    rung_ = true;
    timer_.cancel();
  }
  void close() {
    closed_ = true;
    timer_.cancel();
  }
  // Up to `d`; at once when rung since the last wait, or closed.
  boost::asio::awaitable<void> wait(std::chrono::milliseconds d) {
    if (rung_ || closed_) {
      rung_ = false;
      co_return;
    }
    timer_.expires_after(d);
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    rung_ = false;
  }

 private:
  boost::asio::steady_timer timer_;
  bool rung_ = false;
  bool closed_ = false;
};

}  // namespace sotong
