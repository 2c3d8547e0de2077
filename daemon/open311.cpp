#include "daemon/open311.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <set>

#include "daemon/hook_parse.hpp"
#include "daemon/text/personal_data.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::open311 {

namespace json = boost::json;

std::vector<Service> services(const Open311Config& cfg,
                              const std::vector<std::string>& rule_categories) {
  std::set<std::string> codes(rule_categories.begin(), rule_categories.end());
  for (const auto& [code, s] : cfg.services) codes.insert(code);
  std::vector<Service> out;
  for (const auto& code : codes) {
    Service s{code, code, "", ""};
    if (auto it = cfg.services.find(code); it != cfg.services.end()) {
      s.name = it->second.name.empty() ? code : it->second.name;
      s.description = it->second.description;
      s.group = it->second.group;
    }
    out.push_back(std::move(s));
  }
  return out;
}

json::array services_json(const std::vector<Service>& services) {
  json::array arr;
  for (const auto& s : services) {
    json::object o;
    o["service_code"] = s.code;
    o["service_name"] = s.name;
    o["description"] = s.description;
    o["metadata"] = false;  // no attributes to fill in: requests are read, never posted here
    o["type"] = "realtime";
    o["keywords"] = "";
    o["group"] = s.group;
    arr.push_back(std::move(o));
  }
  return arr;
}

std::string error_json(const Failure& f) {
  json::object o;
  o["code"] = f.code;
  o["description"] = f.description;
  json::array arr;
  arr.push_back(std::move(o));
  return json::serialize(arr);
}

std::optional<Failure> check_jurisdiction(const std::map<std::string, std::string>& query,
                                          const Open311Config& cfg) {
  auto it = query.find("jurisdiction_id");
  if (it == query.end() || cfg.jurisdiction_id.empty() || it->second == cfg.jurisdiction_id)
    return std::nullopt;
  return Failure{404, "jurisdiction_id not found; this endpoint serves " + cfg.jurisdiction_id};
}

namespace {

// "a,b,,c" → {"a", "b", "", "c"}
std::vector<std::string> split_commas(const std::string& v) {
  std::vector<std::string> out;
  for (std::size_t from = 0; from <= v.size();) {
    auto comma = v.find(',', from);
    if (comma == std::string::npos) comma = v.size();
    out.push_back(v.substr(from, comma - from));
    from = comma + 1;
  }
  return out;
}

bool digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

// A W3C datetime or a day; nullopt when it is neither.
std::optional<int64_t> parse_date(std::string s, const Calendar& cal) {
  if (s.size() == 10 && digits(s.substr(0, 4)) && s[4] == '-' && digits(s.substr(5, 2)) &&
      s[7] == '-' && digits(s.substr(8, 2))) {
    const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)),
              d = std::stoi(s.substr(8, 2));
    if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
    return cal.to_utc_ms(y, m, d, 0);
  }
  if (s.size() < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || !digits(s.substr(11, 2)) ||
      !digits(s.substr(14, 2)) || !digits(s.substr(17, 2)))
    return std::nullopt;
  std::size_t pos = 19;
  if (s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  if (pos < s.size() && s[pos] == ' ') s[pos] = '+';  // a "+" sent unencoded
  const std::string_view zone = std::string_view(s).substr(pos);
  const bool offset = zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
                      digits(zone.substr(1, 2)) && zone[3] == ':' && digits(zone.substr(4, 2));
  if (zone != "Z" && !offset) return std::nullopt;
  const int64_t at = parse_iso8601(s);
  if (at < 0) return std::nullopt;
  return at;
}

}  // namespace

