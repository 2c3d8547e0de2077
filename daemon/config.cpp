// One file for the configuration's loader: every section's parsing shares the Ctx (file and
// positions), the secret resolution and the error collection, and the checks that span
// sections (tokens unique across departments, a posting budget below the account's platform
// limit) need them all in one place.
#include "daemon/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/config_parse.hpp"
#include "daemon/store/db.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;
using namespace config_parse;  // NOLINT(google-build-using-namespace)

// A config file is small; a bigger one is a mistake or an attack on the parser.
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

Result<AccountConfig> parse_account(const Ctx& c, const YAML::Node& n, const fs::path& base) {
  if (!n.IsMap()) return c.err(n, "an account must be a mapping");
  if (!n["platform"]) return c.err(n, "account is missing platform");
  auto platform = scalar(c, n["platform"], "platform");
  if (!platform) return Error{platform.error()};
  if (*platform != "mastodon" && *platform != "x")
    return c.err(n["platform"], "platform must be mastodon or x");
  std::set<std::string> known{"name",
                              "platform",
                              "base_url",
                              "poll_interval_seconds",
                              "request_timeout_seconds",
                              "ticket_prefix",
                              "templates_dir"};
  if (*platform == "mastodon") {
    known.merge(secret_fields({"token"}));
    known.insert({"streaming", "idempotency_window_seconds", "posts_per_3_hours"});
  } else {
    known.merge(secret_fields({"consumer_key", "consumer_secret", "access_token",
                               "access_token_secret", "bearer_token"}));
    known.insert({"api_version", "mentions_per_window", "posts_per_window", "posts_per_day"});
  }
  known.insert("posts_per_hour");
  if (auto s = check_keys(c, n, known, *platform + " account"); !s) return Error{s.error()};
  AccountConfig a;
  a.platform = *platform;
  if (a.platform == "x") a.base_url = "https://api.x.com";
  for (const char* req : {"name", "base_url"}) {
    if (std::string(req) == "base_url" && a.platform == "x") continue;
    if (!n[req]) return c.err(n, std::string("account is missing ") + req);
  }
  auto name = scalar(c, n["name"], "name");
  if (!name) return Error{name.error()};
  a.name = *name;
  if (n["base_url"]) {
    auto url = scalar(c, n["base_url"], "base_url");
    if (!url) return Error{url.error()};
    if (url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0)
      return c.err(n["base_url"],
                   "base_url must start with https:// (or http:// for a local sandbox)");
    a.base_url = *url;
  }
  if (n["templates_dir"]) {
    auto t = scalar(c, n["templates_dir"], "templates_dir");
    if (!t) return Error{t.error()};
    a.templates_dir = base / *t;
  }
  if (n["ticket_prefix"]) {
    auto p = scalar(c, n["ticket_prefix"], "ticket_prefix");
    if (!p || !valid_prefix(*p))
      return c.err(n["ticket_prefix"], "ticket_prefix must be 1-8 of A-Z and 0-9");
    a.ticket_prefix = *p;
  }
  while (!a.base_url.empty() && a.base_url.back() == '/') a.base_url.pop_back();
  if (n["streaming"]) {
    auto b = boolean(c, n["streaming"], "streaming");
    if (!b) return Error{b.error()};
    a.streaming = *b;
  }
  if (n["poll_interval_seconds"]) {
    auto v = integer(c, n["poll_interval_seconds"], "poll_interval_seconds", 1, 3600);
    if (!v) return Error{v.error()};
    a.poll_interval = std::chrono::seconds(*v);
  }
  if (n["request_timeout_seconds"]) {
    auto v = integer(c, n["request_timeout_seconds"], "request_timeout_seconds", 1, 300);
    if (!v) return Error{v.error()};
    a.request_timeout = std::chrono::seconds(*v);
  }
  if (n["idempotency_window_seconds"]) {
    auto v = integer(c, n["idempotency_window_seconds"], "idempotency_window_seconds", 0, 3600);
    if (!v) return Error{v.error()};
    a.idempotency_window = std::chrono::seconds(*v);
  }
  if (n["posts_per_3_hours"]) {
    auto v = integer(c, n["posts_per_3_hours"], "posts_per_3_hours", 3, 10000000);
    if (!v) return Error{v.error()};
    a.posts_per_3_hours = static_cast<int>(*v);
  }
  if (n["posts_per_hour"]) {
    auto v = integer(c, n["posts_per_hour"], "posts_per_hour", 1, 100000);
    if (!v) return Error{v.error()};
    a.posts_per_hour = static_cast<int>(*v);
  }
  if (a.platform == "mastodon") {
    auto tok = resolve_secret(c, n, base, "token", true);
    if (!tok) return Error{tok.error()};
    a.token = std::move(*tok);
    return a;
  }
  struct Secret {
    const char* name;
    std::string* out;
    bool required;
  };
  for (const Secret& sec : {Secret{"consumer_key", &a.consumer_key, true},
                            Secret{"consumer_secret", &a.consumer_secret, true},
                            Secret{"access_token", &a.access_token, true},
                            Secret{"access_token_secret", &a.access_token_secret, true},
                            Secret{"bearer_token", &a.bearer_token, false}}) {
    auto v = resolve_secret(c, n, base, sec.name, sec.required);
    if (!v) return Error{v.error()};
    *sec.out = std::move(*v);
  }
  if (n["api_version"]) {
    auto v = scalar(c, n["api_version"], "api_version");
    if (!v) return Error{v.error()};
    if (*v != "2.164" && *v != "2.167")
      return c.err(n["api_version"],
                   "api_version must be 2.164 (tweet.fields) or 2.167 (post.fields)");
    a.x_api_version = *v;
  }
  struct Limit {
    const char* name;
    int* out;
  };
  for (const Limit& l :
       {Limit{"mentions_per_window", &a.mentions_per_window},
        Limit{"posts_per_window", &a.posts_per_window}, Limit{"posts_per_day", &a.posts_per_day}}) {
    if (!n[l.name]) continue;
    auto v = integer(c, n[l.name], l.name, 1, 10000000);
    if (!v) return Error{v.error()};
    *l.out = static_cast<int>(*v);
  }
  return a;
}

