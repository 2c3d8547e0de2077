#include "daemon/notification.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <set>

#include "daemon/hook_auth.hpp"
#include "daemon/text/personal_data.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::notification {

namespace json = boost::json;

namespace {

// A chat message is read at a glance: the start of the text says what it is about.
constexpr std::size_t kSlackTextGraphemes = 280;
// A receiver's Retry-After is honoured up to this: beyond it the row's own schedule decides.
constexpr std::chrono::milliseconds kMaxRetryAfter{3600 * 1000};
// What of a refusing receiver's answer is kept in last_error.
constexpr std::size_t kMaxErrorBodyBytes = 200;

// Slack's and Mattermost's markup takes these three as controls.
std::string slack_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

std::string slack_line(const NotificationRow& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.payload, ec);
  const json::object empty;
  const json::object& p = !ec && v.is_object() ? v.as_object() : empty;
  auto field = [&](const char* k) {
    auto it = p.find(k);
    return it != p.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                    : std::string();
  };
  std::string line = r.urgent ? "*URGENT* " : "";
  line += "[" + slack_escape(r.ticket_number) + "] " + slack_escape(r.event);
  if (const auto from = field("from"); !from.empty()) line += " from " + slack_escape(from);
  line += " · " + slack_escape(r.department) + " · " + slack_escape(field("category")) + " · " +
          slack_escape(field("priority"));
  const std::string text = field("text");
  if (!text.empty()) {
    auto shown = text::grapheme_prefix(text, kSlackTextGraphemes);
    line += "\n> " + slack_escape(shown) + (shown.size() < text.size() ? "…" : "");
  }
  return line;
}

}  // namespace

bool urgent(const TicketRow& t) {
  return t.priority == Priority::kUrgent || t.notify;
}

std::string payload(const TicketRow& t, std::string_view event, const std::string& from,
                    int64_t now_ms) {
  json::object o;
  o["event"] = event;
  o["ticket"] = t.number;
  o["department"] = t.department;
  if (!from.empty()) o["from"] = from;
  o["category"] = t.category;
  o["priority"] = std::string(to_string(t.priority));
  o["urgent"] = urgent(t);
  o["status"] = t.status;
  o["language"] = t.language;
  o["text"] = text::mask_personal_data(t.text);
  o["hidden"] = t.hidden;
  if (!t.neighbourhood.empty()) o["neighbourhood"] = t.neighbourhood;
  o["created_at"] = iso8601_utc(t.created_at_ms);
  o["at"] = iso8601_utc(now_ms);
  return json::serialize(o);
}

std::string body(const std::vector<NotificationRow>& rows, std::string_view format) {
  if (format == "slack") {
    std::string text;
    if (rows.size() > 1) text = std::to_string(rows.size()) + " tickets:\n";
    for (const auto& r : rows)
      text += (text.empty() || text.back() == '\n' ? "" : "\n\n") + slack_line(r);
    json::object o;
    o["text"] = text;
    return json::serialize(o);
  }
  json::array list;
  for (const auto& r : rows) {
    // The id first, then the payload as queued; the id is the receiver's key for duplicates.
    json::object n;
    n["id"] = r.id;
    boost::system::error_code ec;
    auto v = json::parse(r.payload, ec);
    if (!ec && v.is_object())
      for (const auto& kv : v.as_object()) n[kv.key()] = kv.value();
    list.push_back(std::move(n));
  }
  json::object o;
  o["notifications"] = std::move(list);
  return json::serialize(o);
}

std::vector<std::pair<std::string, std::string>> headers(const std::vector<NotificationRow>& rows,
                                                         const std::string& secret,
                                                         std::string_view target,
                                                         std::string_view body, int64_t now_s) {
  std::string ids, events;
  std::set<std::string> seen;
  for (const auto& r : rows) {
    ids += (ids.empty() ? "" : ",") + std::to_string(r.id);
    if (seen.insert(r.event).second) events += (events.empty() ? "" : ",") + r.event;
  }
  std::vector<std::pair<std::string, std::string>> h{
      {"Content-Type", "application/json; charset=utf-8"},
      {"X-Sotong-Delivery", ids},
      {"X-Sotong-Event", events},
  };
  if (!secret.empty()) {
    h.emplace_back("X-Sotong-Timestamp", std::to_string(now_s));
    h.emplace_back("X-Sotong-Signature",
                   "sha256=" + hook::signature_hex(secret, now_s, "POST", target, body));
  }
  return h;
}

Result<Destination> destination(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return Error{"the webhook URL is not a valid URL"};  // it may hold a secret
  auto base = parse_endpoint(url);
  // Not base.error(): it quotes the URL.
  if (!base) return Error{"the webhook URL must be http(s) with a host"};
  Destination d;
  d.endpoint = std::move(*base);
  // The whole path and query go in the target, as sent and as signed; none in the prefix.
  d.endpoint.path_prefix.clear();
  d.target = std::string(u->encoded_path());
  if (d.target.empty()) d.target = "/";
  if (u->has_query()) d.target += "?" + std::string(u->encoded_query());
  return d;
}

Verdict judge(int status, std::string_view retry_after_header, std::string_view body) {
  Verdict v;
  if (status >= 200 && status < 300) {
    v.kind = Verdict::Kind::kDelivered;
    return v;
  }
  v.error = "HTTP " + std::to_string(status);
  const auto said = text::sanitize_utf8(body.substr(0, kMaxErrorBodyBytes));
  if (!said.empty()) v.error += ": " + said;
  if (status == 408 || status == 429 || status >= 500 || (status >= 300 && status < 400)) {
    v.kind = Verdict::Kind::kRetry;
    int64_t secs = 0;
    const auto* end = retry_after_header.data() + retry_after_header.size();
    // Seconds only: an HTTP date is rare from a webhook receiver, and the backoff stands in.
    if (auto [p, ec] = std::from_chars(retry_after_header.data(), end, secs);
        ec == std::errc() && p == end && secs > 0)
      v.retry_after = std::min(std::chrono::milliseconds(secs * 1000), kMaxRetryAfter);
    return v;
  }
  v.kind = Verdict::Kind::kRefused;
  return v;
}

Verdict judge_failure(const std::string& error) {
  return Verdict{Verdict::Kind::kRetry, std::chrono::milliseconds(0), error};
}

std::chrono::milliseconds backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                  int attempts) {
  const int shift = std::clamp(attempts, 0, 30);
  const int64_t ms = initial.count() << std::min(shift, 20);
  return std::chrono::milliseconds(std::min<int64_t>(ms, max.count()));
}

}  // namespace sotong::notification
