// The domain's values that cross module boundaries: a Mention coming in from a platform, the
// Reply going out, and their visibility. Plain values: copyable, no behaviour beyond helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sotong {

// Ordered from widest to narrowest audience; a reply is never wider than its mention.
enum class Visibility { kPublic = 0, kUnlisted = 1, kPrivate = 2, kDirect = 3 };

std::string_view to_string(Visibility v);
std::optional<Visibility> parse_visibility(std::string_view s);
// The narrower of the two: used so a reply never reaches more people than the mention did.
Visibility narrower(Visibility a, Visibility b);

// The visibility of our reply to a mention: never wider than the mention, and a
// followers-only mention gets a direct reply, since our followers are not the citizen's.
Visibility reply_visibility(Visibility mention);

enum class Priority { kUrgent = 0, kHigh = 1, kNormal = 2, kLow = 3 };
std::string_view to_string(Priority p);
std::optional<Priority> parse_priority(std::string_view s);

struct Mention {
  std::string platform;     // "mastodon", "x"
  std::string account;      // our handle's configured account name
  std::string id;           // the platform's id of the mention (status id)
  std::string cursor;       // the connector's cursor after this mention (notification id)
  std::string author_id;    // platform account id of the author
  std::string author;       // display handle without domain, e.g. "citizen1"
  std::string author_acct;  // full address used to mention them back, e.g. "citizen1@example.org"
  bool author_is_bot = false;
  bool author_is_self = false;  // one of our own accounts
  bool is_boost = false;        // a boost/retweet of a post, not a post of its own
  std::string text;             // plain text, our own handle removed
  std::string language;         // BCP 47 primary tag or empty
  Visibility visibility = Visibility::kPublic;
  std::string in_reply_to_id;     // empty if it starts a thread
  std::string thread_id;          // conversation id where the platform has one
  bool in_reply_to_self = false;  // it answers a post of our own account
  int64_t created_at_ms = 0;
};

struct Reply {
  int64_t outbox_id = 0;
  std::string account;
  std::string in_reply_to_id;
  std::string mention_author_acct;  // put first in the text so the citizen is notified
  std::string text;                 // the full text to post, the @acct prefix included
  Visibility visibility = Visibility::kPublic;
  std::string language;
  std::string idempotency_key;
  std::string ticket_number;
  int attempts = 0;          // earlier attempts to post this reply
  int64_t queued_at_ms = 0;  // when it entered the outbox
};

}  // namespace sotong
