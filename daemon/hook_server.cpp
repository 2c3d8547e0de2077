#include "daemon/hook_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "daemon/hook_parse.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {
// More than a city's departments and their tools would ever hold open at once.
constexpr int kMaxConnections = 256;
// Time for a client to send a whole request; slower ones are dropped.
constexpr std::chrono::seconds kRequestDeadline{30};
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

using Response = http::response<http::string_body>;

Response json_response(int status, std::string body) {
  Response r{static_cast<http::status>(status), 11};
  r.set(http::field::content_type, "application/json; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

Response error(int status, std::string_view msg) {
  return json_response(status, hook::error_json(msg));
}

// Seconds a department's system waits before retrying while the store refuses writes: a few
// of the store thread's tries, so a short outage is over by then.
std::string retry_after(const Config& cfg) {
  return std::to_string(std::max(5, cfg.store_retry_seconds));
}

Response store_unavailable(const Config& cfg, std::string_view msg) {
  Response r = error(503, msg);
  r.set(http::field::retry_after, retry_after(cfg));
  return r;
}

}  // namespace

struct HookServer::Impl {
  asio::any_io_executor ex;
  StoreThread& store;
  Pipeline& pipeline;
  std::function<bool()> ready;
  tcp::acceptor acceptor;
  int connections = 0;
  bool stopping = false;

  Impl(asio::any_io_executor e, StoreThread& s, Pipeline& p, std::function<bool()> r)
      : ex(e), store(s), pipeline(p), ready(std::move(r)), acceptor(e) {}

  asio::awaitable<Response> handle(const http::request<http::string_body>& req) {
    auto route = hook::match_route(req.method_string(), req.target());
    using K = hook::Route::Kind;
    if (route.kind == K::kNotFound) co_return error(404, "not found");
    if (route.kind == K::kBadMethod) co_return error(405, "method not allowed");
    if (route.kind == K::kHealth) {
      auto job = [](Store& s) { return s.ping(); };
      auto store_ok = co_await store.run(std::move(job));
      json::object o;
      const bool connectors_ready = ready();
      const bool store_writes = store_ok.ok() && store.healthy();
      const bool ok = store_writes && connectors_ready;
      o["status"] = ok ? "ok" : "degraded";
      o["store"] = store_writes ? "ok" : "failing";
      o["connectors"] = connectors_ready ? "ready" : "starting";
      Response r = json_response(ok ? 200 : 503, json::serialize(o));
      if (!store_writes) r.set(http::field::retry_after, retry_after(pipeline.runtime()->config));
      co_return r;
    }
    auto rt = pipeline.runtime();
    auto token = hook::bearer_token(req[http::field::authorization]);
    std::optional<std::string> dept;
    if (token) dept = hook::department_for_token(rt->config, *token);
    if (!dept) co_return error(401, "missing or invalid bearer token");

    if (route.kind == K::kGetTicket) {
      auto job = [n = route.ticket](Store& s) { return s.ticket(n); };
      auto t = co_await store.run(std::move(job));
      if (!t) co_return store_unavailable(rt->config, "store unavailable");
      if (!*t) co_return error(404, "no such ticket");
      if ((*t)->department != *dept)
        co_return error(403, "this ticket belongs to another department");
      co_return json_response(200, json::serialize(hook::ticket_json(**t)));
    }
    if (route.kind == K::kListTickets) {
      auto f = hook::parse_list_query(route.query, *dept);
      if (!f) co_return error(400, f.error());
      auto job = [filter = *f](Store& s) { return s.list_tickets(filter); };
      auto rows = co_await store.run(std::move(job));
      if (!rows) co_return store_unavailable(rt->config, "store unavailable");
      json::array arr;
      for (const auto& t : *rows) arr.push_back(hook::ticket_json(t));
      json::object o;
      o["tickets"] = std::move(arr);
      if (static_cast<int>(rows->size()) == f->limit) o["next"] = std::to_string(rows->back().id);
      co_return json_response(200, json::serialize(o));
    }
    if (route.kind == K::kTicketEvents) {
      auto job =
          [n = route.ticket](
              Store& s) -> Result<std::pair<std::optional<TicketRow>, std::vector<EventRow>>> {
        auto t = s.ticket(n);
        if (!t) return Error{t.error()};
        if (!*t) return std::make_pair(std::optional<TicketRow>(), std::vector<EventRow>());
        auto ev = s.events(n);
        if (!ev) return Error{ev.error()};
        return std::make_pair(std::move(*t), std::move(*ev));
      };
      auto r = co_await store.run(std::move(job));
      if (!r) co_return store_unavailable(rt->config, "store unavailable");
      if (!r->first) co_return error(404, "no such ticket");
      if (r->first->department != *dept)
        co_return error(403, "this ticket belongs to another department");
      co_return json_response(200, json::serialize(hook::events_json(route.ticket, r->second)));
    }
    auto ct = req[http::field::content_type];
    if (!ct.empty() && ct.substr(0, 16) != "application/json")
      co_return error(415, "content type must be application/json");
    if (route.kind == K::kReopenTicket) {
      auto reason = hook::parse_reopen_body(req.body());
      if (!reason) co_return error(400, reason.error());
      if (!store.healthy())
        co_return store_unavailable(rt->config,
                                    "the store is not taking writes; nothing was changed");
      std::string actor = "department:" + *dept;
      auto job = [n = route.ticket, d = *dept, why = *reason, actor](Store& s) {
        return s.reopen_ticket(n, d, why, actor, now_ms());
      };
      auto r = co_await store.run(std::move(job));
      if (!r) {
        spdlog::error("ticket={} reopen failed: {}", route.ticket, r.error());
        co_return store_unavailable(rt->config, "store unavailable; nothing was changed");
      }
      switch (r->kind) {
        case ReopenOutcome::Kind::kNotFound:
          co_return error(404, "no such ticket");
        case ReopenOutcome::Kind::kForbidden:
          spdlog::warn("ticket={} reopen refused: department {} does not own it", route.ticket,
                       *dept);
          co_return error(403, "this ticket belongs to another department");
        case ReopenOutcome::Kind::kAlreadyOpen:
          co_return error(409, "ticket is already open");
        case ReopenOutcome::Kind::kReopened:
          break;
      }
      spdlog::info("ticket={} reopened by {}", r->ticket.number, actor);
      co_return json_response(200, json::serialize(hook::ticket_json(r->ticket)));
    }
    if (route.kind == K::kReassignTicket) {
      auto body = hook::parse_reassign_body(req.body());
      if (!body) co_return error(400, body.error());
      if (!rt->config.departments.count(body->department))
        co_return error(400, "no department \"" + body->department + "\" in the configuration");
      if (!store.healthy())
        co_return store_unavailable(rt->config,
                                    "the store is not taking writes; nothing was changed");
      DraftFn reply;
      if (body->tell_citizen)
        reply = [rt, fits = pipeline.fits()](const TicketRow& t) {
          auto it = fits.find(t.account);
          return render_reply(*rt, "reassigned", t, it == fits.end() ? FitFn{} : it->second,
                              now_ms());
        };
      std::string actor = "department:" + *dept;
      auto job = [n = route.ticket, d = *dept, b = *body, actor, reply](Store& s) {
        return s.reassign_ticket(n, d, b.department, b.note, actor, reply, now_ms());
      };
      auto r = co_await store.run(std::move(job));
      if (!r) {
        spdlog::error("ticket={} reassign failed: {}", route.ticket, r.error());
        co_return store_unavailable(rt->config, "store unavailable; nothing was changed");
      }
      switch (r->kind) {
        case ReassignOutcome::Kind::kNotFound:
          co_return error(404, "no such ticket");
        case ReassignOutcome::Kind::kForbidden:
          co_return error(403, "this ticket belongs to another department");
        case ReassignOutcome::Kind::kSameDepartment:
          co_return error(409, "the ticket is already with that department");
        case ReassignOutcome::Kind::kClosed:
          co_return error(409, "a closed ticket is reopened before it is reassigned");
        case ReassignOutcome::Kind::kReassigned:
          break;
      }
      spdlog::warn("ticket={} reassigned by {} to {}{}", r->ticket.number, actor,
                   r->ticket.department, body->tell_citizen ? "; the citizen is told" : "");
      if (r->outbox_id != 0) pipeline.notify_queued(r->ticket.account);
      co_return json_response(200, json::serialize(hook::ticket_json(r->ticket)));
    }
    // kCloseTicket
    auto resolution = hook::parse_close_body(req.body());
    if (!resolution) co_return error(400, resolution.error());
    // A failing store refuses writes whole; saying so at once beats a half-hearted try.
    if (!store.healthy())
      co_return store_unavailable(rt->config,
                                  "the store is not taking writes; nothing was changed");
    DraftFn followup = [rt, fits = pipeline.fits()](const TicketRow& t) {
      auto it = fits.find(t.account);
      return render_reply(*rt, "followup", t, it == fits.end() ? FitFn{} : it->second, now_ms());
    };
    std::string actor = "department:" + *dept;
    auto job = [n = route.ticket, d = *dept, res = *resolution, actor, followup](Store& s) {
      return s.close_ticket(n, d, res, actor, followup, now_ms());
    };
    auto r = co_await store.run(std::move(job));
    if (!r) {
      spdlog::error("ticket={} close failed: {}", route.ticket, r.error());
      co_return store_unavailable(rt->config, "store unavailable; nothing was changed");
    }
    switch (r->kind) {
      case CloseOutcome::Kind::kNotFound:
        co_return error(404, "no such ticket");
      case CloseOutcome::Kind::kForbidden:
        spdlog::warn("ticket={} close refused: department {} does not own it", route.ticket, *dept);
        co_return error(403, "this ticket belongs to another department");
      case CloseOutcome::Kind::kAlreadyClosed:
        co_return error(409, "ticket is already closed");
      case CloseOutcome::Kind::kClosed:
        break;
    }
    spdlog::info("ticket={} closed by {}; follow-up queued", r->ticket.number, actor);
    pipeline.notify_queued(r->ticket.account);
    co_return json_response(200, json::serialize(hook::ticket_json(r->ticket)));
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto tok = asio::redirect_error(use_awaitable, ec);
    const auto max_body = pipeline.runtime()->config.hook_max_body_bytes;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(max_body);
      parser.header_limit(kMaxHeaderBytes);
      stream.expires_after(kRequestDeadline);
      co_await http::async_read(stream, buffer, parser, tok);
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
        break;
      if (ec) {
        Response r = ec == http::error::body_limit     ? error(413, "request body too large")
                     : ec == http::error::header_limit ? error(431, "request headers too large")
                                                       : error(400, "malformed request");
        r.keep_alive(false);
        stream.expires_after(kRequestDeadline);
        co_await http::async_write(stream, r, tok);
        break;
      }
      auto req = parser.release();
      Response res;
      try {
        res = co_await handle(req);
      } catch (const std::exception& e) {
        spdlog::error("hook: {} {} failed: {}", std::string(req.method_string()),
                      std::string(req.target()), e.what());
        res = error(500, "internal error");
      }
      res.keep_alive(req.keep_alive() && !stopping);
      stream.expires_after(kRequestDeadline);
      co_await http::async_write(stream, res, tok);
      if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
};

HookServer::HookServer(asio::any_io_executor ex, StoreThread& store, Pipeline& pipeline,
                       std::function<bool()> connectors_ready)
    : impl_(std::make_unique<Impl>(ex, store, pipeline, std::move(connectors_ready))) {}

HookServer::~HookServer() = default;

Result<uint16_t> HookServer::listen(const std::string& address, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return Error{"hook listen address " + address + ": " + ec.message()};
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{"hook cannot listen on " + address + ":" + std::to_string(port) + ": " +
                 ec.message()};
  return a.local_endpoint().port();
}

asio::awaitable<void> HookServer::run() {
  auto& im = *impl_;
  while (!im.stopping) {
    beast::error_code ec;
    tcp::socket s = co_await im.acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (im.stopping) break;
      spdlog::warn("hook accept: {}", ec.message());
      // Out of descriptors and the like: retrying at once would spin the loop.
      asio::steady_timer pause(im.ex);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (im.connections >= kMaxConnections) {
      s.close(ec);  // over the cap: refuse rather than let one client starve the rest
      continue;
    }
    ++im.connections;
    asio::co_spawn(im.ex, im.session(std::move(s)), [&im](std::exception_ptr e) {
      --im.connections;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("hook session failed: {}", ex.what());
        }
      }
    });
  }
}

void HookServer::stop() {
  impl_->stopping = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace sotong
