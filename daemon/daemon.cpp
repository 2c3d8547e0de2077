// run_daemon: wires the store thread, connectors, senders, the hook and the notifier onto one
// event loop, and speaks systemd's protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING).
// One file, past 450 lines, because start, reload and stop share the loop's local state.
#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "connectors/mastodon/mastodon_connector.hpp"
#include "connectors/x/x_connector.hpp"
#include "daemon/hook_server.hpp"
#include "daemon/leadership.hpp"
#include "daemon/notifier.hpp"
#include "daemon/sender.hpp"
#include "daemon/util/file_watch.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;

namespace {

// How long a graceful stop may take before the loop is stopped anyway: a post in flight
// is bounded by the request timeout, so this is a backstop, not the normal path.
constexpr std::chrono::seconds kStopDeadline{30};

// How often STATUS= is refreshed for `systemctl status`.
constexpr std::chrono::seconds kStatusEvery{10};

std::string status_line(const StoreGauges& g, std::size_t accounts) {
  int64_t open = 0;
  for (const auto& o : g.open_tickets) open += o.count;
  return fmt::format(
      "STATUS=reading mentions: {} account(s); {} open ticket(s), {} repl(ies) waiting, {} "
      "notification(s) waiting",
      accounts, open, g.outbox_pending, g.notifications_pending);
}

auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::critical("task failed", {{"task", what}, {"error", ex.what()}});
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

// This process's name on the outbox rows it claims: host and pid tell an admin which one.
std::string instance_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  // Random bytes too: containers may share a host name and a pid.
  unsigned char r[4] = {};
  RAND_bytes(r, sizeof r);
  return fmt::format("{}:{}:{:02x}{:02x}{:02x}{:02x}", host, ::getpid(), r[0], r[1], r[2], r[3]);
}

// One sotongd per SQLite store: a second one would read the same mentions and post from the
// same outbox. The lock is the kernel's, so it goes with the process, even after kill -9.
Result<int> lock_sqlite_store(const std::string& store) {
  const std::string path = store + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Error{"another sotongd is using the store " + store + " (" + path +
                 " is locked); several instances need a PostgreSQL store"};
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    // The pid is for people reading the file; the lock is what counts.
  }
  return fd;
}

}  // namespace

