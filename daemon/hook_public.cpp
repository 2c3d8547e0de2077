#include "daemon/hook_public.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "daemon/open311.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/log.hpp"

namespace sotong {

namespace asio = boost::asio;
namespace json = boost::json;

std::string_view to_string(ConnectorState s) {
  switch (s) {
    case ConnectorState::kReady:
      return "ready";
    case ConnectorState::kStarting:
      return "starting";
    case ConnectorState::kStandby:
      return "standby";
  }
  return "starting";
}

bool all_ready(const AccountStates& accounts) {
  for (const auto& [name, state] : accounts)
    if (state == ConnectorState::kStarting) return false;
  return true;
}

namespace {

// As the department routes say it: a few of the store thread's tries, so a short outage is
// over by the time the caller comes back.
std::pair<std::string, std::string> retry_after(const Config& cfg) {
  return {"Retry-After", std::to_string(std::max(5, cfg.store_retry_seconds))};
}

PublicAnswer not_found() {
  PublicAnswer a;
  a.status = 404;
  a.body = hook::error_json("not found");
  return a;
}

PublicAnswer open311_failure(const open311::Failure& f) {
  PublicAnswer a;
  a.status = f.code;
  a.body = open311::error_json(f);
  return a;
}

}  // namespace

PublicRoutes::PublicRoutes(StoreThread& store, Metrics* metrics,
                           std::function<AccountStates()> accounts)
    : store_(store), metrics_(metrics), accounts_(std::move(accounts)) {}

bool PublicRoutes::serves(hook::Route::Kind kind) {
  using K = hook::Route::Kind;
  return kind == K::kReady || kind == K::kMetrics || kind == K::kOpen311Services ||
         kind == K::kOpen311Requests || kind == K::kOpen311Request;
}

asio::awaitable<PublicAnswer> PublicRoutes::answer(const hook::Route& route, const Runtime& rt) {
  using K = hook::Route::Kind;
  if (route.kind == K::kReady) co_return co_await ready(rt);
  if (route.kind == K::kMetrics) co_return co_await metrics(rt);
  co_return co_await open311(route, rt);
}

asio::awaitable<PublicAnswer> PublicRoutes::ready(const Runtime& rt) {
  auto job = [](Store& s) { return s.ping(); };
  auto ping = co_await store_.run(std::move(job));
  const bool store_ok = ping.ok() && store_.healthy();
  const AccountStates states = accounts_ ? accounts_() : AccountStates{};
  json::object accounts;
  for (const auto& [name, state] : states) accounts[name] = to_string(state);
  const bool ok = store_ok && all_ready(states);
  json::object o;
  o["status"] = ok ? "ready" : "not ready";
  o["store"] = store_ok ? "ok" : "failing";
  o["accounts"] = std::move(accounts);
  PublicAnswer a;
  a.status = ok ? 200 : 503;
  a.body = json::serialize(o);
  if (!store_ok) a.headers.push_back(retry_after(rt.config));
  co_return a;
}

asio::awaitable<PublicAnswer> PublicRoutes::metrics(const Runtime& rt) {
  if (metrics_ == nullptr) co_return not_found();
  auto job = [](Store& s) { return s.gauges(); };
  auto gauges = co_await store_.run(std::move(job));
  if (!gauges) log::warn("store gauges unavailable for metrics", {{"error", gauges.error()}});
  std::vector<std::string> departments;
  for (const auto& [id, d] : rt.config.departments) departments.push_back(id);
  PublicAnswer a;
  a.content_type = "text/plain; version=0.0.4; charset=utf-8";
  a.body = metrics_->render(gauges ? &*gauges : nullptr, departments, now_ms());
  co_return a;
}

asio::awaitable<PublicAnswer> PublicRoutes::open311(const hook::Route& route, const Runtime& rt) {
  const Open311Config& cfg = rt.config.open311;
  if (!cfg.enabled) co_return not_found();
  if (auto refused = open311::check_jurisdiction(route.query, cfg))
    co_return open311_failure(*refused);
  PublicAnswer a;
  // Public data: browser-based civic tools may read it from any origin.
  a.headers.emplace_back("Access-Control-Allow-Origin", "*");
  if (route.kind == hook::Route::Kind::kOpen311Services) {
    a.body = json::serialize(open311::services_json(open311::services(cfg, rt.rules.categories())));
    co_return a;
  }
  auto found = co_await requests(route, rt);
  found.headers.insert(found.headers.end(), a.headers.begin(), a.headers.end());
  co_return found;
}

asio::awaitable<PublicAnswer> PublicRoutes::requests(const hook::Route& route, const Runtime& rt) {
  const bool single = route.kind == hook::Route::Kind::kOpen311Request;
  open311::RequestsQuery q;
  if (single) {
    q.ids.push_back(route.ticket);
  } else {
    auto parsed = open311::parse_requests_query(route.query, rt.calendar, now_ms());
    if (!parsed) co_return open311_failure({400, parsed.error()});
    q = std::move(*parsed);
  }
  auto job = [q](Store& s) -> Result<std::vector<TicketRow>> {
    if (q.ids.empty()) return s.list_tickets(q.filter);
    std::vector<TicketRow> rows;
    for (const auto& id : q.ids) {
      auto t = s.ticket(id);
      if (!t) return Error{t.error()};
      if (*t) rows.push_back(std::move(**t));
    }
    return rows;
  };
  auto rows = co_await store_.run(std::move(job));
  if (!rows) {
    PublicAnswer a = open311_failure({503, "the store is unavailable; try again later"});
    a.headers.push_back(retry_after(rt.config));
    co_return a;
  }
  const auto services = open311::services(rt.config.open311, rt.rules.categories());
  json::array arr = open311::requests_json(*rows, rt.config, rt.calendar, services);
  // A private or hidden ticket answers exactly as one that does not exist.
  if (single && arr.empty()) co_return open311_failure({404, "no service request " + route.ticket});
  PublicAnswer a;
  a.body = json::serialize(arr);
  co_return a;
}

}  // namespace sotong
