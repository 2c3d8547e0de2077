// The configuration's department side: the hook's listener and limits, the departments and
// admins with their credentials and webhooks, the notifications' retries, and the Open311 view.
#include <boost/url/parse.hpp>
#include <set>

#include "daemon/config.hpp"
#include "daemon/config_parse.hpp"

namespace sotong::config_parse {

namespace fs = std::filesystem;

namespace {

// token_sha256 (one hash or a list of them) and hmac_secret_{file,env,credential}.
Result<HookCredentials> parse_credentials(const Ctx& c, const YAML::Node& n, const fs::path& base,
                                          const std::string& who) {
  HookCredentials out;
  if (const auto t = n["token_sha256"]) {
    std::vector<YAML::Node> items;
    if (t.IsSequence()) {
      for (const auto& i : t) items.push_back(i);
      if (items.empty() || items.size() > 4)
        return c.err(t, "token_sha256 of " + who + " must list 1 to 4 hashes");
    } else {
      items.push_back(t);
    }
    for (const auto& i : items) {
      auto h = scalar(c, i, "token_sha256");
      if (!h) return Error{h.error()};
      if (!is_hex64(*h))
        return c.err(i, "token_sha256 must be 64 lower-case hex digits (sha256sum of the token)");
      out.token_sha256.push_back(*h);
    }
  }
  auto secret = resolve_secret(c, n, base, "hmac_secret", false);
  if (!secret) return Error{secret.error()};
  if (!secret->empty() && secret->size() < 32)
    return c.err(n, "the hmac secret of " + who + " must be at least 32 bytes");
  out.hmac_secret = std::move(*secret);
  if (out.token_sha256.empty() && out.hmac_secret.empty())
    return c.err(n, who + " is missing token_sha256 (or an hmac_secret_file, _env or _credential)");
  return out;
}

Result<WebhookConfig> parse_webhook(const Ctx& c, const YAML::Node& n, const fs::path& base,
                                    const std::string& who) {
  std::set<std::string> known{"url", "format", "batch_seconds"};
  known.merge(secret_fields({"secret"}));
  if (auto s = check_keys(c, n, known, "webhook of " + who); !s) return Error{s.error()};
  WebhookConfig w;
  if (!n["url"]) return c.err(n, "webhook of " + who + " is missing url");
  auto url = scalar(c, n["url"], "url");
  if (!url) return Error{url.error()};
  if ((url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) ||
      url->find_first_of(" \n\t") != std::string::npos || url->size() > 2000 ||
      !boost::urls::parse_absolute_uri(*url))
    return c.err(n["url"], "webhook url must be an https:// (or http://) address");
  w.url = *url;
  if (n["format"]) {
    auto f = scalar(c, n["format"], "format");
    if (!f) return Error{f.error()};
    if (*f != "json" && *f != "slack")
      return c.err(n["format"], "webhook format must be json or slack (also Mattermost)");
    w.format = *f;
  }
  if (n["batch_seconds"]) {
    auto b = integer(c, n["batch_seconds"], "batch_seconds", 0, 86400);
    if (!b) return Error{b.error()};
    w.batch = std::chrono::seconds(*b);
  }
  auto secret = resolve_secret(c, n, base, "secret", false);
  if (!secret) return Error{secret.error()};
  if (w.format == "json" && secret->size() < 32)
    return c.err(n, "webhook of " + who +
                        " needs a secret of at least 32 bytes (secret_file, secret_env or "
                        "secret_credential): receivers check the signature");
  w.secret = std::move(*secret);
  return w;
}

// Ids name departments and admins in URLs, logs and the X-Sotong-Client header.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char ch : id)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return false;
  return true;
}

}  // namespace

