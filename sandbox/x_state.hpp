// XState: what sotong-sandbox's X API v2 part remembers — users, posts (citizens' mentions of
// the handle and the handle's own posts), the order of posts received through POST /2/tweets,
// and the per-endpoint rate windows — with X's rules over them: the 800-mention reach of the
// mentions timeline, duplicate content within 24 hours, the 280 weighted-character limit.
//
// Pure and synchronous like SandboxState: time only from the injected clock, no sockets, so
// the rules are unit-testable. Not thread-safe; the server uses it from its io_context thread.
// Expected failures come back as values whose messages are the API's own words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"
#include "sandbox/sandbox_state.hpp"

namespace sotong::sandbox {

struct XOptions {
  std::string handle = "songpaOK";  // our own account, the one citizens mention
  // The one app and the one user it acts for (OAuth 1.0a), and the app-only Bearer token.
  std::string consumer_key = "sandbox-ck";
  std::string consumer_secret = "sandbox-cs";
  std::string token = "sandbox-at";
  std::string token_secret = "sandbox-ats";
  std::string bearer = "sandbox-bearer";
  // Requests per window; 0 = unlimited. X's figures: mentions 300 per 15 minutes per user
  // (450 per app); POST /2/tweets 100 per 15 minutes per user and 10,000 per 24 hours;
  // GET /2/users/me 75 per 15 minutes per user (sotongd asks once per start, so a test that
  // restarts it hundreds of times lifts this one).
  int64_t users_me_limit = 75;
  int64_t mentions_limit = 300;
  int64_t post_limit = 100;
  int64_t post_day_limit = 10'000;
  int64_t window_ms = 900'000;
};

struct XUser {
  uint64_t id = 0;
  std::string username;
  std::string name;
  int64_t created_at_ms = 0;
};

struct XPost {
  uint64_t id = 0;
  uint64_t author_id = 0;
  std::string text;
  std::optional<std::string> lang;
  std::optional<uint64_t> in_reply_to_id;
  std::optional<uint64_t> in_reply_to_user_id;
  uint64_t conversation_id = 0;  // the id of the thread's root post
  int64_t created_at_ms = 0;
};

struct XMentionInput {
  std::string author;
  std::string text;  // UTF-8, as the control API's JSON parser guarantees
  std::optional<std::string> lang;
  std::optional<std::string> in_reply_to_id;
};

struct XPostOutcome {
  enum class Kind { kCreated, kDuplicate, kTooLong, kEmpty, kUnknownReply, kFull };
  Kind kind = Kind::kCreated;
  uint64_t id = 0;  // kCreated
};

// GET /2/users/:id/mentions after its parameters were checked. All bounds are exclusive
// except start_ms (inclusive), as X documents them.
struct MentionsQuery {
  std::optional<uint64_t> since_id;
  std::optional<uint64_t> until_id;
  std::optional<uint64_t> before_id;  // from pagination_token
  std::optional<int64_t> start_ms;
  std::optional<int64_t> end_ms;
  std::size_t max_results = 10;
};

struct MentionsPage {
  std::vector<uint64_t> ids;  // newest first
  bool more = false;          // another page follows (within the reach)
};

enum class XEndpoint { kUsersMe, kMentions, kPost, kPostDay };

struct XStats {
  int64_t requests = 0;
  int64_t posts = 0;
  int64_t duplicates_rejected = 0;
  int64_t rejected_posts = 0;  // too long, empty, unknown reply target
  int64_t unauthorized = 0;
  int64_t rate_limited = 0;
};

class XState {
 public:
  // Only this many of the most recent mentions can be read, as on X.
  static constexpr std::size_t kMentionsReach = 800;
  static constexpr int64_t kDuplicateWindowMs = 86'400'000;
  static constexpr int64_t kDayMs = 86'400'000;
  static constexpr int kMaxWeightedLength = 280;
  // Bounds memory against a runaway test, like SandboxState::kMaxStatuses.
  static constexpr std::size_t kMaxPosts = 500'000;

  XState(XOptions options, Clock clock);
  XState(const XState&) = delete;
  XState& operator=(const XState&) = delete;

  const XOptions& options() const { return options_; }
  uint64_t self_id() const { return self_id_; }
  const XUser* user(uint64_t id) const;
  const XPost* post(uint64_t id) const;

  // Control API: a citizen posts "@handle TEXT" (optionally as a reply); returns the post id.
  Result<uint64_t> add_mention(const XMentionInput& in);
  // POST /2/tweets as the handle.
  XPostOutcome create_post(const std::string& text, std::optional<uint64_t> in_reply_to);
  // The handle's mentions timeline; other users are never mentioned here.
  MentionsPage mentions(uint64_t user_id, const MentionsQuery& q) const;
  // Posts received through POST /2/tweets, in order.
  const std::vector<uint64_t>& api_posts() const { return api_posts_; }

  // Rate windows: a window starts with its first request and lasts window_ms (kPostDay: 24 h).
  RateDecision take_rate(XEndpoint e);
  RateDecision peek_rate(XEndpoint e) const;
  void set_limits(int64_t mentions, int64_t post, int64_t post_day, int64_t window_ms);

  XStats& stats() { return stats_; }
  const XStats& stats() const { return stats_; }
  // Forgets posts, counters and rate usage; keeps users (their ids stay stable) and limits.
  void reset();

 private:
  struct Window {
    int64_t limit = 0;
    int64_t length_ms = 0;
    mutable int64_t start_ms = -1;  // -1: no window open
    mutable int64_t used = 0;
  };

  Window& window(XEndpoint e);
  const Window& window(XEndpoint e) const;
  RateDecision peek(const Window& w) const;
  uint64_t next_post_id();
  uint64_t user_for(const std::string& username);
  uint64_t insert_post(XPost p);
  void purge_recent_texts(int64_t now);

  XOptions options_;
  Clock clock_;
  uint64_t self_id_ = 0;
  uint64_t last_post_id_ = 0;
  uint64_t next_user_id_;
  std::map<std::string, uint64_t> user_ids_;  // lower-cased username -> id; survives reset
  std::map<uint64_t, XUser> users_;
  std::map<uint64_t, XPost> posts_;
  std::vector<uint64_t> mentions_;               // ids of posts mentioning the handle, ascending
  std::vector<uint64_t> api_posts_;              // ids received through POST /2/tweets
  std::map<std::string, int64_t> recent_texts_;  // our post texts -> last created, 24 h
  Window users_me_;
  Window mentions_window_;
  Window post_window_;
  Window post_day_window_;
  XStats stats_;
};

// X's weighted length of a post (twitter-text config v3: most code points below U+1100 and
// some punctuation weigh 1, everything else 2; the limit is 280).
int x_weighted_length(std::string_view text);

}  // namespace sotong::sandbox
