// SandboxServer: the HTTP/1.1 and WebSocket front of sotong-sandbox. It serves the subset of
// the Mastodon REST and streaming API that sotong uses (JSON shapes from Mastodon's docs), the
// X API v2 subset (XApi, under /2/) and the /_sandbox control API that tests and demos use to
// inject mentions and faults (sandbox/README.md lists them all).
//
// Ownership and threads: the server owns its io_context, the listening socket, every
// connection and the SandboxState. All work runs on the one thread that calls run(); stop()
// may be called from any thread. Errors: listen() reports a bind failure as a Status; a broken
// invariant inside a connection is logged once and closes only that connection.
#pragma once

// GCC 12 at -O2 reports -Wnull-dereference inside Asio's executor comparison, a false
// positive in a system header that inlining surfaces; the ci preset makes it an error.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop
#include <cstdint>
#include <memory>
#include <string>

#include "daemon/util/result.hpp"
#include "sandbox/sandbox_state.hpp"
#include "sandbox/x_state.hpp"

namespace sotong::sandbox {

struct ServerOptions {
  std::string listen = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks a free port
  std::string token = "sandbox-token";
  // Host name in rendered uri/url fields; empty means "<listen>:<port>".
  std::string domain;
  StateOptions state;
  XOptions x;  // the X API v2 part (sandbox/x_api.hpp)
};

class SandboxServer {
 public:
  explicit SandboxServer(ServerOptions options);
  ~SandboxServer();
  SandboxServer(const SandboxServer&) = delete;
  SandboxServer& operator=(const SandboxServer&) = delete;

  // Binds and starts accepting; port() is valid afterwards.
  Status listen();
  uint16_t port() const;
  // Serves until stop(); returns once the io_context has stopped.
  void run();
  // Closes the listener and every connection, then stops run(). Thread-safe.
  void stop();
  boost::asio::io_context& io_context();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sotong::sandbox