void parse_hook(const Ctx& c, const YAML::Node& hook, const fs::path& base, Config& cfg,
                Errors& e) {
  if (!e.ok(check_keys(
          c, hook,
          {"listen", "port", "max_body_bytes", "max_connections", "request_timeout_seconds",
           "idle_timeout_seconds", "requests_per_minute", "tls_cert_file", "tls_key_file"},
          "hook")))
    return;
  if (hook["listen"]) {
    auto v = scalar(c, hook["listen"], "listen");
    if (e.ok(v)) cfg.hook_listen = *v;
  }
  if (hook["port"]) {
    auto v = integer(c, hook["port"], "port", 0, 65535);
    if (e.ok(v)) cfg.hook_port = static_cast<uint16_t>(*v);
  }
  if (hook["max_body_bytes"]) {
    auto v = integer(c, hook["max_body_bytes"], "max_body_bytes", 1024, 1 << 20);
    if (e.ok(v)) cfg.hook_max_body_bytes = static_cast<std::size_t>(*v);
  }
  if (hook["max_connections"]) {
    auto v = integer(c, hook["max_connections"], "max_connections", 1, 10000);
    if (e.ok(v)) cfg.hook_max_connections = static_cast<int>(*v);
  }
  if (hook["request_timeout_seconds"]) {
    auto v = integer(c, hook["request_timeout_seconds"], "request_timeout_seconds", 1, 600);
    if (e.ok(v)) cfg.hook_request_timeout = std::chrono::seconds(*v);
  }
  if (hook["idle_timeout_seconds"]) {
    auto v = integer(c, hook["idle_timeout_seconds"], "idle_timeout_seconds", 1, 3600);
    if (e.ok(v)) cfg.hook_idle_timeout = std::chrono::seconds(*v);
  }
  if (hook["requests_per_minute"]) {
    auto v = integer(c, hook["requests_per_minute"], "requests_per_minute", 0, 1000000);
    if (e.ok(v)) cfg.hook_requests_per_minute = static_cast<int>(*v);
  }
  for (auto [key, out] : {std::pair{"tls_cert_file", &cfg.hook_tls_cert_file},
                          std::pair{"tls_key_file", &cfg.hook_tls_key_file}}) {
    if (!hook[key]) continue;
    auto v = scalar(c, hook[key], key);
    if (e.ok(v)) *out = base / *v;
  }
  if (cfg.hook_tls_cert_file.empty() != cfg.hook_tls_key_file.empty())
    e.add(c.where(hook) + ": hook needs both tls_cert_file and tls_key_file, or neither");
}

void parse_departments(const Ctx& c, const YAML::Node& deps, const fs::path& base, Config& cfg,
                       Errors& e) {
  std::set<std::string> known{"name", "token_sha256", "hours", "eta", "webhook"};
  known.merge(secret_fields({"hmac_secret"}));
  for (const auto& kv : deps) {
    DepartmentConfig d;
    d.id = kv.first.as<std::string>();
    const auto& n = kv.second;
    if (!valid_id(d.id)) {
      e.add(c.where(kv.first) + ": department id \"" + d.id +
            "\" must be 1-64 of a-z, 0-9, _ and -");
      continue;
    }
    if (!e.ok(check_keys(c, n, known, "department " + d.id))) continue;
    if (n["name"]) {
      auto names = per_language(c, n["name"], "name", cfg.fallback_language);
      if (!e.ok(names)) continue;
      d.names = std::move(*names);
    }
    if (n["eta"]) {
      auto eta = per_language(c, n["eta"], "eta", cfg.fallback_language);
      if (!e.ok(eta)) continue;
      d.eta = std::move(*eta);
    }
    d.hours = cfg.business_hours;
    if (n["hours"]) {
      auto h = parse_opening_hours(c.file, n["hours"]);
      if (!e.ok(h)) continue;
      if (h->empty()) {
        e.add(c.where(n["hours"]) + ": department " + d.id + " is never open");
        continue;
      }
      d.hours = *h;
      d.own_hours = true;
    }
    auto auth = parse_credentials(c, n, base, "department " + d.id);
    if (!e.ok(auth)) continue;
    d.auth = std::move(*auth);
    if (n["webhook"]) {
      auto w = parse_webhook(c, n["webhook"], base, "department " + d.id);
      if (!e.ok(w)) continue;
      d.webhook = std::move(*w);
    }
    cfg.departments.emplace(d.id, std::move(d));
  }
}

