#include "sandbox/x_state.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "daemon/text/unicode.hpp"

namespace sotong::sandbox {
namespace {

// X's snowflake epoch (2010-11-04T01:42:54.657Z): ids carry milliseconds since it above 22
// bits of worker and sequence, so they sort by time and have X's 19 digits.
constexpr int64_t kTwitterEpochMs = 1'288'834'974'657;
constexpr int kSnowflakeShift = 22;
// User ids are plain counters from here; the handle takes the first.
constexpr uint64_t kFirstUserId = 1'100'000'001;
// X usernames are at most 15 characters.
constexpr std::size_t kMaxUsername = 15;
// X's longest posts (25,000 characters for subscribers) bound what a mention may carry.
constexpr std::size_t kMaxMentionBytes = 100'000;
constexpr std::size_t kMaxLang = 35;  // the longest BCP 47 tag X sends is far shorter

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool valid_username(std::string_view s) {
  return !s.empty() && s.size() <= kMaxUsername && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

bool valid_lang(std::string_view s) {
  return s.size() >= 2 && s.size() <= kMaxLang && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '-';
         });
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// "@handle" at the start, followed by white space or nothing.
bool starts_with_mention(std::string_view text, std::string_view handle) {
  if (text.size() < handle.size() + 1 || text[0] != '@') return false;
  if (lower(text.substr(1, handle.size())) != lower(handle)) return false;
  return text.size() == handle.size() + 1 ||
         std::isspace(static_cast<unsigned char>(text[handle.size() + 1])) != 0;
}

}  // namespace

// twitter-text's config v3 weights, code point by code point over the NFC text. This is a
// stand-in until the sandbox can use connectors/x/tweet_length (parse_tweet): it does not
// count a URL as 23 nor an emoji sequence as one.
int x_weighted_length(std::string_view text) {
  std::string normalized = text::nfc(text);
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(normalized.data());
  auto left = static_cast<utf8proc_ssize_t>(normalized.size());
  int weight = 0;
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) break;
    bool light = cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
                 (cp >= 0x2032 && cp <= 0x2037);
    weight += light ? 1 : 2;
    p += n;
    left -= n;
  }
  return weight;
}

XState::XState(XOptions options, Clock clock)
    : options_(std::move(options)), clock_(std::move(clock)), next_user_id_(kFirstUserId) {
  self_id_ = user_for(options_.handle);
  set_limits(options_.mentions_limit, options_.post_limit, options_.post_day_limit,
             options_.window_ms);
}

const XUser* XState::user(uint64_t id) const {
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : &it->second;
}

const XPost* XState::post(uint64_t id) const {
  auto it = posts_.find(id);
  return it == posts_.end() ? nullptr : &it->second;
}

uint64_t XState::user_for(const std::string& username) {
  std::string key = lower(username);
  if (auto it = user_ids_.find(key); it != user_ids_.end()) return it->second;
  XUser u;
  u.id = next_user_id_++;
  u.username = username;
  u.name = username;
  u.created_at_ms = clock_();
  user_ids_[key] = u.id;
  users_[u.id] = u;
  return u.id;
}

uint64_t XState::next_post_id() {
  int64_t since_epoch = std::max<int64_t>(clock_() - kTwitterEpochMs, 0);
  uint64_t candidate = static_cast<uint64_t>(since_epoch) << kSnowflakeShift;
  last_post_id_ = std::max(last_post_id_ + 1, candidate);
  return last_post_id_;
}

uint64_t XState::insert_post(XPost p) {
  p.id = next_post_id();
  p.created_at_ms = clock_();
  if (p.in_reply_to_id) {
    const XPost& parent = posts_.at(*p.in_reply_to_id);
    p.in_reply_to_user_id = parent.author_id;
    p.conversation_id = parent.conversation_id;
  } else {
    p.conversation_id = p.id;
  }
  uint64_t id = p.id;
  posts_[id] = std::move(p);
  return id;
}

Result<uint64_t> XState::add_mention(const XMentionInput& in) {
  if (!valid_username(in.author)) return Error{"author: 1 to 15 letters, digits or _"};
  if (in.text.size() > kMaxMentionBytes) return Error{"text: longer than 100000 bytes"};
  if (in.lang && !valid_lang(*in.lang)) return Error{"lang: a BCP 47 tag such as ko or en"};
  std::optional<uint64_t> parent;
  if (in.in_reply_to_id) {
    parent = parse_id(*in.in_reply_to_id);
    if (!parent || posts_.count(*parent) == 0) return Error{"in_reply_to_id: no such post"};
  }
  if (posts_.size() >= kMaxPosts) return Error{"the sandbox holds its maximum of posts; reset it"};
  XPost p;
  p.author_id = user_for(in.author);
  p.text = starts_with_mention(in.text, options_.handle) ? in.text
                                                         : "@" + options_.handle + " " + in.text;
  p.lang = in.lang;
  p.in_reply_to_id = parent;
  uint64_t id = insert_post(std::move(p));
  mentions_.push_back(id);
  return id;
}

