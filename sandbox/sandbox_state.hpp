// SandboxState: everything sotong-sandbox remembers — accounts, statuses, mention
// notifications, the statuses posted through the API, Idempotency-Keys, the fault queue and
// the rate-limit budget — and the Mastodon JSON shapes rendered from them.
//
// Pure and synchronous: no sockets, no threads, time only from the injected clock, so the
// Mastodon rules (pagination, idempotency, validation, rate windows) are unit-testable. Not
// thread-safe; the server uses it from its single io_context thread. Expected failures come
// back as values (Result, PostOutcome) whose messages are the API's error strings.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong::sandbox {

// Milliseconds since the Unix epoch; tests pass a fake.
using Clock = std::function<int64_t()>;

struct StateOptions {
  std::string domain = "sandbox.local";  // host part of every uri/url we render
  std::string handle = "songpaOK";       // our own account, id "1"
  std::size_t max_characters = 500;
  int64_t rate_limit = 300;  // requests per window; 0 = unlimited
  int64_t rate_window_ms = 300'000;
};

struct Account {
  uint64_t id = 0;
  std::string username;
  std::string domain;  // empty for a local account
  bool bot = false;
  int64_t created_at_ms = 0;
  int64_t statuses_count = 0;
  int64_t last_status_at_ms = 0;

  std::string acct() const { return domain.empty() ? username : username + "@" + domain; }
};

struct StatusRecord {
  uint64_t id = 0;
  uint64_t account_id = 0;
  std::string text;  // plain text as given; content HTML is rendered from it
  std::string visibility;
  std::optional<std::string> language;
  std::optional<uint64_t> in_reply_to_id;
  std::optional<uint64_t> in_reply_to_account_id;
  std::vector<uint64_t> mention_ids;    // accounts mentioned, in order
  bool leading_handle_mention = false;  // control-API mentions start with @handle
  int64_t created_at_ms = 0;
  int64_t replies_count = 0;
  bool via_api = false;  // posted through POST /api/v1/statuses
};

struct Notification {
  uint64_t id = 0;
  std::string type;  // always "mention" here
  uint64_t account_id = 0;
  uint64_t status_id = 0;
  int64_t created_at_ms = 0;
};

// One status received by POST /api/v1/statuses, as the test harness wants to see it.
struct PostRecord {
  uint64_t status_id = 0;
  std::optional<uint64_t> in_reply_to_id;
  std::string text;
  std::string visibility;
  std::optional<std::string> language;
  std::optional<std::string> idempotency_key;
  int64_t received_at_ms = 0;
  // The machine's real clock in microseconds, whatever clock the state runs on: the
  // benchmarks time round trips with it.
  int64_t received_at_us = 0;
};

struct MentionInput {
  std::string author;
  std::string text;
  std::string visibility = "public";
  std::optional<std::string> language;
  std::optional<std::string> in_reply_to_id;
  std::optional<bool> bot;
  std::string domain;  // empty: a local author
};

struct MentionCreated {
  uint64_t status_id = 0;
  uint64_t notification_id = 0;
};

struct PostInput {
  std::string text;
  std::optional<std::string> in_reply_to_id;
  std::optional<std::string> visibility;
  std::optional<std::string> language;
  std::optional<std::string> idempotency_key;
};

struct PostOutcome {
  enum class Kind { kCreated, kReplayed, kNotFound, kInvalid };
  Kind kind = Kind::kCreated;
  uint64_t status_id = 0;  // kCreated, kReplayed
  std::string error;       // kNotFound, kInvalid: the API's "error" string
};

struct NotificationQuery {
  std::vector<std::string> types;  // empty: all
  std::vector<std::string> exclude_types;
  std::optional<uint64_t> max_id;
  std::optional<uint64_t> since_id;
  std::optional<uint64_t> min_id;
  std::size_t limit = 40;
};

struct RateDecision {
  bool allowed = true;
  bool unlimited = false;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t reset_ms = 0;  // end of the current window
};

// kLostAnswer does the work and then resets the connection: the client cannot tell whether
// its request took effect (the case Idempotency-Key exists for). kDelay does the work at once
// and holds the answer back for the fault's delay: a client killed meanwhile never learns
// that its post exists (the crash harness's post in flight).
enum class FaultKind {
  kTooManyRequests,
  kInternalError,
  kUnavailable,
  kHang,
  kReset,
  kMalformed,
  kLostAnswer,
  kDelay
};

std::optional<FaultKind> parse_fault_kind(std::string_view s);
// A decimal id as Mastodon sends them; nullopt for anything else (sign, overflow, empty).
std::optional<uint64_t> parse_id(std::string_view s);

struct Stats {
  int64_t api_requests = 0;
  int64_t posts = 0;
  int64_t idempotent_replays = 0;
  int64_t rejected_posts = 0;
};