Result<RequestsQuery> parse_requests_query(const std::map<std::string, std::string>& query,
                                           const Calendar& cal, int64_t now_ms) {
  RequestsQuery q;
  q.filter.public_only = true;
  q.filter.newest_first = true;
  q.filter.limit = kMaxRequests;
  std::optional<int64_t> start, end;
  for (const auto& [k, v] : query) {
    if (k == "service_request_id") {
      auto listed = split_commas(v);
      for (auto& id : listed) {
        if (id.empty()) continue;
        if (!hook::valid_ticket_number(id))
          return Error{"service_request_id must list ticket numbers like SP-2026-000123"};
        q.ids.push_back(std::move(id));
      }
      if (q.ids.size() > kMaxRequestIds)
        return Error{"service_request_id may list at most " + std::to_string(kMaxRequestIds) +
                     " ids"};
    } else if (k == "service_code") {
      if (v.empty() || v.size() > 64) return Error{"service_code must be a service's code"};
      q.filter.category = v;
    } else if (k == "status") {
      const auto parts = split_commas(v);
      const std::set<std::string> wanted(parts.begin(), parts.end());
      for (const auto& s : wanted)
        if (s != "open" && s != "closed") return Error{"status must be open, closed or both"};
      q.filter.status = wanted.size() == 1 ? *wanted.begin() : "";
    } else if (k == "start_date" || k == "end_date") {
      auto at = parse_date(v, cal);
      if (!at) return Error{k + " must be a W3C datetime like 2026-03-01T09:00:00+09:00"};
      // A day alone as end_date means the whole of that day.
      if (k == "end_date" && v.size() == 10) *at += 24LL * 3600 * 1000 - 1;
      (k == "start_date" ? start : end) = *at;
    }
  }
  if (start && end) {
    if (*end < *start) return Error{"end_date is before start_date"};
    if (*end - *start > kWindowMs) return Error{"start_date to end_date may span 90 days at most"};
  } else if (start) {
    end = *start + kWindowMs;
  } else if (end) {
    start = *end - kWindowMs;
  } else {
    start = now_ms - kWindowMs;
  }
  q.filter.created_since_ms = *start;
  if (end) q.filter.created_until_ms = *end + 1;  // end_date is the latest one included
  return q;
}

bool publishable(const TicketRow& t) {
  return t.visibility == Visibility::kPublic && !t.hidden;
}

std::string public_text(std::string_view text) {
  // Handles first: a fediverse handle (@user@instance.example) also reads as an e-mail.
  auto handle_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const bool starts_word = i == 0 || !handle_char(text[i - 1]);
    if (text[i] == '@' && starts_word && i + 1 < text.size() && handle_char(text[i + 1])) {
      // @user, and @user@instance.example on the fediverse.
      std::size_t j = i + 1;
      while (j < text.size() && handle_char(text[j])) ++j;
      if (j + 1 < text.size() && text[j] == '@' && handle_char(text[j + 1])) {
        ++j;
        while (j < text.size() && (handle_char(text[j]) || text[j] == '.' || text[j] == '-')) ++j;
      }
      out += "[handle]";
      i = j;
      continue;
    }
    out += text[i++];
  }
  return text::mask_personal_data(out);
}

std::string w3c_datetime(const Calendar& cal, int64_t utc_ms) {
  using namespace std::chrono;
  const LocalTime lt = cal.local(utc_ms);
  const int64_t utc_minutes = utc_ms >= 0 ? utc_ms / 60000 : (utc_ms - 59999) / 60000;
  const int64_t second = (utc_ms - utc_minutes * 60000) / 1000;
  const int64_t local_days = sys_days(year{lt.year} / month{static_cast<unsigned>(lt.month)} /
                                      day{static_cast<unsigned>(lt.day)})
                                 .time_since_epoch()
                                 .count();
  const int64_t offset = local_days * 1440 + lt.minute_of_day - utc_minutes;
  const int64_t abs_offset = offset < 0 ? -offset : offset;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", lt.year, lt.month,
                lt.day, lt.minute_of_day / 60, lt.minute_of_day % 60, static_cast<int>(second),
                offset < 0 ? '-' : '+', static_cast<int>(abs_offset / 60),
                static_cast<int>(abs_offset % 60));
  return buf;
}

json::object request_json(const TicketRow& t, const Config& cfg, const Calendar& cal,
                          const std::vector<Service>& services) {
  std::string service_name = t.category;
  for (const auto& s : services)
    if (s.code == t.category) service_name = s.name;
  const std::string& language = cfg.fallback_language;
  json::object o;
  o["service_request_id"] = t.number;
  o["status"] = t.status == "closed" ? "closed" : "open";
  o["status_notes"] = t.status == "closed" ? public_text(t.resolution) : "";
  o["service_name"] = service_name;
  o["service_code"] = t.category;
  o["description"] = public_text(t.text);
  o["agency_responsible"] = cfg.department_name(t.department, language);
  o["service_notice"] = cfg.department_eta(t.department, language);
  o["requested_datetime"] = w3c_datetime(cal, t.created_at_ms);
  o["updated_datetime"] = w3c_datetime(cal, t.updated_at_ms);
  o["expected_datetime"] = "";
  o["address"] = t.neighbourhood;
  o["address_id"] = "";
  o["zipcode"] = "";
  o["lat"] = nullptr;  // a mention carries no location we may publish
  o["long"] = nullptr;
  o["media_url"] = "";
  return o;
}

json::array requests_json(const std::vector<TicketRow>& rows, const Config& cfg,
                          const Calendar& cal, const std::vector<Service>& services) {
  json::array arr;
  for (const auto& t : rows)
    if (publishable(t)) arr.push_back(request_json(t, cfg, cal, services));
  return arr;
}

}  // namespace sotong::open311