// The platforms' own posting limits per hour, and the budget kept below them by default.
int platform_posts_per_hour(const AccountConfig& a) {
  if (a.platform == "x") return std::min(a.posts_per_window * 4, a.posts_per_day);
  return std::max(1, a.posts_per_3_hours / 3);  // Mastodon: 300 per 3 hours by default
}

Result<Config> parse(const Ctx& c, const YAML::Node& root, const fs::path& base) {
  Config cfg;
  Errors e;
  if (!e.ok(check_keys(c, root,
                       {"ticket_prefix",
                        "store",
                        "rules_dir",
                        "templates_dir",
                        "holidays_dir",
                        "fallback_language",
                        "log_level",
                        "log_format",
                        "hook",
                        "sender",
                        "accounts",
                        "departments",
                        "time_zone",
                        "business_hours",
                        "status_url",
                        "limits",
                        "threads",
                        "watch_files",
                        "store_retry_seconds",
                        "admins",
                        "open311",
                        "notifications"},
                       "the configuration")))
    return Error{e.list.front()};
  if (root["ticket_prefix"]) {
    auto p = scalar(c, root["ticket_prefix"], "ticket_prefix");
    if (e.ok(p)) {
      if (!valid_prefix(*p))
        e.add(c.where(root["ticket_prefix"]) + ": ticket_prefix must be 1-8 of A-Z and 0-9");
      else
        cfg.ticket_prefix = *p;
    }
  }
  auto path_field = [&](const char* key, fs::path& out) {
    if (!root[key]) {
      if (!out.empty()) out = base / out;
      return;
    }
    auto v = scalar(c, root[key], key);
    if (!e.ok(v)) return;
    out = base / *v;
  };
  if (root["store"]) {
    auto v = scalar(c, root["store"], "store");
    if (e.ok(v)) {
      std::string s = *v;
      if (s.rfind("sqlite:", 0) == 0) s = s.substr(7);
      if (s.empty())
        e.add(c.where(root["store"]) + ": store must name an SQLite file or a postgresql:// URL");
      else
        cfg.store = db::is_postgres_url(s) ? s : (base / s).string();
    }
  } else {
    cfg.store = (base / cfg.store).string();
  }
  path_field("rules_dir", cfg.rules_dir);
  path_field("templates_dir", cfg.templates_dir);
  path_field("holidays_dir", cfg.holidays_dir);
  if (root["fallback_language"]) {
    auto v = scalar(c, root["fallback_language"], "fallback_language");
    if (e.ok(v)) cfg.fallback_language = *v;
  }
  if (root["time_zone"]) {
    auto v = scalar(c, root["time_zone"], "time_zone");
    if (e.ok(v)) {
      // Checked here too, so a wrong zone is listed with the configuration's other errors.
      if (auto zone = Calendar::load(*v, {}); !zone)
        e.add(c.where(root["time_zone"]) + ": " + zone.error());
      else
        cfg.time_zone = *v;
    }
  }
  if (root["status_url"]) {
    auto v = scalar(c, root["status_url"], "status_url");
    if (e.ok(v)) {
      if (v->rfind("https://", 0) != 0 || v->find("{ticket}") == std::string::npos ||
          v->find_first_of(" \n\t") != std::string::npos)
        e.add(c.where(root["status_url"]) +
              ": status_url must be an https:// address with {ticket} where the number goes");
      else
        cfg.status_url = *v;
    }
  }
  if (root["log_level"]) {
    auto v = scalar(c, root["log_level"], "log_level");
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
    if (e.ok(v)) {
      if (!kLevels.contains(*v))
        e.add(c.where(root["log_level"]) +
              ": log_level must be one of trace, debug, info, warn, error");
      else
        cfg.log_level = *v;
    }
  }
  if (root["log_format"]) {
    auto v = scalar(c, root["log_format"], "log_format");
    if (e.ok(v)) {
      if (*v != "logfmt" && *v != "json")
        e.add(c.where(root["log_format"]) + ": log_format must be logfmt or json");
      else
        cfg.log_format = *v;
    }
  }
  if (root["watch_files"]) {
    auto v = boolean(c, root["watch_files"], "watch_files");
    if (e.ok(v)) cfg.watch_files = *v;
  }
  if (const auto hook = root["hook"]) parse_hook(c, hook, base, cfg, e);
  if (root["store_retry_seconds"]) {
    auto v = integer(c, root["store_retry_seconds"], "store_retry_seconds", 1, 300);
    if (e.ok(v)) cfg.store_retry_seconds = static_cast<int>(*v);
  }
  if (const auto sender = root["sender"];
      sender && e.ok(check_keys(c, sender, {"initial_backoff_ms", "max_backoff_ms"}, "sender"))) {
    if (sender["initial_backoff_ms"]) {
      auto v = integer(c, sender["initial_backoff_ms"], "initial_backoff_ms", 10, 600000);
      if (e.ok(v)) cfg.sender_initial_backoff = std::chrono::milliseconds(*v);
    }
    if (sender["max_backoff_ms"]) {
      auto v = integer(c, sender["max_backoff_ms"], "max_backoff_ms", 100, 86400000);
      if (e.ok(v)) cfg.sender_max_backoff = std::chrono::milliseconds(*v);
    }
  }
  if (const auto limits = root["limits"];
      limits && e.ok(check_keys(c, limits, {"acks_per_author_per_hour"}, "limits"))) {
    if (limits["acks_per_author_per_hour"]) {
      auto v = integer(c, limits["acks_per_author_per_hour"], "acks_per_author_per_hour", 0, 1000);
      if (e.ok(v)) cfg.acks_per_author_per_hour = static_cast<int>(*v);
    }
  }
  if (const auto threads = root["threads"];
      threads && e.ok(check_keys(c, threads, {"ack_additions"}, "threads"))) {
    if (threads["ack_additions"]) {
      auto v = boolean(c, threads["ack_additions"], "ack_additions");
      if (e.ok(v)) cfg.ack_thread_additions = *v;
    }
  }
  cfg.business_hours.week.fill({{9 * 60, 18 * 60}});
  cfg.business_hours.week[5].clear();
  cfg.business_hours.week[6].clear();
  if (const auto hours = root["business_hours"]) {
    auto h = parse_opening_hours(c.file, hours);
    if (e.ok(h)) {
      if (h->empty())
        e.add(c.where(hours) + ": business_hours are never open");
      else
        cfg.business_hours = *h;
    }
  }
  const auto accounts = root["accounts"];
  if (!accounts || !accounts.IsSequence() || accounts.size() == 0) {
    e.add(c.where(accounts ? accounts : root) + ": accounts must be a non-empty list");
  } else {
    std::set<std::string> names;
    for (const auto& a : accounts) {
      auto acc = parse_account(c, a, base);
      if (!e.ok(acc)) continue;
      if (!names.insert(acc->name).second) {
        e.add(c.where(a) + ": duplicate account name " + acc->name);
        continue;
      }
      const int platform_limit = platform_posts_per_hour(*acc);
      if (acc->posts_per_hour == 0) {
        acc->posts_per_hour = std::max(1, platform_limit * 8 / 10);
      } else if (acc->posts_per_hour > platform_limit) {
        e.add(c.where(a["posts_per_hour"]) + ": posts_per_hour " +
              std::to_string(acc->posts_per_hour) + " is above the platform's limit of " +
              std::to_string(platform_limit) + " per hour; stay below it");
        continue;
      }
      cfg.accounts.push_back(std::move(*acc));
    }
  }
  const auto deps = root["departments"];
  if (!deps || !deps.IsMap() || deps.size() == 0)
    e.add(c.where(deps ? deps : root) + ": departments must be a non-empty mapping");
  else
    parse_departments(c, deps, base, cfg, e);
  if (const auto admins = root["admins"]) parse_admins(c, admins, base, cfg, e);
  check_unique_tokens(c, root, cfg, e);
  if (const auto o = root["open311"]) parse_open311(c, o, cfg, e);
  if (const auto n = root["notifications"]) parse_notifications(c, n, cfg, e);
  if (!e.list.empty()) {
    std::string all;
    for (const auto& m : e.list) all += (all.empty() ? "" : "\n") + m;
    return Error{all};
  }
  return cfg;
}

}  // namespace