class SandboxState {
 public:
  // Mastodon's default notification page and its ceiling.
  static constexpr std::size_t kDefaultLimit = 40;
  static constexpr std::size_t kMaxLimit = 80;
  // Mastodon keeps an Idempotency-Key for one hour.
  static constexpr int64_t kIdempotencyTtlMs = 3'600'000;
  // Bounds memory against a runaway or hostile test; far above any demo or benchmark.
  static constexpr std::size_t kMaxStatuses = 500'000;
  static constexpr int64_t kMaxFaultCount = 1'000'000;
  static constexpr std::size_t kMaxFaultEntries = 1'000;
  // A minute already outlasts every client timeout under test; a longer wait is a "hang".
  static constexpr int64_t kMaxFaultDelayMs = 60'000;

  SandboxState(StateOptions options, Clock clock);
  SandboxState(const SandboxState&) = delete;
  SandboxState& operator=(const SandboxState&) = delete;

  const StateOptions& options() const { return options_; }
  void set_domain(std::string domain) { options_.domain = std::move(domain); }

  // Control API: a citizen (or, when author == handle, we ourselves) mentions the handle.
  Result<MentionCreated> add_mention(const MentionInput& in);
  // POST /api/v1/statuses as the handle.
  PostOutcome post_status(const PostInput& in);
  // GET /api/v1/notifications: ids newest first.
  std::vector<uint64_t> notification_page(const NotificationQuery& q) const;
  bool has_notification(uint64_t id) const { return notifications_.count(id) != 0; }
  bool has_status(uint64_t id) const { return statuses_.count(id) != 0; }

  // Rate limit: take_rate_token counts one request; peek_rate only reports.
  RateDecision take_rate_token();
  RateDecision peek_rate() const;
  void set_rate_limit(int64_t limit, int64_t window_ms);

  // Fault queue: the next `count` /api/ requests whose path starts with `path_prefix` fail.
  // `delay_ms` is kDelay's hold (1 to kMaxFaultDelayMs) and must be 0 for the other kinds.
  Status add_fault(FaultKind kind, int64_t count, std::string path_prefix, int64_t delay_ms = 0);
  // `path_prefix` matches the path ("/api/v1/statuses") or method and path ("POST /api/...").
  // `delay_ms` (if given) gets the delay of the fault taken.
  std::optional<FaultKind> take_fault(std::string_view method, std::string_view path,
                                      int64_t* delay_ms = nullptr);
  void clear_faults() { faults_.clear(); }
  int64_t faults_pending() const;

  void count_api_request() { ++stats_.api_requests; }
  const Stats& stats() const { return stats_; }
  const std::vector<PostRecord>& posts() const { return posts_; }

  // Forgets everything but the handle; ids keep increasing so old cursors stay older.
  void reset();

  // Mastodon entity JSON.
  boost::json::object account_json(uint64_t account_id) const;
  boost::json::object credential_account_json() const;
  boost::json::object status_json(uint64_t status_id) const;
  // GET /api/v1/statuses/:id/context: {"ancestors": [...], "descendants": [...]}, oldest first.
  boost::json::object context_json(uint64_t status_id) const;
  boost::json::object notification_json(uint64_t notification_id) const;
  boost::json::object instance_json() const;
  boost::json::array posts_json() const;

 private:
  struct IdempotencyEntry {
    uint64_t status_id;
    int64_t created_ms;
  };
  struct Fault {
    FaultKind kind;
    int64_t remaining;
    std::string path_prefix;
    int64_t delay_ms;
  };

  uint64_t next_snowflake();
  uint64_t account_for(const std::string& username, const std::string& domain);
  const Account* find_account_by_acct(std::string_view acct) const;
  std::vector<uint64_t> resolve_mentions(std::string_view text) const;
  std::string render_content(const StatusRecord& s) const;
  std::string account_url(const Account& a) const;
  void roll_rate_window(int64_t now) const;
  void purge_idempotency(int64_t now);

  StateOptions options_;
  Clock clock_;
  uint64_t last_snowflake_ = 0;
  uint64_t next_account_id_ = 2;
  std::map<std::string, uint64_t> account_ids_;  // lower-cased acct -> id; survives reset
  std::map<uint64_t, Account> accounts_;
  std::map<uint64_t, StatusRecord> statuses_;
  std::map<uint64_t, Notification> notifications_;
  std::vector<PostRecord> posts_;
  std::map<std::string, IdempotencyEntry> idempotency_;
  std::vector<Fault> faults_;
  Stats stats_;
  // The window is rolled lazily, also from const readers.
  mutable int64_t rate_window_start_ = 0;
  mutable int64_t rate_used_ = 0;
};

}  // namespace sotong::sandbox