int run_daemon(const DaemonOptions& options, std::shared_ptr<const Runtime> runtime) {
  const Config& cfg = runtime->config;
  const bool postgres = db::is_postgres_url(cfg.store);
  int lock_fd = -1;
  if (!postgres) {
    auto fd = lock_sqlite_store(cfg.store);
    if (!fd) {
      log::critical("cannot start", {{"error", fd.error()}});
      return 1;
    }
    lock_fd = *fd;
  }
  auto store = Store::open(cfg.store, cfg.ticket_prefix);
  if (!store) {
    log::critical("cannot open the store", {{"error", store.error()}});
    return 1;
  }
  log::info("store open", {{"store", postgres ? "PostgreSQL" : cfg.store},
                           {"schema_version", Store::schema_version_latest()}});
  StoreThread store_thread(std::move(*store),
                           StoreThreadOptions{64, std::chrono::seconds(cfg.store_retry_seconds)});
  const std::string instance = instance_name();

  asio::io_context ioc(1);
  auto ex = ioc.get_executor();
  auto tls = make_client_tls_context();
  Metrics metrics;
  Pipeline pipeline(store_thread, runtime, &metrics);

  // One desk per account: its connector and sender for the current term of leadership. On
  // SQLite this instance leads every account from the start; on PostgreSQL, Leadership says
  // which ones (a connector stays built either way: the hook's replies are fitted by it).
  struct Desk {
    const AccountConfig* config = nullptr;
    SenderOptions sender_options;
    std::unique_ptr<Connector> connector;
    std::unique_ptr<Sender> sender;
    bool leading = false;
    bool ran = false;  // a term has run: the next one needs fresh objects
    std::vector<std::unique_ptr<Connector>> retired_connectors;  // until their tasks end
    std::vector<std::unique_ptr<Sender>> retired_senders;
  };
  auto make_connector = [&](const AccountConfig& acc) -> std::unique_ptr<Connector> {
    std::unique_ptr<Connector> c;
    if (acc.platform == "x")
      c = std::make_unique<x::XConnector>(ex, acc, tls);
    else
      c = std::make_unique<mastodon::MastodonConnector>(ex, acc, tls);
    c->set_observer(&metrics);
    return c;
  };
  std::vector<Desk> desks;
  desks.reserve(cfg.accounts.size());
  for (const auto& acc : cfg.accounts) {
    Desk d;
    d.config = &acc;
    d.sender_options = {cfg.sender_initial_backoff, cfg.sender_max_backoff, acc.posts_per_hour};
    d.sender_options.claimant = instance;
    // A claim covers one post, bounded by the request timeout (twice: the HTTP client may
    // resend once), with room for recording it.
    d.sender_options.claim_lease =
        std::chrono::duration_cast<std::chrono::milliseconds>(acc.request_timeout * 2) +
        std::chrono::seconds(10);
    d.connector = make_connector(acc);
    d.sender = std::make_unique<Sender>(ex, store_thread, *d.connector, d.sender_options, &metrics);
    pipeline.add_connector(d.connector.get());
    metrics.add_account(acc.platform, acc.name);
    desks.push_back(std::move(d));
  }
  auto desk_for = [&](const std::string& account) -> Desk* {
    for (auto& d : desks)
      if (d.config->name == account) return &d;
    return nullptr;
  };
  pipeline.on_queued([&](const std::string& account) {
    if (Desk* d = desk_for(account); d && d->leading) d->sender->wake();
  });

  // Every instance delivers notifications: claims keep two from delivering one row.
  Notifier notifier(
      ex, store_thread, [&pipeline] { return pipeline.runtime(); }, tls, instance + "/notify");
  pipeline.on_notification_queued([&] { notifier.wake(); });

  auto account_states = [&] {
    AccountStates states;
    for (const auto& d : desks)
      states[d.config->name] = !d.leading             ? ConnectorState::kStandby
                               : d.connector->ready() ? ConnectorState::kReady
                                                      : ConnectorState::kStarting;
    return states;
  };
  HookServer hook(ex, store_thread, pipeline, account_states, &metrics);
  auto port = hook.listen(cfg.hook_listen, cfg.hook_port);
  if (!port) {
    log::critical("cannot listen for the hook", {{"error", port.error()}});
    return 1;
  }
  log::info("hook listening", {{"address", cfg.hook_listen}, {"port", *port}});
  if (!options.hook_port_file.empty()) {
    if (auto s = write_port_file(options.hook_port_file, *port); !s) {
      log::critical("cannot write the hook port file", {{"error", s.error()}});
      return 1;
    }
  }

  std::unique_ptr<FileWatch> watch;  // set up below, stopped first when stopping
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
  bool stopping = false;
  int terms = 0;
  auto lead = [&](Desk& d) {
    if (d.leading || stopping) return;
    if (d.ran) {
      d.retired_connectors.push_back(std::move(d.connector));
      d.retired_senders.push_back(std::move(d.sender));
      d.connector = make_connector(*d.config);
      d.sender =
          std::make_unique<Sender>(ex, store_thread, *d.connector, d.sender_options, &metrics);
      pipeline.add_connector(d.connector.get());
    }
    d.ran = true;
    d.leading = true;
    // Each term claims under a name of its own: a new term never takes over a row the last
    // one may still be posting.
    d.sender->set_claimant(instance + "/" + std::to_string(++terms));
    asio::co_spawn(ex, d.connector->run(pipeline), track("connector " + d.config->name));
    asio::co_spawn(ex, d.sender->run(), track("sender " + d.config->name));
  };
  auto step_down = [&](Desk& d) {
    if (!d.leading) return;
    d.leading = false;
    // The post in flight finishes; its claim keeps the next leader off that row meanwhile.
    d.connector->stop();
    d.sender->stop();
  };
  std::unique_ptr<Leadership> leadership;
  if (postgres) {
    std::vector<std::string> names;
    for (const auto& acc : cfg.accounts) names.push_back(acc.name);
    leadership = std::make_unique<Leadership>(
        Leadership::Options{cfg.store, names, std::chrono::milliseconds(1000)},
        [&](const std::string& account, bool leading) {
          asio::post(ex, [&, account, leading] {
            if (Desk* d = desk_for(account)) leading ? lead(*d) : step_down(*d);
          });
        },
        [&](const std::string& account) {
          asio::post(ex, [&, account] {
            if (Desk* d = desk_for(account); d && d->leading) d->sender->wake();
          });
        });
    leadership->start();
  } else {
    for (auto& d : desks) lead(d);
  }
  asio::co_spawn(ex, hook.run(), track("hook"));
  asio::co_spawn(ex, notifier.run(), track("notifier"));

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
  asio::steady_timer watchdog(ex);      // see feed_watchdog below
  asio::steady_timer status_timer(ex);  // see report_status below
  // A post in flight ends within its request timeout; the deadline is a backstop beyond it.
  auto stop_deadline = kStopDeadline;
  for (const auto& acc : cfg.accounts)
    stop_deadline = std::max(stop_deadline,
                             std::chrono::duration_cast<std::chrono::seconds>(acc.request_timeout) +
                                 std::chrono::seconds(5));
  stop_deadline =
      std::max(stop_deadline, cfg.notifications.request_timeout * 2 + std::chrono::seconds(5));
  begin_stop = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    log::info("stopping: finishing posts in flight", {{"signal", why}});
    if (watch) watch->stop();
    sd_notify(0, "STOPPING=1");
    watchdog.cancel();
    status_timer.cancel();
    // Free the locks first: another instance takes over while this one finishes.
    if (leadership) leadership->stop();
    for (auto& d : desks) step_down(d);
    notifier.stop();
    hook.stop();
    deadline.expires_after(stop_deadline);
    deadline.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      log::warn("graceful stop took too long; stopping now",
                {{"deadline_s", stop_deadline.count()}});
      ioc.stop();
    });
    wait_for_tasks();
  };

  // Reloads run one at a time off the loop (reading files blocks); a request during one
  // runs once more after it, so the last change always wins.
  asio::thread_pool reload_thread(1);
  bool reloading = false;
  bool reload_again = false;
  std::function<void(std::string)> request_reload = [&](std::string why) {
    if (stopping) return;
    if (reloading) {
      reload_again = true;
      return;
    }
    reloading = true;
    sd_notify(0, "RELOADING=1");
    asio::post(reload_thread, [&, why = std::move(why)] {
      const auto started = std::chrono::steady_clock::now();
      auto rt = load_runtime(options.config_path);
      const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count() /
                      1000.0;
      asio::post(ex, [&, why, ms, rt = std::move(rt)] {
        if (rt) {
          const auto& old = pipeline.runtime()->config;
          const auto& now = (*rt)->config;
          // Connectors, senders, the store and the hook socket are built once; changing them
          // needs a restart, and saying so beats silently running the old ones.
          bool same_accounts = old.accounts.size() == now.accounts.size();
          for (std::size_t i = 0; same_accounts && i < old.accounts.size(); ++i)
            same_accounts = old.accounts[i].name == now.accounts[i].name &&
                            old.accounts[i].base_url == now.accounts[i].base_url;
          if (!same_accounts || old.store != now.store || old.hook_listen != now.hook_listen ||
              old.hook_port != now.hook_port || old.hook_tls_cert_file != now.hook_tls_cert_file ||
              old.hook_tls_key_file != now.hook_tls_key_file)
            log::warn(
                "accounts, store, hook address or TLS files changed: they take effect at restart");
          pipeline.set_runtime(*rt);
          metrics.reload(true);
          log::configure(*log::level_from(now.log_level), *log::format_from(now.log_format));
          log::info("reloaded", {{"cause", why},
                                 {"ms", ms},
                                 {"rules", (*rt)->rules.size()},
                                 {"departments", now.departments.size()}});
        } else {
          // One event per error, file:line:column first, then the outcome.
          std::string_view errors = rt.error();
          while (!errors.empty()) {
            const auto nl = errors.find('\n');
            log::error("configuration error", {{"error", errors.substr(0, nl)}});
            errors = nl == std::string_view::npos ? std::string_view() : errors.substr(nl + 1);
          }
          log::error("reload refused: keeping the running configuration", {{"cause", why}});
          metrics.reload(false);
        }
        sd_notify(0, "READY=1");
        reloading = false;
        if (reload_again) {
          reload_again = false;
          request_reload("changed again during a reload");
        }
      });
    });
  };

  if (cfg.watch_files) {
    watch = std::make_unique<FileWatch>(
        [&] { asio::post(ex, [&] { request_reload("files changed"); }); });
    const auto config_name = options.config_path.filename().string();
    auto config_dir = options.config_path.parent_path();
    if (config_dir.empty()) config_dir = ".";
    Status st = watch->watch(config_dir,
                             [config_name](std::string_view name) { return name == config_name; });
    std::vector<std::filesystem::path> dirs{cfg.rules_dir, cfg.templates_dir};
    if (!cfg.holidays_dir.empty()) dirs.push_back(cfg.holidays_dir);
    for (const auto& acc : cfg.accounts)
      if (!acc.templates_dir.empty()) dirs.push_back(acc.templates_dir);
    for (const auto& d : dirs)
      if (st) st = watch->watch(d);
    if (st) st = watch->start();
    if (!st) {
      log::warn("not watching files; reload with SIGHUP", {{"error", st.error()}});
      watch.reset();
    }
  }

  asio::signal_set signals(ex, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        request_reload("SIGHUP");
        wait_signal();
        return;
      }
      begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  };
  wait_signal();

  // The watchdog is fed from the event loop itself: a loop that is stuck stops feeding it,
  // and systemd restarts sotongd (everything is durable in the store).
  uint64_t watchdog_usec = 0;
  std::function<void()> feed_watchdog = [&] {
    sd_notify(0, "WATCHDOG=1");
    watchdog.expires_after(std::chrono::microseconds(watchdog_usec / 2));
    watchdog.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !stopping) feed_watchdog();
    });
  };
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) feed_watchdog();

  sd_notify(0, fmt::format("READY=1\nSTATUS=reading mentions: {} account(s), {} department(s)",
                           desks.size(), cfg.departments.size())
                   .c_str());
  // `systemctl status` shows the desk's counts, read from the store off the loop.
  std::function<void(std::chrono::seconds)> report_status = [&](std::chrono::seconds after) {
    status_timer.expires_after(after);
    status_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            auto job = [](Store& s) { return s.gauges(); };
            auto g = co_await store_thread.run(std::move(job));
            if (stopping) co_return;
            if (g) sd_notify(0, status_line(*g, desks.size()).c_str());
            report_status(kStatusEvery);
          },
          track("status"));
    });
  };
  if (std::getenv("NOTIFY_SOCKET") != nullptr) report_status(std::chrono::seconds(1));
  log::info("sotongd ready", {{"accounts", desks.size()}, {"departments", cfg.departments.size()}});
  ioc.run();
  if (leadership) leadership->stop();
  if (watch) watch->stop();
  reload_thread.join();
  store_thread.stop();
  if (lock_fd >= 0) ::close(lock_fd);
  log::info("sotongd stopped", {{"exit_code", exit_code}});
  return exit_code;
}

}  // namespace sotong