std::string Config::department_name(const std::string& id, const std::string& language) const {
  auto it = departments.find(id);
  if (it == departments.end() || it->second.names.empty()) return id;
  auto n = it->second.names.find(language);
  if (n != it->second.names.end()) return n->second;
  n = it->second.names.find(fallback_language);
  if (n != it->second.names.end()) return n->second;
  return it->second.names.begin()->second;
}

std::string Config::department_eta(const std::string& id, const std::string& language) const {
  auto it = departments.find(id);
  if (it == departments.end() || it->second.eta.empty()) return {};
  auto n = it->second.eta.find(language);
  if (n != it->second.eta.end()) return n->second;
  n = it->second.eta.find(fallback_language);
  if (n != it->second.eta.end()) return n->second;
  return it->second.eta.begin()->second;
}

Result<Config> load_config(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return Error{path.string() + ": " + ec.message()};
  if (size > kMaxConfigBytes) return Error{path.string() + ": larger than 1 MiB"};
  Ctx c{path.string()};
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    return Error{path.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                 std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  try {
    auto cfg = parse(c, root, path.parent_path().empty() ? fs::path(".") : path.parent_path());
    if (cfg) cfg->source = path;
    return cfg;
  } catch (const YAML::Exception& e) {
    return Error{path.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                 std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
}

}  // namespace sotong
