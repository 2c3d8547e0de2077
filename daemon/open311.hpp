// The Open311 GeoReport v2 view of the desk, read-only and public (docs/open311.md): the
// rules' categories as services, tickets as service requests. This file is the pure part:
// query parameters in, JSON out, no I/O, so every rule about what may be shown is
// unit-tested here. What a public view may never show: a ticket from a private or direct
// mention, a ticket hidden as abusive, the author, and personal data in any text.
// Thread-safe. Errors are GeoReport's: a code and a description, rendered as a JSON array.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/calendar.hpp"
#include "daemon/config.hpp"
#include "daemon/store.hpp"
#include "daemon/util/result.hpp"

namespace sotong::open311 {

// GeoReport v2's own bounds: at most 1000 requests an answer, the last 90 days by default,
// and a window of at most 90 days.
constexpr int kMaxRequests = 1000;
constexpr int64_t kWindowMs = 90LL * 24 * 3600 * 1000;
// Ids in one service_request_id list: each is a lookup, and a tool polls a handful at a time.
constexpr std::size_t kMaxRequestIds = 100;

struct Service {
  std::string code;  // the category's id
  std::string name;
  std::string description;
  std::string group;
};

// Every category the rules give (`rule_categories`) and every configured one, by code.
std::vector<Service> services(const Open311Config& cfg,
                              const std::vector<std::string>& rule_categories);
boost::json::array services_json(const std::vector<Service>& services);

struct Failure {
  int code = 400;
  std::string description;
};
// [{"code": 400, "description": "..."}]
std::string error_json(const Failure& f);

// A jurisdiction_id naming another jurisdiction than the configured one (404); none given
// is fine, and so is any when none is configured.
std::optional<Failure> check_jurisdiction(const std::map<std::string, std::string>& query,
                                          const Open311Config& cfg);

// GET requests.json's parameters. With service_request_id the named tickets are looked up
// and the other filters are ignored, as GeoReport says; else `filter` selects them.
struct RequestsQuery {
  std::vector<std::string> ids;
  TicketFilter filter;  // public_only, newest first, at most kMaxRequests
};
// Unknown parameters (api_key, extensions, ...) are ignored: tools send their own.
// Dates are W3C datetimes (2026-03-01T09:00:00+09:00, or Z) or days (2026-03-01, midnight
// in the desk's zone); a "+" that arrived unencoded (read as a space) is taken as "+".
Result<RequestsQuery> parse_requests_query(const std::map<std::string, std::string>& query,
                                           const Calendar& cal, int64_t now_ms);

// Whether a public view may show the ticket at all.
bool publishable(const TicketRow& t);
// The text as the public may read it: personal data and @handles masked.
std::string public_text(std::string_view text);
// A moment as GeoReport writes it: the desk's local time with its UTC offset,
// e.g. 2026-03-02T09:15:00+09:00.
std::string w3c_datetime(const Calendar& cal, int64_t utc_ms);

// One ticket as a service request; call only for publishable tickets.
boost::json::object request_json(const TicketRow& t, const Config& cfg, const Calendar& cal,
                                 const std::vector<Service>& services);
// The publishable ones of `rows`, in order.
boost::json::array requests_json(const std::vector<TicketRow>& rows, const Config& cfg,
                                 const Calendar& cal, const std::vector<Service>& services);

}  // namespace sotong::open311
