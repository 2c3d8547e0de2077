#include "daemon/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fstream>
#include <vector>

#include "connectors/mastodon/mastodon_connector.hpp"
#include "connectors/x/x_connector.hpp"
#include "daemon/hook_server.hpp"
#include "daemon/sender.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;

namespace {

// How long a graceful stop may take before the loop is stopped anyway: a post in flight
// is bounded by the request timeout, so this is a backstop, not the normal path.
constexpr std::chrono::seconds kStopDeadline{30};

auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("{} failed: {}", what, ex.what());
    }
  };
}

Status write_port_file(const std::filesystem::path& p, uint16_t port) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return Error{"cannot write " + tmp.string()};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  if (ec) return Error{"cannot rename " + tmp.string() + ": " + ec.message()};
  return Status::Ok();
}

}  // namespace

int run_daemon(const DaemonOptions& options, std::shared_ptr<const Runtime> runtime) {
  const Config& cfg = runtime->config;
  auto store = Store::open(cfg.store_path, cfg.ticket_prefix);
  if (!store) {
    spdlog::critical("{}", store.error());
    return 1;
  }
  spdlog::info("store {} open (schema version {})", cfg.store_path.string(),
               Store::schema_version_latest());
  StoreThread store_thread(std::move(*store));

  asio::io_context ioc(1);
  auto ex = ioc.get_executor();
  auto tls = make_client_tls_context();
  Pipeline pipeline(store_thread, runtime);

  std::vector<std::unique_ptr<Connector>> connectors;
  std::vector<std::unique_ptr<Sender>> senders;
  SenderOptions sopt{cfg.sender_initial_backoff, cfg.sender_max_backoff};
  for (const auto& acc : cfg.accounts) {
    if (acc.platform == "x")
      connectors.push_back(std::make_unique<x::XConnector>(ex, acc, tls));
    else
      connectors.push_back(std::make_unique<mastodon::MastodonConnector>(ex, acc, tls));
    pipeline.add_connector(connectors.back().get());
    senders.push_back(std::make_unique<Sender>(ex, store_thread, *connectors.back(), sopt));
  }
  pipeline.on_queued([&](const std::string& account) {
    for (std::size_t i = 0; i < connectors.size(); ++i)
      if (connectors[i]->account() == account) senders[i]->wake();
  });

  HookServer hook(ex, store_thread, pipeline, [&] {
    for (const auto& c : connectors)
      if (!c->ready()) return false;
    return true;
  });
  auto port = hook.listen(cfg.hook_listen, cfg.hook_port);
  if (!port) {
    spdlog::critical("{}", port.error());
    return 1;
  }
  spdlog::info("hook listening on {}:{}", cfg.hook_listen, *port);
  if (!options.hook_port_file.empty()) {
    if (auto s = write_port_file(options.hook_port_file, *port); !s) {
      spdlog::critical("{}", s.error());
      return 1;
    }
  }

  int running_tasks = 0;
  int exit_code = 0;
  std::function<void(const char*)> begin_stop;
  // A task that ends with an exception has broken an invariant: stop, exit non-zero, and let
  // systemd start a fresh process (everything is durable in the store).
  auto track = [&](std::string what) {
    ++running_tasks;
    return [&, f = log_failure(std::move(what))](std::exception_ptr e) {
      --running_tasks;
      f(e);
      if (e) {
        exit_code = 1;
        begin_stop("a task failed");
      }
    };
  };
  for (std::size_t i = 0; i < connectors.size(); ++i) {
    asio::co_spawn(ex, connectors[i]->run(pipeline),
                   track("connector " + connectors[i]->account()));
    asio::co_spawn(ex, senders[i]->run(), track("sender " + connectors[i]->account()));
  }
  asio::co_spawn(ex, hook.run(), track("hook"));

  bool stopping = false;
  asio::steady_timer stop_timer(ex);
  std::function<void()> wait_for_tasks = [&] {
    if (running_tasks == 0) {
      ioc.stop();
      return;
    }
    stop_timer.expires_after(std::chrono::milliseconds(20));
    stop_timer.async_wait([&](boost::system::error_code) { wait_for_tasks(); });
  };
  asio::steady_timer deadline(ex);
  // A post in flight ends within its request timeout; the deadline is a backstop beyond it.
  auto stop_deadline = kStopDeadline;
  for (const auto& acc : cfg.accounts)
    stop_deadline = std::max(stop_deadline,
                             std::chrono::duration_cast<std::chrono::seconds>(acc.request_timeout) +
                                 std::chrono::seconds(5));
  begin_stop = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    spdlog::info("stopping ({}): finishing posts in flight", why);
    sd_notify(0, "STOPPING=1");
    for (auto& c : connectors) c->stop();
    for (auto& s : senders) s->stop();
    hook.stop();
    deadline.expires_after(stop_deadline);
    deadline.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      spdlog::warn("graceful stop took longer than {} s; stopping now", stop_deadline.count());
      ioc.stop();
    });
    wait_for_tasks();
  };

  asio::thread_pool reload_thread(1);
  asio::signal_set signals(ex, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        sd_notify(0, "RELOADING=1");
        // Reading files is blocking work: off the loop, the result handed back to it.
        asio::post(reload_thread, [&] {
          auto rt = load_runtime(options.config_path);
          asio::post(ex, [&, rt = std::move(rt)] {
            if (rt) {
              pipeline.set_runtime(*rt);
              spdlog::info("reloaded rules and templates ({} rules)", (*rt)->rules.size());
            } else {
              spdlog::error("reload refused, keeping the running configuration: {}", rt.error());
            }
            sd_notify(0, "READY=1");
            wait_signal();
          });
        });
        return;
      }
      begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  };
  wait_signal();

  sd_notify(0, "READY=1\nSTATUS=reading mentions");
  spdlog::info("sotongd ready: {} account(s), {} department(s)", connectors.size(),
               cfg.departments.size());
  ioc.run();
  reload_thread.join();
  store_thread.stop();
  spdlog::info("sotongd stopped");
  return exit_code;
}

}  // namespace sotong
