// StoreThread: owns the Store and the one thread that touches it, so the network loop never
// blocks on disk. Coroutines on the loop call `co_await store.run([](Store& s) { ... })`; the
// callable runs on the store thread, and the coroutine resumes on its own executor with the
// result. Calls run one at a time in submission order.
// Lifetime: outlives every coroutine that uses it; stop() joins the thread after pending work.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
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

  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&, Store&>> run(F f) {
    using R = std::invoke_result_t<F&, Store&>;
    co_return co_await boost::asio::co_spawn(
        pool_.get_executor(),
        [this, fn = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return fn(*store_); },
        boost::asio::use_awaitable);
  }

  // Waits for queued work, then joins the thread. The Store closes with the StoreThread.
  void stop();

 private:
  std::unique_ptr<Store> store_;
  boost::asio::thread_pool pool_{1};
};

}  // namespace sotong
