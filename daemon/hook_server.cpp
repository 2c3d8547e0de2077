// The hook's server: sockets, limits and TLS, then auth and every ticket route over the store
// thread. One file because the writes share one path (checks, Idempotency-Key, audit, waking
// the sender and notifier) with the connection they answer on; the pure parts are in
// hook_parse, hook_auth and hook_public.
#include "daemon/hook_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <optional>
#include <type_traits>
#include <variant>

#include "daemon/hook_auth.hpp"
#include "daemon/hook_parse.hpp"
#include "daemon/hook_tls.hpp"
#include "daemon/rate_limiter.hpp"
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
// What one read takes while waiting for a request to begin.
constexpr std::size_t kFirstReadBytes = 4096;
// A TLS client gets this long to answer our close_notify before the socket is just closed.
constexpr std::chrono::seconds kTlsShutdownDeadline{2};

using Response = http::response<http::string_body>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

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

Response plain_response(PublicAnswer a) {
  Response r{static_cast<http::status>(a.status), 11};
  r.set(http::field::content_type, a.content_type);
  r.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : a.headers) r.set(name, value);
  r.body() = std::move(a.body);
  r.prepare_payload();
  return r;
}

// The route's path pattern as a metric label: bounded, unlike the paths themselves.
std::string_view route_label(hook::Route::Kind kind) {
  for (const auto& spec : hook::routes())
    if (spec.kind == kind) return spec.path;
  return kind == hook::Route::Kind::kBadMethod ? "method_not_allowed" : "unknown";
}

}  // namespace

struct HookServer::Impl {
  asio::any_io_executor ex;
  StoreThread& store;
  Pipeline& pipeline;
  PublicRoutes pub;
  Metrics* metrics;
  std::function<bool()> ready;
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;  // set: HTTPS only
  RateLimiter limiter;
  int connections = 0;
  bool at_cap = false;  // refusing connections; logged once per episode
  bool stopping = false;

  Impl(asio::any_io_executor e, StoreThread& s, Pipeline& p, std::function<AccountStates()> a,
       Metrics* m)
      : ex(e),
        store(s),
        pipeline(p),
        pub(s, m, std::move(a)),
        metrics(m),
        ready([this] { return !pub.accounts() || all_ready(pub.accounts()()); }),
        acceptor(e),
        limiter(p.runtime()->config.hook_requests_per_minute) {}

  using Request = http::request<http::string_body>;

  // What a write did, made on the store thread so that an Idempotency-Key keeps the answer
  // in the write's own transaction.
  struct WriteResult {
    StoredAnswer answer;
    std::string queued_account;  // a reply was queued for this account: wake its sender
    bool notified = false;       // a department's notification was queued: wake the Notifier
    bool replayed = false;       // the first answer to this Idempotency-Key
  };
  using WriteFn = std::function<Result<WriteResult>(Store&)>;

  static StoredAnswer answer(int status, std::string_view msg) {
    return {status, hook::error_json(msg)};
  }
  static StoredAnswer answer(const TicketRow& t) {
    return {200, json::serialize(hook::ticket_json(t))};
  }

  asio::awaitable<Response> handle(const Request& req) {
    auto route = hook::match_route(req.method_string(), req.target());
    Response res = co_await dispatch(route, req);
    if (metrics != nullptr)
      metrics->hook_request(route_label(route.kind), static_cast<int>(res.result_int()));
    co_return res;
  }

