// The pure part of the department hook: routing, auth header, bodies, query strings and the
// JSON shape of a ticket. No I/O, so every hostile input can be unit-tested. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/store.hpp"
#include "daemon/util/result.hpp"

namespace sotong::hook {

// A resolution is a sentence or a short paragraph; this bounds what a follow-up can carry.
constexpr std::size_t kMaxResolutionBytes = 4000;
constexpr int kMaxListLimit = 200;
// A request's line and headers: a bearer token and a signature fit many times over.
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

struct Route {
  enum class Kind {
    kHealth,
    kReady,
    kMetrics,
    kGetTicket,
    kListTickets,
    kCloseTicket,
    kReopenTicket,
    kReassignTicket,
    kCommentTicket,
    kTicketEvents,
    kTicketNotifications,
    kOpen311Services,
    kOpen311Requests,
    kOpen311Request,
    kNotFound,
    kBadMethod
  };
  Kind kind = Kind::kNotFound;
  std::string ticket;                        // for ticket routes (and an Open311 request's id)
  std::map<std::string, std::string> query;  // decoded query parameters (last one wins)
  std::string allow;                         // kBadMethod: the methods the path takes
};

// Every route the hook serves: docs/openapi.yaml describes each (a test holds them equal).
// Path parameters are written {name}; {name}.json matches a segment ending in ".json".
struct RouteSpec {
  std::string_view method;
  std::string_view path;
  Route::Kind kind;
};
const std::vector<RouteSpec>& routes();
// Writes: they take an Idempotency-Key and are refused while the store fails.
bool is_write(Route::Kind kind);

Route match_route(std::string_view method, std::string_view target);

// "Bearer <token>" → token; nullopt for anything else.
std::optional<std::string> bearer_token(std::string_view authorization);

// A ticket number as the store makes them: PREFIX-YYYY-NNNNNN.
bool valid_ticket_number(std::string_view s);

// {"resolution": "..."} → the resolution, sanitised (valid UTF-8, NFC, no control characters).
Result<std::string> parse_close_body(std::string_view body);
// {"reason": "..."} → the reason a department reopens a ticket, sanitised the same way.
Result<std::string> parse_reopen_body(std::string_view body);

// {"department": "parks", "note": "...", "tell_citizen": true}: note and tell_citizen optional.
struct Reassign {
  std::string department;
  std::string note;
  bool tell_citizen = false;
};
Result<Reassign> parse_reassign_body(std::string_view body);

// {"text": "...", "public": false}: an internal note, or with "public": true an interim
// reply in the citizen's thread.
struct Comment {
  std::string text;
  bool public_reply = false;
};
Result<Comment> parse_comment_body(std::string_view body);

// An Idempotency-Key: 1 to 255 visible ASCII characters.
bool valid_idempotency_key(std::string_view key);

// status, department, after, limit ... → a filter. `department` is the caller's own; empty
// for an admin, who may name any department.
Result<TicketFilter> parse_list_query(const std::map<std::string, std::string>& q,
                                      const std::string& department);

boost::json::object ticket_json(const TicketRow& t);
// {"ticket": number, "events": [{"at", "actor", "kind", "detail"}]}: the audit trail.
boost::json::object events_json(const std::string& number, const std::vector<EventRow>& events);
// {"ticket": number, "notifications": [{"id", "event", "department", "urgent", "state",
// "attempts", "last_status", "last_error", "created_at", "delivered_at", "next_attempt_at"}]}:
// where the department's notifications stand. Times are null where they do not apply.
boost::json::object notifications_json(const std::string& number,
                                       const std::vector<NotificationRow>& rows);
std::string error_json(std::string_view message);

}  // namespace sotong::hook