void parse_admins(const Ctx& c, const YAML::Node& admins, const fs::path& base, Config& cfg,
                  Errors& e) {
  if (!admins.IsMap()) {
    e.add(c.where(admins) + ": admins must be a mapping of name to credentials");
    return;
  }
  std::set<std::string> known{"token_sha256"};
  known.merge(secret_fields({"hmac_secret"}));
  for (const auto& kv : admins) {
    AdminConfig a;
    a.id = kv.first.as<std::string>();
    if (!valid_id(a.id)) {
      e.add(c.where(kv.first) + ": admin name \"" + a.id + "\" must be 1-64 of a-z, 0-9, _ and -");
      continue;
    }
    if (cfg.departments.contains(a.id)) {
      e.add(c.where(kv.first) + ": admin " + a.id + " has a department's name; use another");
      continue;
    }
    if (!e.ok(check_keys(c, kv.second, known, "admin " + a.id))) continue;
    auto auth = parse_credentials(c, kv.second, base, "admin " + a.id);
    if (!e.ok(auth)) continue;
    a.auth = std::move(*auth);
    cfg.admins.emplace(a.id, std::move(a));
  }
}

void check_unique_tokens(const Ctx& c, const YAML::Node& root, Config& cfg, Errors& e) {
  std::map<std::string, std::string> owner;  // hash → who
  auto claim = [&](const std::string& who, const HookCredentials& a) {
    for (const auto& h : a.token_sha256) {
      auto [it, fresh] = owner.emplace(h, who);
      if (!fresh && it->second != who)
        e.add(c.where(root) + ": " + who + " has the same token as " + it->second +
              "; every department and admin needs its own");
    }
  };
  for (const auto& [id, d] : cfg.departments) claim("department " + id, d.auth);
  for (const auto& [id, a] : cfg.admins) claim("admin " + id, a.auth);
}

void parse_open311(const Ctx& c, const YAML::Node& n, Config& cfg, Errors& e) {
  if (!e.ok(check_keys(c, n, {"enabled", "jurisdiction_id", "services"}, "open311"))) return;
  if (n["enabled"]) {
    auto v = boolean(c, n["enabled"], "enabled");
    if (e.ok(v)) cfg.open311.enabled = *v;
  }
  if (n["jurisdiction_id"]) {
    auto v = scalar(c, n["jurisdiction_id"], "jurisdiction_id");
    if (e.ok(v)) cfg.open311.jurisdiction_id = *v;
  }
  const auto services = n["services"];
  if (!services) return;
  if (!services.IsMap()) {
    e.add(c.where(services) +
          ": open311 services must map a category to {name, description, group}");
    return;
  }
  for (const auto& kv : services) {
    const auto category = kv.first.as<std::string>();
    if (!e.ok(check_keys(c, kv.second, {"name", "description", "group"},
                         "open311 service " + category)))
      continue;
    Open311Service s;
    for (auto [key, out] : {std::pair{"name", &s.name}, std::pair{"description", &s.description},
                            std::pair{"group", &s.group}}) {
      if (!kv.second[key]) continue;
      auto v = scalar(c, kv.second[key], key);
      if (e.ok(v)) *out = *v;
    }
    if (s.name.empty()) s.name = category;
    cfg.open311.services.emplace(category, std::move(s));
  }
}

void parse_notifications(const Ctx& c, const YAML::Node& n, Config& cfg, Errors& e) {
  if (!e.ok(check_keys(c, n,
                       {"initial_backoff_ms", "max_backoff_ms", "give_up_after_hours",
                        "request_timeout_seconds"},
                       "notifications")))
    return;
  auto& out = cfg.notifications;
  if (n["initial_backoff_ms"]) {
    auto v = integer(c, n["initial_backoff_ms"], "initial_backoff_ms", 10, 600000);
    if (e.ok(v)) out.initial_backoff = std::chrono::milliseconds(*v);
  }
  if (n["max_backoff_ms"]) {
    auto v = integer(c, n["max_backoff_ms"], "max_backoff_ms", 100, 86400000);
    if (e.ok(v)) out.max_backoff = std::chrono::milliseconds(*v);
  }
  if (n["give_up_after_hours"]) {
    auto v = integer(c, n["give_up_after_hours"], "give_up_after_hours", 1, int64_t{24} * 14);
    if (e.ok(v)) out.give_up_after = std::chrono::hours(*v);
  }
  if (n["request_timeout_seconds"]) {
    auto v = integer(c, n["request_timeout_seconds"], "request_timeout_seconds", 1, 120);
    if (e.ok(v)) out.request_timeout = std::chrono::seconds(*v);
  }
}

}  // namespace sotong::config_parse