  asio::awaitable<Response> dispatch(const hook::Route& route, const Request& req) {
    using K = hook::Route::Kind;
    if (route.kind == K::kNotFound) co_return error(404, "not found");
    if (route.kind == K::kBadMethod) {
      Response r = error(405, "method not allowed");
      r.set(http::field::allow, route.allow);
      co_return r;
    }
    if (route.kind == K::kHealth) co_return co_await health();
    auto rt = pipeline.runtime();
    if (PublicRoutes::serves(route.kind)) {
      PublicAnswer a = co_await pub.answer(route, *rt);
      co_return plain_response(std::move(a));
    }
    auto who = co_await authenticate(req, *rt, route.ticket);
    if (auto* refused = std::get_if<Response>(&who)) co_return std::move(*refused);
    const hook::Principal& principal = std::get<hook::Principal>(who);

    if (route.kind == K::kGetTicket) {
      auto job = [n = route.ticket](Store& s) { return s.ticket(n); };
      auto t = co_await store.run(std::move(job));
      if (!t) co_return store_unavailable(rt->config, "store unavailable");
      if (!*t) co_return error(404, "no such ticket");
      if (!may_access(principal, **t))
        co_return error(403, "this ticket belongs to another department");
      co_return json_response(200, json::serialize(hook::ticket_json(**t)));
    }
    if (route.kind == K::kListTickets) {
      auto f = hook::parse_list_query(route.query, principal.scope());
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
      if (!may_access(principal, *r->first))
        co_return error(403, "this ticket belongs to another department");
      co_return json_response(200, json::serialize(hook::events_json(route.ticket, r->second)));
    }
    if (route.kind == K::kTicketNotifications) {
      using Found = std::pair<std::optional<TicketRow>, std::vector<NotificationRow>>;
      auto job = [n = route.ticket](Store& s) -> Result<Found> {
        auto t = s.ticket(n);
        if (!t) return Error{t.error()};
        if (!*t) return Found{};
        auto rows = s.notifications_for_ticket(n);
        if (!rows) return Error{rows.error()};
        return Found{std::move(*t), std::move(*rows)};
      };
      auto r = co_await store.run(std::move(job));
      if (!r) co_return store_unavailable(rt->config, "store unavailable");
      if (!r->first) co_return error(404, "no such ticket");
      if (!may_access(principal, *r->first))
        co_return error(403, "this ticket belongs to another department");
      co_return json_response(200,
                              json::serialize(hook::notifications_json(route.ticket, r->second)));
    }
    if (hook::is_write(route.kind)) co_return co_await write(route, req, principal, rt);
    co_return error(404, "not found");
  }

  static bool may_access(const hook::Principal& who, const TicketRow& t) {
    return who.admin() || t.department == who.id;
  }

  // The caller, from a signature (X-Sotong-Signature) or a bearer token; otherwise the 401.
  asio::awaitable<std::variant<hook::Principal, Response>> authenticate(const Request& req,
                                                                        const Runtime& rt,
                                                                        const std::string& ticket) {
    auto refuse = [](std::string_view why) {
      Response r = error(401, why);
      r.set(http::field::www_authenticate, "Bearer realm=\"sotong\"");
      return r;
    };
    const auto sig = req["X-Sotong-Signature"];
    if (sig.empty()) {
      auto token = hook::bearer_token(req[http::field::authorization]);
      std::optional<hook::Principal> who;
      if (token) who = hook::principal_for_token(rt.config, *token);
      if (!who) {
        log::warn("hook request refused: bearer token", {{"ticket", ticket},
                                                         {"method", req.method_string()},
                                                         {"target", req.target()},
                                                         {"token", token ? "unknown" : "missing"}});
        co_return refuse("missing or invalid bearer token");
      }
      co_return *who;
    }
    auto check =
        hook::check_signature(rt.config, req["X-Sotong-Client"], req["X-Sotong-Timestamp"], sig,
                              req.method_string(), req.target(), req.body(), now_ms() / 1000);
    if (check.kind != hook::SignatureCheck::Kind::kValid) {
      log::warn("hook request refused: signature",
                {{"ticket", ticket},
                 {"method", req.method_string()},
                 {"target", req.target()},
                 {"client", req["X-Sotong-Client"].substr(0, 64)},
                 {"error", check.message}});
      co_return refuse(check.message);
    }
    auto job = [sig = check.signature, exp = check.expires_at_s * 1000](Store& s) {
      return s.remember_signature(sig, exp, now_ms());
    };
    auto fresh = co_await store.run(std::move(job));
    if (!fresh) co_return store_unavailable(rt.config, "store unavailable; nothing was changed");
    if (!*fresh) {
      log::warn("hook request refused: a replayed signature", {{"ticket", ticket},
                                                               {"method", req.method_string()},
                                                               {"target", req.target()},
                                                               {"client", check.principal->id}});
      co_return refuse("this signature was used already; sign each request anew");
    }
    co_return std::move(*check.principal);
  }

