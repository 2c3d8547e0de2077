// The hook's public, read-only routes: /readyz, /metrics and the Open311 GeoReport v2 view
// (docs/metrics.md, docs/open311.md). They take no credentials and show nothing private: the
// Open311 mapping (open311.hpp) leaves out what a public view must not show. Answers are
// plain values, so Beast stays in hook_server.cpp.
// Thread rules: on the network loop; store reads go through StoreThread, never blocking it.
// The StoreThread, Metrics and the accounts function outlive this object.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/hook_parse.hpp"
#include "daemon/metrics.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/store_thread.hpp"

namespace sotong {

// An account's connector as /readyz shows it.
enum class ConnectorState {
  kReady,     // verified, reading mentions
  kStarting,  // not yet (or not again) reading
  kStandby,   // another instance leads the account (several instances on PostgreSQL)
};
using AccountStates = std::map<std::string, ConnectorState>;
std::string_view to_string(ConnectorState s);
// Every account reads mentions here or is led elsewhere.
bool all_ready(const AccountStates& accounts);

struct PublicAnswer {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class PublicRoutes {
 public:
  // `metrics` may be null: /metrics then answers 404.
  PublicRoutes(StoreThread& store, Metrics* metrics, std::function<AccountStates()> accounts);

  // /readyz, /metrics and the Open311 routes.
  static bool serves(hook::Route::Kind kind);
  boost::asio::awaitable<PublicAnswer> answer(const hook::Route& route, const Runtime& rt);

  // 200 only when the store takes writes and every account is ready (or led elsewhere).
  boost::asio::awaitable<PublicAnswer> ready(const Runtime& rt);
  boost::asio::awaitable<PublicAnswer> metrics(const Runtime& rt);
  // Any of the three Open311 routes; 404 while open311 is not enabled.
  boost::asio::awaitable<PublicAnswer> open311(const hook::Route& route, const Runtime& rt);

  const std::function<AccountStates()>& accounts() const { return accounts_; }

 private:
  boost::asio::awaitable<PublicAnswer> requests(const hook::Route& route, const Runtime& rt);

  StoreThread& store_;
  Metrics* metrics_;
  std::function<AccountStates()> accounts_;
};

}  // namespace sotong
