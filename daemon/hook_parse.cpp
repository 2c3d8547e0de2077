#include "daemon/hook_parse.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::hook {

namespace json = boost::json;

const std::vector<RouteSpec>& routes() {
  using K = Route::Kind;
  static const std::vector<RouteSpec> kRoutes{
      {"GET", "/healthz", K::kHealth},
      {"GET", "/readyz", K::kReady},
      {"GET", "/metrics", K::kMetrics},
      {"GET", "/v1/tickets", K::kListTickets},
      {"GET", "/v1/tickets/{ticket}", K::kGetTicket},
      {"POST", "/v1/tickets/{ticket}/close", K::kCloseTicket},
      {"POST", "/v1/tickets/{ticket}/reopen", K::kReopenTicket},
      {"POST", "/v1/tickets/{ticket}/reassign", K::kReassignTicket},
      {"POST", "/v1/tickets/{ticket}/comments", K::kCommentTicket},
      {"GET", "/v1/tickets/{ticket}/events", K::kTicketEvents},
      {"GET", "/v1/tickets/{ticket}/notifications", K::kTicketNotifications},
      {"GET", "/open311/v2/services.json", K::kOpen311Services},
      {"GET", "/open311/v2/requests.json", K::kOpen311Requests},
      {"GET", "/open311/v2/requests/{service_request_id}.json", K::kOpen311Request},
  };
  return kRoutes;
}

bool is_write(Route::Kind kind) {
  using K = Route::Kind;
  return kind == K::kCloseTicket || kind == K::kReopenTicket || kind == K::kReassignTicket ||
         kind == K::kCommentTicket;
}

namespace {

// One path segment against one pattern segment; a parameter's value goes to `param`.
bool segment_matches(std::string_view pattern, std::string_view seg, std::string& param) {
  if (pattern.empty() || pattern.front() != '{') return pattern == seg;
  const auto close = pattern.find('}');
  const std::string_view suffix = pattern.substr(close + 1);
  if (seg.size() <= suffix.size() || !seg.ends_with(suffix)) return false;
  std::string_view value = seg.substr(0, seg.size() - suffix.size());
  // Every parameter the hook takes is a ticket number (an Open311 id is one too).
  if (!valid_ticket_number(value)) return false;
  param = std::string(value);
  return true;
}

}  // namespace

Route match_route(std::string_view method, std::string_view target) {
  Route r;
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return r;
  std::vector<std::string> seg;
  for (auto s : u->segments()) seg.emplace_back(s);
  bool path_known = false;
  for (const auto& spec : routes()) {
    std::vector<std::string_view> pat;
    for (std::string_view rest = spec.path.substr(1); !rest.empty();) {
      const auto slash = rest.find('/');
      pat.push_back(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    if (pat.size() != seg.size()) continue;
    std::string param;
    bool match = true;
    for (std::size_t i = 0; match && i < pat.size(); ++i)
      match = segment_matches(pat[i], seg[i], param);
    if (!match) continue;
    path_known = true;
    r.allow += (r.allow.empty() ? "" : ", ") + std::string(spec.method);
    if (spec.method != method) continue;
    r.kind = spec.kind;
    r.ticket = std::move(param);
    for (auto p : u->params()) r.query[std::string(p.key)] = std::string(p.value);
    return r;
  }
  r.kind = path_known ? Route::Kind::kBadMethod : Route::Kind::kNotFound;
  return r;
}

std::optional<std::string> bearer_token(std::string_view h) {
  constexpr std::string_view kScheme = "Bearer ";
  if (h.size() <= kScheme.size() || h.size() > 4096) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size() - 1; ++i) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != "bearer"[i]) return std::nullopt;
  }
  if (h[kScheme.size() - 1] != ' ') return std::nullopt;
  std::string_view tok = h.substr(kScheme.size());
  while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
  while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
  if (tok.empty()) return std::nullopt;
  return std::string(tok);
}

bool valid_ticket_number(std::string_view s) {
  if (s.size() < 8 || s.size() > 40) return false;
  auto d1 = s.find('-');
  if (d1 == std::string_view::npos || d1 == 0) return false;
  for (std::size_t i = 0; i < d1; ++i)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return false;
  auto rest = s.substr(d1 + 1);
  if (rest.size() < 6 || rest[4] != '-') return false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i == 4) continue;
    if (rest[i] < '0' || rest[i] > '9') return false;
  }
  return true;
}