  // Every write: checked, run once per Idempotency-Key, logged, and its reply's sender woken.
  asio::awaitable<Response> write(const hook::Route& route, const Request& req,
                                  const hook::Principal& who,
                                  const std::shared_ptr<const Runtime>& rt) {
    auto ct = req[http::field::content_type];
    if (!ct.empty() && ct.substr(0, 16) != "application/json")
      co_return error(415, "content type must be application/json");
    const std::string key(req["Idempotency-Key"]);
    if (req.find("Idempotency-Key") != req.end() && !hook::valid_idempotency_key(key))
      co_return error(400, "Idempotency-Key must be 1 to 255 visible ASCII characters");
    auto made = make_write(route, req.body(), who, rt);
    if (auto* refused = std::get_if<Response>(&made)) co_return std::move(*refused);
    // A failing store refuses writes whole; saying so at once beats a half-hearted try.
    if (!store.healthy())
      co_return store_unavailable(rt->config,
                                  "the store is not taking writes; nothing was changed");
    WriteFn fn = std::move(std::get<WriteFn>(made));
    const std::string hash = sha256_hex(std::string(req.method_string()) + "\n" +
                                        std::string(req.target()) + "\n" + req.body());
    auto job = [fn, key, hash, actor = who.actor(),
                ticket = route.ticket](Store& s) -> Result<WriteResult> {
      if (key.empty()) return fn(s);
      WriteResult done;
      auto r = s.idempotent(actor, key, hash, now_ms(), [&]() -> Result<StoredAnswer> {
        auto w = fn(s);
        if (!w) return Error{w.error()};
        done = std::move(*w);
        return done.answer;
      });
      if (!r) return Error{r.error()};
      if (r->mismatch)
        return WriteResult{answer(422, "this Idempotency-Key was used for another request"), {}};
      if (r->replayed) {
        log::info("hook write retried with its Idempotency-Key: the first answer is returned",
                  {{"ticket", ticket}, {"actor", actor}});
        return WriteResult{r->answer, {}, false, true};
      }
      return done;
    };
    auto r = co_await store.run(std::move(job));
    if (!r) {
      log::error("hook write failed: store unavailable",
                 {{"ticket", route.ticket}, {"target", req.target()}, {"error", r.error()}});
      co_return store_unavailable(rt->config, "store unavailable; nothing was changed");
    }
    if (!r->queued_account.empty()) pipeline.notify_queued(r->queued_account);
    if (r->notified) pipeline.notification_queued();
    Response res = json_response(r->answer.status, std::move(r->answer.body));
    if (r->replayed) res.set("Idempotent-Replayed", "true");
    co_return res;
  }

  DraftFn draft(const std::shared_ptr<const Runtime>& rt, std::string key,
                TemplateVars extra = {}) {
    return [rt, fits = pipeline.fits(), key = std::move(key),
            extra = std::move(extra)](const TicketRow& t) {
      auto it = fits.find(t.account);
      return render_reply(*rt, key, t, it == fits.end() ? FitFn{} : it->second, now_ms(), extra);
    };
  }

  // A department's own words are never cut short: a reply that would not fit is refused.
  DraftFn whole_draft(const std::shared_ptr<const Runtime>& rt, std::string key,
                      TemplateVars extra) {
    return [rt, fits = pipeline.fits(), key = std::move(key),
            extra = std::move(extra)](const TicketRow& t) -> Result<ReplyDraft> {
      auto whole = render_reply(*rt, key, t, FitFn{}, now_ms(), extra);
      if (!whole) return whole;
      auto it = fits.find(t.account);
      if (it == fits.end() || !it->second) return whole;
      auto fitted = render_reply(*rt, key, t, it->second, now_ms(), extra);
      if (!fitted || fitted->text != whole->text)
        return Error{"the reply would be too long for " + t.platform + "; shorten the text"};
      return whole;
    };
  }

