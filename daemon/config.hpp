// Config: sotongd's configuration file (YAML), loaded and checked as a whole. Relative paths
// are resolved against the file's folder. Secrets (platform tokens) are never in the file
// itself: it names a file, an environment variable or a systemd credential that holds them.
// A plain value after load; errors name file:line:column and the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "daemon/calendar.hpp"
#include "daemon/util/digest.hpp"  // sha256_hex, for the token hashes
#include "daemon/util/result.hpp"

namespace sotong {

struct AccountConfig {
  std::string name;                     // our name for the account, e.g. "songpa"
  std::string platform;                 // "mastodon" or "x"
  std::string base_url;                 // e.g. https://mastodon.example; X: https://api.x.com
  std::string ticket_prefix;            // empty: the configuration's
  std::filesystem::path templates_dir;  // empty: the configuration's
  // Secrets, resolved at load; never logged.
  std::string token;  // Mastodon access token
  std::string consumer_key, consumer_secret, access_token, access_token_secret;  // X, OAuth 1.0a
  std::string bearer_token;  // X, OAuth 2.0 app-only, optional, for reading
  // X only.
  std::string x_api_version = "2.164";  // 2.167 says post.fields where 2.164 says tweet.fields
  int mentions_per_window = 300;        // per 15 minutes, per user
  int posts_per_window = 100;           // per 15 minutes, per user
  int posts_per_day = 10000;            // per 24 hours, per app
  // Our own budget per hour, below the platform's limit (0 at parse: 80% of the limit), so
  // a flood of mentions never gets the account suspended.
  int posts_per_hour = 0;
  // Mastodon only: past this age a retried reply is first looked for in the thread, since
  // the server forgets an Idempotency-Key after an hour.
  std::chrono::seconds idempotency_window{3300};
  int posts_per_3_hours = 300;  // the instance's status limit per account (Mastodon's default)
  bool streaming = true;
  std::chrono::seconds poll_interval{30};
  std::chrono::seconds request_timeout{15};
};

// How a caller of the hook proves who it is: a bearer token, kept as SHA-256 hashes (two
// while a token is being rotated), and for systems that sign their requests an HMAC-SHA256
// secret (see docs/api.md). A caller has at least one of the two.
struct HookCredentials {
  std::vector<std::string> token_sha256;  // lower-case hex
  std::string hmac_secret;                // never logged
};

// Where a department hears of its tickets: a signed JSON POST per event (see docs/api.md).
struct WebhookConfig {
  std::string url;              // empty: the department is not notified
  std::string secret;           // the HMAC-SHA256 key for X-Sotong-Signature; never logged
  std::string format = "json";  // "json", or "slack" (Slack and Mattermost incoming webhooks)
  // Non-urgent events wait up to this long to go out together; urgent ones go at once.
  std::chrono::seconds batch{0};
};

// How the notifications to departments' webhooks are retried (docs/notifications.md).
struct NotificationsConfig {
  std::chrono::milliseconds initial_backoff{2000};
  std::chrono::milliseconds max_backoff{600000};
  // After this long in the queue a notification not delivered is given up as failed: a day
  // covers a receiver's weekend-night outage without telling of day-old tickets forever.
  std::chrono::seconds give_up_after{24 * 3600};
  std::chrono::seconds request_timeout{10};
};

struct DepartmentConfig {
  std::string id;
  std::map<std::string, std::string> names;  // language -> display name
  std::map<std::string, std::string> eta;    // language -> "within 3 working days"
  OpeningHours hours;                        // the configuration's business_hours unless own
  bool own_hours = false;
  HookCredentials auth;
  WebhookConfig webhook;
};

// An administrator of the hook: reads and writes every department's tickets.
struct AdminConfig {
  std::string id;
  HookCredentials auth;
};

// One Open311 GeoReport v2 service, made from a category of the rules.
struct Open311Service {
  std::string name;
  std::string description;
  std::string group;
};

// The read-only Open311 GeoReport v2 view of the desk (public, personal data masked).
struct Open311Config {
  bool enabled = false;
  std::string jurisdiction_id;  // when set, a request naming another jurisdiction is refused
  // By category; a category of the rules without an entry is served under its own name.
  std::map<std::string, Open311Service> services;
};

struct Config {
  std::filesystem::path source;
  std::string ticket_prefix = "SP";
  // An SQLite file (relative to the config's folder) or a "postgresql://" URL. A password
  // belongs in a passfile (libpq's passfile= or PGPASSFILE), not here.
  std::string store = "sotong.db";
  // While the store refuses writes (disk full, read-only, server gone): how often a write is
  // tried again, and the least Retry-After the hook gives.
  int store_retry_seconds = 1;
  std::filesystem::path rules_dir = "rules";
  std::filesystem::path templates_dir = "templates";
  std::filesystem::path holidays_dir;  // empty: no public holidays
  std::string time_zone{Calendar::kDefaultZone};
  OpeningHours business_hours;        // default for departments: mon-fri 09:00-18:00
  std::string status_url;             // https://... with {ticket}; empty: {{status_url}} unusable
  int acks_per_author_per_hour = 5;   // 0: no limit
  bool ack_thread_additions = false;  // reply "added to your ticket" under an open ticket
  bool watch_files = true;            // reload on changes to the config, rules, templates
  std::string fallback_language = "ko";
  std::string log_level = "info";
  std::string log_format = "logfmt";  // or json; both one event per line
  std::string hook_listen = "127.0.0.1";
  uint16_t hook_port = 8080;
  std::size_t hook_max_body_bytes = 64 * 1024;
  int hook_max_connections = 256;
  std::chrono::seconds hook_request_timeout{30};  // a whole request, from its first byte
  std::chrono::seconds hook_idle_timeout{60};     // a kept-alive connection between requests
  int hook_requests_per_minute = 600;             // per client address; 0: no limit
  // Both set: the hook speaks HTTPS only (TLS 1.2 or newer).
  std::filesystem::path hook_tls_cert_file;
  std::filesystem::path hook_tls_key_file;
  Open311Config open311;
  NotificationsConfig notifications;
  std::chrono::milliseconds sender_initial_backoff{500};
  std::chrono::milliseconds sender_max_backoff{300000};
  std::vector<AccountConfig> accounts;
  std::map<std::string, DepartmentConfig> departments;
  std::map<std::string, AdminConfig> admins;

  // The display name of a department in a language, falling back to any name, then the id.
  std::string department_name(const std::string& id, const std::string& language) const;
  // The department's expected time to act in a language (fallback language, then any); empty
  // when it has none.
  std::string department_eta(const std::string& id, const std::string& language) const;
};

// Reads and checks the file. Secrets are resolved here (token_file, token_env,
// token_credential from $CREDENTIALS_DIRECTORY).
Result<Config> load_config(const std::filesystem::path& path);

}  // namespace sotong