namespace {

// A request body: a JSON object, shallow.
Result<json::object> parse_body(std::string_view body) {
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 8;
  auto v = json::parse(body, ec, {}, opt);
  if (ec) return Error{"body is not valid JSON"};
  if (!v.is_object()) return Error{"body must be a JSON object"};
  return std::move(v.get_object());
}

// A department's text field: a non-empty string, NFC, trimmed and bounded.
Result<std::string> clean_text(const json::value* v, const std::string& field) {
  if (v == nullptr || !v->is_string()) return Error{field + " must be a string"};
  std::string res = text::nfc(std::string(v->get_string()));
  auto first = res.find_first_not_of(" \n\t");
  if (first == std::string::npos) return Error{field + " must not be empty"};
  res.erase(0, first);
  res.erase(res.find_last_not_of(" \n\t") + 1);
  if (res.size() > kMaxResolutionBytes)
    return Error{field + " is longer than " + std::to_string(kMaxResolutionBytes) + " bytes"};
  return res;
}

Error unknown_field(std::string_view key) {
  return Error{"unknown field \"" + std::string(key) + "\""};
}

// {"<field>": "..."} and nothing else → the text.
Result<std::string> parse_text_body(std::string_view body, const std::string& field) {
  auto o = parse_body(body);
  if (!o) return Error{o.error()};
  for (const auto& kv : *o)
    if (kv.key() != field) return unknown_field(kv.key());
  return clean_text(o->if_contains(field), field);
}

}  // namespace

Result<std::string> parse_close_body(std::string_view body) {
  return parse_text_body(body, "resolution");
}

Result<std::string> parse_reopen_body(std::string_view body) {
  return parse_text_body(body, "reason");
}

Result<Reassign> parse_reassign_body(std::string_view body) {
  auto o = parse_body(body);
  if (!o) return Error{o.error()};
  Reassign r;
  for (const auto& kv : *o) {
    if (kv.key() == "department") {
      if (!kv.value().is_string() || kv.value().get_string().empty() ||
          kv.value().get_string().size() > 64)
        return Error{"department must be a department's id"};
      r.department = std::string(kv.value().get_string());
    } else if (kv.key() == "note") {
      auto note = clean_text(&kv.value(), "note");
      if (!note) return Error{note.error()};
      r.note = *note;
    } else if (kv.key() == "tell_citizen") {
      if (!kv.value().is_bool()) return Error{"tell_citizen must be true or false"};
      r.tell_citizen = kv.value().get_bool();
    } else {
      return unknown_field(kv.key());
    }
  }
  if (r.department.empty()) return Error{"department must be a department's id"};
  return r;
}

Result<Comment> parse_comment_body(std::string_view body) {
  auto o = parse_body(body);
  if (!o) return Error{o.error()};
  Comment c;
  for (const auto& kv : *o) {
    if (kv.key() == "text") {
      auto t = clean_text(&kv.value(), "text");
      if (!t) return Error{t.error()};
      c.text = *t;
    } else if (kv.key() == "public") {
      if (!kv.value().is_bool()) return Error{"public must be true or false"};
      c.public_reply = kv.value().get_bool();
    } else {
      return unknown_field(kv.key());
    }
  }
  if (c.text.empty()) return Error{"text must be a string"};
  return c;
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (char ch : key)
    if (ch < 0x21 || ch > 0x7e) return false;
  return true;
}