  // The store job of a write, once its body is checked; a bad body is answered at once.
  std::variant<WriteFn, Response> make_write(const hook::Route& route, const std::string& body,
                                             const hook::Principal& who,
                                             const std::shared_ptr<const Runtime>& rt) {
    using K = hook::Route::Kind;
    const std::string n = route.ticket, scope = who.scope(), actor = who.actor();
    if (route.kind == K::kCloseTicket) {
      auto resolution = hook::parse_close_body(body);
      if (!resolution) return error(400, resolution.error());
      return WriteFn{[n, scope, actor, res = *resolution,
                      followup = draft(rt, "followup")](Store& s) -> Result<WriteResult> {
        auto r = s.close_ticket(n, scope, res, actor, followup, now_ms());
        if (!r) return Error{r.error()};
        switch (r->kind) {
          case CloseOutcome::Kind::kNotFound:
            return WriteResult{answer(404, "no such ticket"), {}};
          case CloseOutcome::Kind::kForbidden:
            log::warn("close refused: another department's ticket",
                      {{"ticket", n}, {"actor", actor}});
            return WriteResult{answer(403, "this ticket belongs to another department"), {}};
          case CloseOutcome::Kind::kAlreadyClosed:
            return WriteResult{answer(409, "ticket is already closed"), {}};
          case CloseOutcome::Kind::kClosed:
            break;
        }
        log::info("ticket closed; follow-up queued", {{"ticket", n}, {"actor", actor}});
        return WriteResult{answer(r->ticket), r->ticket.account};
      }};
    }
    if (route.kind == K::kReopenTicket) {
      auto reason = hook::parse_reopen_body(body);
      if (!reason) return error(400, reason.error());
      return WriteFn{[n, scope, actor, why = *reason,
                      notified = webhook_departments(rt->config)](Store& s) -> Result<WriteResult> {
        auto r = s.reopen_ticket(n, scope, why, actor, now_ms(), notified);
        if (!r) return Error{r.error()};
        switch (r->kind) {
          case ReopenOutcome::Kind::kNotFound:
            return WriteResult{answer(404, "no such ticket"), {}};
          case ReopenOutcome::Kind::kForbidden:
            log::warn("reopen refused: another department's ticket",
                      {{"ticket", n}, {"actor", actor}});
            return WriteResult{answer(403, "this ticket belongs to another department"), {}};
          case ReopenOutcome::Kind::kAlreadyOpen:
            return WriteResult{answer(409, "ticket is already open"), {}};
          case ReopenOutcome::Kind::kReopened:
            break;
        }
        log::info("ticket reopened by a department", {{"ticket", n}, {"actor", actor}});
        return WriteResult{answer(r->ticket), {}, r->notification_id != 0};
      }};
    }
    if (route.kind == K::kReassignTicket) {
      auto b = hook::parse_reassign_body(body);
      if (!b) return error(400, b.error());
      if (!rt->config.departments.count(b->department))
        return error(400, "no department \"" + b->department + "\" in the configuration");
      DraftFn reply = b->tell_citizen ? draft(rt, "reassigned") : DraftFn{};
      return WriteFn{[n, scope, actor, b = *b, reply,
                      notified = webhook_departments(rt->config)](Store& s) -> Result<WriteResult> {
        auto r =
            s.reassign_ticket(n, scope, b.department, b.note, actor, reply, now_ms(), notified);
        if (!r) return Error{r.error()};
        switch (r->kind) {
          case ReassignOutcome::Kind::kNotFound:
            return WriteResult{answer(404, "no such ticket"), {}};
          case ReassignOutcome::Kind::kForbidden:
            return WriteResult{answer(403, "this ticket belongs to another department"), {}};
          case ReassignOutcome::Kind::kSameDepartment:
            return WriteResult{answer(409, "the ticket is already with that department"), {}};
          case ReassignOutcome::Kind::kClosed:
            return WriteResult{answer(409, "a closed ticket is reopened before it is reassigned"),
                               {}};
          case ReassignOutcome::Kind::kReassigned:
            break;
        }
        log::warn("ticket reassigned", {{"ticket", n},
                                        {"actor", actor},
                                        {"department", r->ticket.department},
                                        {"citizen_told", b.tell_citizen}});
        return WriteResult{answer(r->ticket), r->outbox_id != 0 ? r->ticket.account : "",
                           r->notification_id != 0};
      }};
    }
    // kCommentTicket
    auto c = hook::parse_comment_body(body);
    if (!c) return error(400, c.error());
    DraftFn reply = c->public_reply ? whole_draft(rt, "update", {{"comment", c->text}}) : DraftFn{};
    return WriteFn{[n, scope, actor, c = *c, reply](Store& s) -> Result<WriteResult> {
      auto r = s.comment_ticket(n, scope, c.text, actor, reply, now_ms());
      if (!r) return Error{r.error()};
      switch (r->kind) {
        case CommentOutcome::Kind::kNotFound:
          return WriteResult{answer(404, "no such ticket"), {}};
        case CommentOutcome::Kind::kForbidden:
          return WriteResult{answer(403, "this ticket belongs to another department"), {}};
        case CommentOutcome::Kind::kNoPublicReply:
          return WriteResult{
              answer(409, "this ticket takes no public reply (it is closed, or hidden)"), {}};
        case CommentOutcome::Kind::kReplyRefused:
          // The reason may name templates and files: the log has it, the caller a plain one.
          log::warn("public update refused", {{"ticket", n}, {"error", r->why}});
          return WriteResult{answer(422, r->why.rfind("the reply would be too long", 0) == 0
                                             ? r->why
                                             : "no public reply can be made for this ticket "
                                               "(the update template is missing)"),
                             {}};
        case CommentOutcome::Kind::kCommented:
          break;
      }
      log::info(c.public_reply ? "public update queued" : "note added",
                {{"ticket", n}, {"actor", actor}});
      return WriteResult{answer(r->ticket), r->outbox_id != 0 ? r->ticket.account : ""};
    }};
  }

