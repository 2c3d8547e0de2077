// HookServer: the departments' HTTP endpoint (HTTP/1.1, Beast). Routes are in hook_parse.hpp;
// this file owns sockets, limits and the store round trips. Every answer is JSON, errors as
// {"error": "..."}; a failed request changes nothing.
// Limits: body size from the config (413 above it), header size, a read deadline per request
// (slow clients are dropped), and a cap on open connections.
// Thread rules: on the network loop; store work goes through StoreThread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/hook_public.hpp"
#include "daemon/metrics.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/store_thread.hpp"

namespace sotong {

class HookServer {
 public:
  // `accounts` says each account's connector state (/healthz, /readyz); `metrics` may be
  // null (no /metrics, nothing counted). Both outlive the server.
  HookServer(boost::asio::any_io_executor ex, StoreThread& store, Pipeline& pipeline,
             std::function<AccountStates()> accounts, Metrics* metrics);
  ~HookServer();
  // Binds; returns the port actually bound (useful with port 0).
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  boost::asio::awaitable<void> run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sotong