Result<TicketFilter> parse_list_query(const std::map<std::string, std::string>& q,
                                      const std::string& department) {
  TicketFilter f;
  f.department = department;
  for (const auto& [k, v] : q) {
    if (k == "status") {
      if (v != "open" && v != "closed" && v != "any")
        return Error{"status must be open, closed or any"};
      f.status = v == "any" ? "" : v;
    } else if (k == "department") {
      if (!department.empty() && v != department)
        return Error{"a department may list only its own tickets"};
      if (v.empty() || v.size() > 64) return Error{"department must be a department's id"};
      f.department = v;
    } else if (k == "after") {
      try {
        std::size_t used = 0;
        f.after_id = std::stoll(v, &used);
        if (used != v.size() || f.after_id < 0)
          return Error{"after must be a cursor from a previous page"};
      } catch (...) {
        return Error{"after must be a cursor from a previous page"};
      }
    } else if (k == "priority") {
      auto p = parse_priority(v);
      if (!p) return Error{"priority must be urgent, high, normal or low"};
      f.priority = static_cast<int>(*p);
    } else if (k == "category") {
      if (v.empty() || v.size() > 64) return Error{"category must be a category's id"};
      f.category = v;
    } else if (k == "since") {
      // A day ("2026-11-01", midnight UTC) or a time ("2026-11-01T09:00:00Z").
      const int64_t at = parse_iso8601(v.size() == 10 ? v + "T00:00:00Z" : v);
      if (at <= 0) return Error{"since must be a date (2026-11-01) or an ISO 8601 time"};
      f.created_since_ms = at;
    } else if (k == "q") {
      if (v.empty() || v.size() > 200) return Error{"q must be 1 to 200 bytes"};
      f.text = text::nfc(v);
    } else if (k == "limit") {
      try {
        std::size_t used = 0;
        int n = std::stoi(v, &used);
        if (used != v.size() || n < 1 || n > kMaxListLimit)
          return Error{"limit must be between 1 and " + std::to_string(kMaxListLimit)};
        f.limit = n;
      } catch (...) {
        return Error{"limit must be between 1 and " + std::to_string(kMaxListLimit)};
      }
    } else {
      return Error{"unknown parameter \"" + k + "\""};
    }
  }
  return f;
}

json::object ticket_json(const TicketRow& t) {
  json::object o;
  o["ticket"] = t.number;
  o["status"] = t.status;
  o["department"] = t.department;
  o["category"] = t.category;
  o["priority"] = std::string(to_string(t.priority));
  o["platform"] = t.platform;
  o["account"] = t.account;
  o["mention_id"] = t.mention_id;
  o["author"] = t.author_acct;
  o["text"] = t.text;
  o["language"] = t.language;
  o["visibility"] = std::string(to_string(t.visibility));
  o["rule"] = t.rule;
  json::array tags;
  for (const auto& tag : t.tags) tags.emplace_back(tag);
  o["tags"] = std::move(tags);
  o["hidden"] = t.hidden;
  o["notify"] = t.notify;
  if (!t.neighbourhood.empty()) o["neighbourhood"] = t.neighbourhood;
  o["reopened"] = t.reopened;
  o["created_at"] = iso8601_utc(t.created_at_ms);
  o["updated_at"] = iso8601_utc(t.updated_at_ms);
  if (t.status == "closed") {
    o["resolution"] = t.resolution;
    o["closed_by"] = t.closed_by;
    o["closed_at"] = iso8601_utc(t.closed_at_ms);
  }
  return o;
}

std::string error_json(std::string_view message) {
  json::object o;
  o["error"] = message;
  return json::serialize(o);
}

json::object events_json(const std::string& number, const std::vector<EventRow>& events) {
  json::array arr;
  for (const auto& e : events) {
    json::object o;
    o["at"] = iso8601_utc(e.at_ms);
    o["actor"] = e.actor;
    o["kind"] = e.kind;
    o["detail"] = e.detail;
    arr.push_back(std::move(o));
  }
  json::object out;
  out["ticket"] = number;
  out["events"] = std::move(arr);
  return out;
}

json::object notifications_json(const std::string& number,
                                const std::vector<NotificationRow>& rows) {
  json::array arr;
  for (const auto& n : rows) {
    json::object o;
    o["id"] = n.id;
    o["event"] = n.event;
    o["department"] = n.department;
    o["urgent"] = n.urgent;
    o["state"] = n.state;
    o["attempts"] = n.attempts;
    o["last_status"] = n.last_status;
    o["last_error"] = n.last_error;
    o["created_at"] = iso8601_utc(n.created_at_ms);
    if (n.delivered_at_ms > 0)
      o["delivered_at"] = iso8601_utc(n.delivered_at_ms);
    else
      o["delivered_at"] = nullptr;
    if (n.state == "pending")
      o["next_attempt_at"] = iso8601_utc(n.next_attempt_at_ms);
    else
      o["next_attempt_at"] = nullptr;
    arr.push_back(std::move(o));
  }
  json::object out;
  out["ticket"] = number;
  out["notifications"] = std::move(arr);
  return out;
}

}  // namespace sotong::hook