  asio::awaitable<Response> health() {
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

  // The limits a connection keeps from its start; a reload applies to the next one.
  struct Limits {
    std::size_t max_body;
    std::chrono::seconds request, idle;
  };
  Limits limits() const {
    const auto rt = pipeline.runtime();
    const Config& c = rt->config;
    return {c.hook_max_body_bytes, c.hook_request_timeout, c.hook_idle_timeout};
  }

  // Rate limits count per address; an IPv6 client has a /64 to pick addresses from.
  static std::string client_key(const tcp::socket& socket) {
    beast::error_code ec;
    auto addr = socket.remote_endpoint(ec).address();
    if (ec) return "?";
    if (addr.is_v6() && !addr.to_v6().is_v4_mapped()) {
      auto bytes = addr.to_v6().to_bytes();
      std::fill(bytes.begin() + 8, bytes.end(), 0);
      return asio::ip::make_address_v6(bytes).to_string() + "/64";
    }
    if (addr.is_v6())
      return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string();
    return addr.to_string();
  }

  // A 429 when the client is over its rate; nullopt to go ahead.
  std::optional<Response> too_many_requests(const std::string& client, const Request& req) {
    const auto rt = pipeline.runtime();
    const Config& c = rt->config;
    limiter.set_rate(c.hook_requests_per_minute);
    auto a = limiter.admit(client, now_ms());
    if (a.retry_after_s == 0) return std::nullopt;
    if (a.first_refusal)
      log::warn("hook client over its rate limit: answering 429",
                {{"client", client},
                 {"requests_per_minute", c.hook_requests_per_minute},
                 {"method", req.method_string()},
                 {"target", req.target()}});
    Response r = error(
        429, "too many requests; retry after " + std::to_string(a.retry_after_s) + " seconds");
    r.set(http::field::retry_after, std::to_string(a.retry_after_s));
    return r;
  }

  // One connection: TLS first when configured, then its requests.
  asio::awaitable<void> connection(tcp::socket socket) {
    const std::string client = client_key(socket);
    const Limits lim = limits();
    beast::tcp_stream plain(std::move(socket));
    if (!tls) {
      co_await session(plain, client, lim);
      co_return;
    }
    TlsStream stream(std::move(plain), *tls);
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(lim.request);
    auto tok = asio::redirect_error(use_awaitable, ec);
    co_await stream.async_handshake(asio::ssl::stream_base::server, tok);
    if (ec) {
      // Scanners, plain HTTP and clients that distrust our certificate: theirs to fix.
      log::debug("hook TLS handshake failed", {{"client", client}, {"error", ec.message()}});
      co_return;
    }
    co_await session(stream, client, lim);
  }

  // Requests on one connection, plain or TLS. Deadlines: waiting for a request to begin is
  // the idle timeout (on a fresh connection the shorter of both), and from its first byte
  // the whole request must arrive within the request timeout; writing the answer too.
  template <class Stream>
  asio::awaitable<void> session(Stream& stream, const std::string& client, const Limits& lim) {
    auto& transport = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    beast::error_code ec;
    auto tok = asio::redirect_error(use_awaitable, ec);
    bool fresh = true;
    while (!stopping) {
      if (buffer.size() == 0) {
        transport.expires_after(fresh ? std::min(lim.idle, lim.request) : lim.idle);
        auto space = buffer.prepare(kFirstReadBytes);
        const std::size_t n = co_await stream.async_read_some(space, tok);
        if (ec) break;  // closed, reset or idle too long: nobody waits for an answer
        buffer.commit(n);
      }
      fresh = false;
      http::request_parser<http::string_body> parser;
      parser.body_limit(lim.max_body);
      parser.header_limit(hook::kMaxHeaderBytes);
      transport.expires_after(lim.request);
      co_await http::async_read(stream, buffer, parser, tok);
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
        break;
      if (ec) {
        Response r = ec == http::error::body_limit     ? error(413, "request body too large")
                     : ec == http::error::header_limit ? error(431, "request headers too large")
                                                       : error(400, "malformed request");
        r.keep_alive(false);
        transport.expires_after(lim.request);
        co_await http::async_write(stream, r, tok);
        break;
      }
      auto req = parser.release();
      Response res;
      if (auto refused = too_many_requests(client, req)) {
        res = std::move(*refused);
      } else {
        try {
          res = co_await handle(req);
        } catch (const std::exception& e) {
          // The detail is for the log; the client learns only that it was not its fault.
          log::error(
              "hook request failed",
              {{"method", req.method_string()}, {"target", req.target()}, {"error", e.what()}});
          res = error(500, "internal error");
        }
      }
      res.keep_alive(req.keep_alive() && !stopping);
      transport.expires_after(lim.request);
      co_await http::async_write(stream, res, tok);
      if (ec || !res.keep_alive()) break;
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (!ec || ec == http::error::end_of_stream) {
        transport.expires_after(kTlsShutdownDeadline);
        co_await stream.async_shutdown(tok);
      }
    } else {
      transport.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // Over the connection cap: a plain client is told so in one non-blocking write (a fresh
  // socket's send buffer always has room), a TLS client is just closed (a handshake is the
  // very work we are refusing). Either way the accept loop never waits on it.
  void refuse(tcp::socket& s) {
    static const std::string kBusy = [] {
      const std::string body = hook::error_json("too many connections; try again shortly");
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; "
             "charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    beast::error_code ec;
    if (!tls) {
      s.non_blocking(true, ec);
      if (!ec) s.write_some(asio::buffer(kBusy), ec);
    }
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }
};

HookServer::HookServer(asio::any_io_executor ex, StoreThread& store, Pipeline& pipeline,
                       std::function<AccountStates()> accounts, Metrics* metrics)
    : impl_(std::make_unique<Impl>(ex, store, pipeline, std::move(accounts), metrics)) {}

HookServer::~HookServer() = default;

Result<uint16_t> HookServer::listen(const std::string& address, uint16_t port) {
  const auto rt = impl_->pipeline.runtime();
  const Config& cfg = rt->config;
  if (!cfg.hook_tls_cert_file.empty()) {
    auto ctx = make_hook_tls_context(cfg.hook_tls_cert_file, cfg.hook_tls_key_file);
    if (!ctx) return Error{ctx.error()};
    impl_->tls = std::move(*ctx);
  }
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
      log::warn("hook accept failed", {{"error", ec.message()}});
      // Out of descriptors and the like: retrying at once would spin the loop.
      asio::steady_timer pause(im.ex);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (im.connections >= im.pipeline.runtime()->config.hook_max_connections) {
      if (!im.at_cap)
        log::warn("hook at its connection limit; refusing more", {{"connections", im.connections}});
      im.at_cap = true;
      im.refuse(s);  // rather than let one client's connections starve the rest
      continue;
    }
    im.at_cap = false;
    ++im.connections;
    asio::co_spawn(im.ex, im.connection(std::move(s)), [&im](std::exception_ptr e) {
      --im.connections;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("hook session failed", {{"error", ex.what()}});
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