XPostOutcome XState::create_post(const std::string& text, std::optional<uint64_t> in_reply_to) {
  auto reject = [this](XPostOutcome::Kind kind) {
    ++stats_.rejected_posts;
    return XPostOutcome{kind, 0};
  };
  if (blank(text)) return reject(XPostOutcome::Kind::kEmpty);
  if (x_weighted_length(text) > kMaxWeightedLength) return reject(XPostOutcome::Kind::kTooLong);
  if (in_reply_to && posts_.count(*in_reply_to) == 0) {
    return reject(XPostOutcome::Kind::kUnknownReply);
  }
  int64_t now = clock_();
  purge_recent_texts(now);
  if (recent_texts_.count(text) != 0) {
    ++stats_.duplicates_rejected;
    return XPostOutcome{XPostOutcome::Kind::kDuplicate, 0};
  }
  if (posts_.size() >= kMaxPosts) return reject(XPostOutcome::Kind::kFull);
  XPost p;
  p.author_id = self_id_;
  p.text = text;
  p.in_reply_to_id = in_reply_to;
  uint64_t id = insert_post(std::move(p));
  api_posts_.push_back(id);
  recent_texts_[text] = now;
  ++stats_.posts;
  return XPostOutcome{XPostOutcome::Kind::kCreated, id};
}

void XState::purge_recent_texts(int64_t now) {
  std::erase_if(recent_texts_,
                [now](const auto& entry) { return now - entry.second >= kDuplicateWindowMs; });
}

MentionsPage XState::mentions(uint64_t user_id, const MentionsQuery& q) const {
  MentionsPage page;
  if (user_id != self_id_) return page;
  // since_id and until_id take precedence over start_time and end_time.
  // Plain values with sentinels: GCC 12 at -O2 misreads optional<int64_t> here as uninitialised.
  const int64_t start_ms = !q.since_id && q.start_ms ? *q.start_ms : INT64_MIN;
  const int64_t end_ms = !q.until_id && q.end_ms ? *q.end_ms : INT64_MAX;
  std::size_t reach = std::min(mentions_.size(), kMentionsReach);
  for (auto it = mentions_.rbegin(); it != mentions_.rbegin() + static_cast<std::ptrdiff_t>(reach);
       ++it) {
    uint64_t id = *it;
    const XPost& p = posts_.at(id);
    if ((q.since_id && id <= *q.since_id) || p.created_at_ms < start_ms) break;
    if ((q.until_id && id >= *q.until_id) || (q.before_id && id >= *q.before_id) ||
        p.created_at_ms >= end_ms) {
      continue;
    }
    if (page.ids.size() == q.max_results) {
      page.more = true;
      break;
    }
    page.ids.push_back(id);
  }
  return page;
}

XState::Window& XState::window(XEndpoint e) {
  return const_cast<Window&>(std::as_const(*this).window(e));
}

const XState::Window& XState::window(XEndpoint e) const {
  switch (e) {
    case XEndpoint::kUsersMe:
      return users_me_;
    case XEndpoint::kMentions:
      return mentions_window_;
    case XEndpoint::kPost:
      return post_window_;
    case XEndpoint::kPostDay:
      break;
  }
  return post_day_window_;
}

RateDecision XState::peek(const Window& w) const {
  RateDecision d;
  if (w.limit <= 0 || w.length_ms <= 0) {
    d.unlimited = true;
    return d;
  }
  int64_t now = clock_();
  if (w.start_ms >= 0 && now >= w.start_ms + w.length_ms) {
    w.start_ms = -1;
    w.used = 0;
  }
  d.limit = w.limit;
  d.remaining = std::max<int64_t>(0, w.limit - w.used);
  d.allowed = w.used < w.limit;
  // A window not yet open would start now.
  d.reset_ms = (w.start_ms >= 0 ? w.start_ms : now) + w.length_ms;
  return d;
}

RateDecision XState::peek_rate(XEndpoint e) const {
  return peek(window(e));
}

RateDecision XState::take_rate(XEndpoint e) {
  Window& w = window(e);
  RateDecision d = peek(w);
  if (d.unlimited || !d.allowed) return d;
  if (w.start_ms < 0) w.start_ms = clock_();
  ++w.used;
  d.remaining = w.limit - w.used;
  d.reset_ms = w.start_ms + w.length_ms;
  return d;
}

void XState::set_limits(int64_t mentions, int64_t post, int64_t post_day, int64_t window_ms) {
  options_.mentions_limit = std::max<int64_t>(mentions, 0);
  options_.post_limit = std::max<int64_t>(post, 0);
  options_.post_day_limit = std::max<int64_t>(post_day, 0);
  options_.window_ms = std::max<int64_t>(window_ms, 0);
  users_me_ = Window{options_.users_me_limit, options_.window_ms};
  mentions_window_ = Window{options_.mentions_limit, options_.window_ms};
  post_window_ = Window{options_.post_limit, options_.window_ms};
  post_day_window_ = Window{options_.post_day_limit, kDayMs};
}

void XState::reset() {
  posts_.clear();
  mentions_.clear();
  api_posts_.clear();
  recent_texts_.clear();
  stats_ = {};
  set_limits(options_.mentions_limit, options_.post_limit, options_.post_day_limit,
             options_.window_ms);
}

}  // namespace sotong::sandbox
