// HookServer: the departments' HTTP endpoint (HTTP/1.1, Beast). Routes are in hook_parse.hpp;
// this file owns sockets, limits and the store round trips. Every answer is JSON, errors as
// {"error": "..."}; a failed request changes nothing.
// Limits, from the config: body size (413 above it), header size (431), a deadline for a whole
// request from its first byte and a shorter or longer one for a kept-alive connection waiting
// for its next (slow and idle clients are dropped), a cap on open connections (503 past it),
// and a request rate per client address (429 with Retry-After). With a certificate and key in
// the config it speaks HTTPS only. Error bodies never carry exception text or internals.
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
  // Loads the TLS certificate and key when configured, then binds; returns the port actually
  // bound (useful with port 0). Errors name the address or the TLS file at fault.
  Result<uint16_t> listen(const std::string& address, uint16_t port);
  boost::asio::awaitable<void> run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sotong
