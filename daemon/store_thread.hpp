// StoreThread: owns the Store and the one thread that touches it, so the network loop never
// blocks on disk. Coroutines on the loop call `co_await store.run([](Store& s) { ... })`; the
// callable runs on the store thread, and the coroutine resumes on its own executor with the
// result. Calls run one at a time in submission order.
// Lifetime: outlives every coroutine that uses it; stop() joins the thread after pending work.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <type_traits>

#include "daemon/store.hpp"

namespace sotong {

class StoreThread {
 public:
  explicit StoreThread(std::unique_ptr<Store> store);
  ~StoreThread();
  StoreThread(const StoreThread&) = delete;
  StoreThread& operator=(const StoreThread&) = delete;

  // Callers pass a named callable (`co_await store.run(std::move(job))`), never a lambda
  // temporary: GCC 12 destroys such temporaries twice inside a co_await expression.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<std::decay_t<F>&, Store&>> run(F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&, Store&>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr, R)>(
        Initiation<R>{this}, boost::asio::use_awaitable, std::forward<F>(f));
  }

  // Waits for queued work, then joins the thread. The Store closes with the StoreThread.
  void stop();

 private:
  template <class R>
  struct Initiation {
    StoreThread* self;
    template <class Handler, class F>
    void operator()(Handler handler, F f) const {
      boost::asio::post(
          self->pool_, [self = self, h = std::move(handler), fn = std::move(f)]() mutable {
            std::exception_ptr error;
            R result{};
            try {
              result = fn(*self->store_);
            } catch (...) {
              error = std::current_exception();
            }
            // Resume the caller on its own executor, never on the store thread.
            auto ex = boost::asio::get_associated_executor(h);
            boost::asio::post(ex, [h = std::move(h), error, r = std::move(result)]() mutable {
              std::move(h)(error, std::move(r));
            });
          });
    }
  };

  std::unique_ptr<Store> store_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace sotong
