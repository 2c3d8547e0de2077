// One piece with the Mastodon entity rendering because the JSON shapes and the records they
// come from change together, and the sandbox's CMake target has exactly two sources.
#include "sandbox/sandbox_state.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <cctype>
#include <chrono>
#include <set>
#include <utility>

#include "connectors/mastodon/status_length.hpp"
#include "daemon/text/html.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::sandbox {
namespace {

namespace json = boost::json;

constexpr int64_t kDayMs = 86'400'000;
// Longest author name and remote domain we accept from the control API (DNS allows 253).
constexpr std::size_t kMaxUsername = 30;
constexpr std::size_t kMaxDomain = 253;
constexpr std::size_t kMaxFaultPrefix = 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool valid_username(std::string_view s) {
  return !s.empty() && s.size() <= kMaxUsername && std::all_of(s.begin(), s.end(), is_word);
}

bool valid_domain(std::string_view s) {
  if (s.empty() || s.size() > kMaxDomain || s.front() == '.' || s.back() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':';
  });
}

bool valid_visibility(std::string_view v) {
  return v == "public" || v == "unlisted" || v == "private" || v == "direct";
}

// ISO 639 code with an optional region or script, like Mastodon's language list.
bool valid_language(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && std::islower(static_cast<unsigned char>(s[i])) != 0) ++i;
  if (i < 2 || i > 3) return false;
  if (i == s.size()) return true;
  if (s[i] != '-' || s.size() - i - 1 < 2 || s.size() - i - 1 > 8) return false;
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i) + 1, s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Ruby's String#blank?: nothing but Unicode white space.
bool is_blank(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    bool space = (cp >= 0x09 && cp <= 0x0D) || cp == 0x85;
    auto cat = utf8proc_category(cp);
    space = space || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
            cat == UTF8PROC_CATEGORY_ZP;
    if (!space) return false;
    p += n;
    left -= n;
  }
  return true;
}

std::string midnight_iso(int64_t ms) {
  return iso8601_utc(ms - ms % kDayMs);
}

json::value opt_id(const std::optional<uint64_t>& id) {
  if (!id) return nullptr;
  return json::value(std::to_string(*id));
}

json::value opt_string(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}

// An @username or @username@domain token as Mastodon's mention regex finds it: the '@' must
// not follow a word character or '/', so e-mail addresses and URLs are not mentions.
struct MentionToken {
  std::size_t pos = 0;
  std::size_t len = 0;
  std::string acct;
};

std::vector<MentionToken> find_mention_tokens(std::string_view text) {
  std::vector<MentionToken> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '@') continue;
    if (i > 0 && (is_word(text[i - 1]) || text[i - 1] == '/')) continue;
    std::size_t j = i + 1;
    while (j < text.size() && is_word(text[j])) ++j;
    if (j == i + 1) continue;
    std::size_t end = j;
    if (j + 1 < text.size() && text[j] == '@') {
      std::size_t k = j + 1;
      while (k < text.size() && (std::isalnum(static_cast<unsigned char>(text[k])) != 0 ||
                                 text[k] == '.' || text[k] == '-' || text[k] == '_')) {
        ++k;
      }
      while (k > j + 1 && (text[k - 1] == '.' || text[k - 1] == '-')) --k;
      if (k > j + 1) end = k;
    }
    out.push_back({i, end - i, std::string(text.substr(i + 1, end - i - 1))});
    i = end - 1;
  }
  return out;
}

// Plain text to Mastodon's HTML: blank lines split paragraphs, single newlines become <br />.
void append_text_html(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') continue;
    if (c == '\n') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        out += "</p><p>";
        while (i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r')) ++i;
      } else {
        out += "<br />";
      }
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && text[j] != '\n' && text[j] != '\r') ++j;
    out += text::html_escape(text.substr(i, j - i));
    i = j - 1;
  }
}

}  // namespace

std::optional<uint64_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<FaultKind> parse_fault_kind(std::string_view s) {
  if (s == "429") return FaultKind::kTooManyRequests;
  if (s == "500") return FaultKind::kInternalError;
  if (s == "503") return FaultKind::kUnavailable;
  if (s == "hang") return FaultKind::kHang;
  if (s == "reset") return FaultKind::kReset;
  if (s == "malformed") return FaultKind::kMalformed;
  if (s == "lost_answer") return FaultKind::kLostAnswer;
  if (s == "delay") return FaultKind::kDelay;
  return std::nullopt;
}

SandboxState::SandboxState(StateOptions options, Clock clock)
    : options_(std::move(options)), clock_(std::move(clock)) {
  reset();
}

void SandboxState::reset() {
  accounts_.clear();
  statuses_.clear();
  notifications_.clear();
  posts_.clear();
  idempotency_.clear();
  faults_.clear();
  stats_ = {};
  rate_used_ = 0;
  Account self;
  self.id = 1;
  self.username = options_.handle;
  self.created_at_ms = clock_();
  accounts_[1] = self;
  account_ids_[lower(options_.handle)] = 1;
}

uint64_t SandboxState::next_snowflake() {
  // Like Mastodon's ids: milliseconds in the high bits, so ids sort by time and look real.
  uint64_t candidate = static_cast<uint64_t>(std::max<int64_t>(clock_(), 0)) << 16;
  last_snowflake_ = std::max(last_snowflake_ + 1, candidate);
  return last_snowflake_;
}

uint64_t SandboxState::account_for(const std::string& username, const std::string& domain) {
  std::string key = lower(domain.empty() ? username : username + "@" + domain);
  auto [it, inserted] = account_ids_.try_emplace(key, next_account_id_);
  if (inserted) ++next_account_id_;
  uint64_t id = it->second;
  if (accounts_.count(id) == 0) {
    Account a;
    a.id = id;
    a.username = username;
    a.domain = domain;
    a.created_at_ms = clock_();
    accounts_[id] = std::move(a);
  }
  return id;
}

const Account* SandboxState::find_account_by_acct(std::string_view acct) const {
  std::string key = lower(acct);
  std::string local_suffix = "@" + lower(options_.domain);
  if (key.size() > local_suffix.size() && key.ends_with(local_suffix)) {
    key.resize(key.size() - local_suffix.size());
  }
  auto it = account_ids_.find(key);
  if (it == account_ids_.end()) return nullptr;
  auto acc = accounts_.find(it->second);
  return acc == accounts_.end() ? nullptr : &acc->second;
}

std::vector<uint64_t> SandboxState::resolve_mentions(std::string_view text) const {
  std::vector<uint64_t> ids;
  for (const auto& token : find_mention_tokens(text)) {
    const Account* a = find_account_by_acct(token.acct);
    if (a != nullptr && std::find(ids.begin(), ids.end(), a->id) == ids.end()) {
      ids.push_back(a->id);
    }
  }
  return ids;
}

Result<MentionCreated> SandboxState::add_mention(const MentionInput& in) {
  if (!valid_username(in.author)) {
    return Error{"author: required, 1 to 30 letters, digits or underscores"};
  }
  std::string domain = lower(in.domain);
  if (!domain.empty() && !valid_domain(domain)) return Error{"domain: not a host name"};
  if (domain == lower(options_.domain)) domain.clear();
  if (!valid_visibility(in.visibility)) {
    return Error{"visibility: must be public, unlisted, private or direct"};
  }
  if (in.language && !valid_language(*in.language)) {
    return Error{"language: must be an ISO 639 code such as ko or en"};
  }
  std::optional<uint64_t> parent;
  if (in.in_reply_to_id) {
    parent = parse_id(*in.in_reply_to_id);
    if (!parent || statuses_.count(*parent) == 0) {
      return Error{"in_reply_to_id: no such status"};
    }
  }
  if (statuses_.size() >= kMaxStatuses) {
    return Error{"sandbox is full; POST /_sandbox/reset"};
  }

  uint64_t author_id = account_for(in.author, domain);
  Account& author = accounts_[author_id];
  if (in.bot) author.bot = *in.bot;

  int64_t now = clock_();
  StatusRecord s;
  s.id = next_snowflake();
  s.account_id = author_id;
  s.text = in.text;
  s.visibility = in.visibility;
  s.language = in.language;
  s.mention_ids = {1};
  s.leading_handle_mention = true;
  s.created_at_ms = now;
  if (parent) {
    StatusRecord& p = statuses_[*parent];
    ++p.replies_count;
    s.in_reply_to_id = p.id;
    s.in_reply_to_account_id = p.account_id;
  }
  ++author.statuses_count;
  author.last_status_at_ms = now;
  statuses_[s.id] = s;

  Notification n;
  n.id = next_snowflake();
  n.type = "mention";
  n.account_id = author_id;
  n.status_id = s.id;
  n.created_at_ms = now;
  notifications_[n.id] = n;
  return MentionCreated{s.id, n.id};
}

void SandboxState::purge_idempotency(int64_t now) {
  std::erase_if(idempotency_,
                [&](const auto& kv) { return now - kv.second.created_ms >= kIdempotencyTtlMs; });
}

PostOutcome SandboxState::post_status(const PostInput& in) {
  int64_t now = clock_();
  purge_idempotency(now);
  auto reject = [&](PostOutcome::Kind kind, std::string error) {
    ++stats_.rejected_posts;
    return PostOutcome{kind, 0, std::move(error)};
  };

  // Mastodon looks the parent up before the idempotency check (a controller before_action).
  std::optional<uint64_t> parent;
  if (in.in_reply_to_id && !in.in_reply_to_id->empty()) {
    parent = parse_id(*in.in_reply_to_id);
    if (!parent || statuses_.count(*parent) == 0) {
      return reject(PostOutcome::Kind::kNotFound, "Record not found");
    }
  }
  std::optional<std::string> key = in.idempotency_key;
  if (key && key->empty()) key.reset();
  if (key) {
    auto it = idempotency_.find(*key);
    if (it != idempotency_.end() && statuses_.count(it->second.status_id) != 0) {
      ++stats_.idempotent_replays;
      return PostOutcome{PostOutcome::Kind::kReplayed, it->second.status_id, {}};
    }
  }
  std::string visibility = in.visibility.value_or("public");
  if (visibility.empty()) visibility = "public";
  if (is_blank(in.text)) {
    return reject(PostOutcome::Kind::kInvalid, "Validation failed: Text can't be blank");
  }
  if (mastodon::status_length(in.text) > options_.max_characters) {
    return reject(PostOutcome::Kind::kInvalid, "Validation failed: Text character limit of " +
                                                   std::to_string(options_.max_characters) +
                                                   " exceeded");
  }
  if (!valid_visibility(visibility)) {
    return reject(PostOutcome::Kind::kInvalid,
                  "Validation failed: Visibility is not included in the list");
  }
  if (statuses_.size() >= kMaxStatuses) {
    return reject(PostOutcome::Kind::kInvalid,
                  "Validation failed: sandbox is full; POST /_sandbox/reset");
  }

  StatusRecord s;
  s.id = next_snowflake();
  s.account_id = 1;
  s.text = in.text;
  s.visibility = visibility;
  // Mastodon drops a language it does not know rather than failing the post.
  if (in.language && valid_language(*in.language)) s.language = in.language;
  s.mention_ids = resolve_mentions(in.text);
  s.created_at_ms = now;
  s.via_api = true;
  if (parent) {
    StatusRecord& p = statuses_[*parent];
    ++p.replies_count;
    s.in_reply_to_id = p.id;
    s.in_reply_to_account_id = p.account_id;
  }
  Account& self = accounts_[1];
  ++self.statuses_count;
  self.last_status_at_ms = now;
  statuses_[s.id] = s;

  const int64_t real_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  posts_.push_back(
      PostRecord{s.id, s.in_reply_to_id, in.text, visibility, s.language, key, now, real_us});
  ++stats_.posts;
  if (key) idempotency_[*key] = IdempotencyEntry{s.id, now};
  return PostOutcome{PostOutcome::Kind::kCreated, s.id, {}};
}

std::vector<uint64_t> SandboxState::notification_page(const NotificationQuery& q) const {
  auto wanted = [&](const Notification& n) {
    bool in_types =
        q.types.empty() || std::find(q.types.begin(), q.types.end(), n.type) != q.types.end();
    bool excluded =
        std::find(q.exclude_types.begin(), q.exclude_types.end(), n.type) != q.exclude_types.end();
    return in_types && !excluded;
  };
  auto in_range = [&](uint64_t id) {
    return (!q.max_id || id < *q.max_id) && (!q.since_id || id > *q.since_id) &&
           (!q.min_id || id > *q.min_id);
  };
  std::size_t limit = std::clamp<std::size_t>(q.limit, 1, kMaxLimit);
  std::vector<uint64_t> ids;
  if (q.min_id) {
    // The page right after min_id: walk upwards, then answer newest first like Mastodon.
    for (auto it = notifications_.upper_bound(*q.min_id);
         it != notifications_.end() && ids.size() < limit; ++it) {
      if (in_range(it->first) && wanted(it->second)) ids.push_back(it->first);
    }
    std::reverse(ids.begin(), ids.end());
    return ids;
  }
  auto it = q.max_id ? notifications_.lower_bound(*q.max_id) : notifications_.end();
  while (it != notifications_.begin() && ids.size() < limit) {
    --it;
    if (q.since_id && it->first <= *q.since_id) break;
    if (in_range(it->first) && wanted(it->second)) ids.push_back(it->first);
  }
  return ids;
}

void SandboxState::roll_rate_window(int64_t now) const {
  if (options_.rate_window_ms <= 0) return;
  // Windows aligned to the epoch, as Rack::Attack (Mastodon's throttle) counts them.
  int64_t start = now - now % options_.rate_window_ms;
  if (start != rate_window_start_) {
    rate_window_start_ = start;
    rate_used_ = 0;
  }
}

RateDecision SandboxState::peek_rate() const {
  RateDecision d;
  if (options_.rate_limit <= 0 || options_.rate_window_ms <= 0) {
    d.unlimited = true;
    return d;
  }
  roll_rate_window(clock_());
  d.limit = options_.rate_limit;
  d.remaining = std::max<int64_t>(0, d.limit - rate_used_);
  d.allowed = rate_used_ < d.limit;
  d.reset_ms = rate_window_start_ + options_.rate_window_ms;
  return d;
}

RateDecision SandboxState::take_rate_token() {
  RateDecision d = peek_rate();
  if (d.unlimited) return d;
  ++rate_used_;
  d.allowed = rate_used_ <= d.limit;
  d.remaining = std::max<int64_t>(0, d.limit - rate_used_);
  return d;
}

void SandboxState::set_rate_limit(int64_t limit, int64_t window_ms) {
  options_.rate_limit = std::max<int64_t>(limit, 0);
  options_.rate_window_ms = std::max<int64_t>(window_ms, 0);
  rate_used_ = 0;
  rate_window_start_ = 0;
}

Status SandboxState::add_fault(FaultKind kind, int64_t count, std::string path_prefix,
                               int64_t delay_ms) {
  if (count < 1 || count > kMaxFaultCount) {
    return Error{"count: must be between 1 and " + std::to_string(kMaxFaultCount)};
  }
  if (kind == FaultKind::kDelay && (delay_ms < 1 || delay_ms > kMaxFaultDelayMs)) {
    return Error{"delay_ms: must be between 1 and " + std::to_string(kMaxFaultDelayMs)};
  }
  if (kind != FaultKind::kDelay && delay_ms != 0) return Error{"delay_ms: only for delay"};
  if (path_prefix.size() > kMaxFaultPrefix) return Error{"path_prefix: too long"};
  if (faults_.size() >= kMaxFaultEntries) return Error{"too many queued faults"};
  faults_.push_back(Fault{kind, count, std::move(path_prefix), delay_ms});
  return Status::Ok();
}

std::optional<FaultKind> SandboxState::take_fault(std::string_view method, std::string_view path,
                                                  int64_t* delay_ms) {
  const std::string with_method = std::string(method) + " " + std::string(path);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!path.starts_with(it->path_prefix) &&
        !std::string_view(with_method).starts_with(it->path_prefix))
      continue;
    FaultKind kind = it->kind;
    if (delay_ms != nullptr) *delay_ms = it->delay_ms;
    if (--it->remaining == 0) faults_.erase(it);
    return kind;
  }
  return std::nullopt;
}

int64_t SandboxState::faults_pending() const {
  int64_t n = 0;
  for (const auto& f : faults_) n += f.remaining;
  return n;
}

std::string SandboxState::account_url(const Account& a) const {
  return "https://" + (a.domain.empty() ? options_.domain : a.domain) + "/@" + a.username;
}

std::string SandboxState::render_content(const StatusRecord& s) const {
  auto h_card = [&](const Account& a) {
    return "<span class=\"h-card\"><a href=\"" + text::html_escape(account_url(a)) +
           "\" class=\"u-url mention\">@<span>" + text::html_escape(a.username) +
           "</span></a></span>";
  };
  std::string out = "<p>";
  if (s.leading_handle_mention) {
    out += h_card(accounts_.at(1));
    if (!s.text.empty()) out += ' ';
    append_text_html(out, s.text);
    return out + "</p>";
  }
  std::size_t done = 0;
  for (const auto& token : find_mention_tokens(s.text)) {
    const Account* a = find_account_by_acct(token.acct);
    if (a == nullptr ||
        std::find(s.mention_ids.begin(), s.mention_ids.end(), a->id) == s.mention_ids.end()) {
      continue;
    }
    append_text_html(out, std::string_view(s.text).substr(done, token.pos - done));
    out += h_card(*a);
    done = token.pos + token.len;
  }
  append_text_html(out, std::string_view(s.text).substr(done));
  return out + "</p>";
}

json::object SandboxState::account_json(uint64_t account_id) const {
  const Account& a = accounts_.at(account_id);
  std::string media = "https://" + options_.domain;
  json::object o;
  o["id"] = std::to_string(a.id);
  o["username"] = a.username;
  o["acct"] = a.acct();
  o["display_name"] = a.username;
  o["locked"] = false;
  o["bot"] = a.bot;
  o["discoverable"] = true;
  o["group"] = false;
  o["created_at"] = midnight_iso(a.created_at_ms);
  o["note"] = "";
  o["url"] = account_url(a);
  o["avatar"] = media + "/avatars/original/missing.png";
  o["avatar_static"] = media + "/avatars/original/missing.png";
  o["header"] = media + "/headers/original/missing.png";
  o["header_static"] = media + "/headers/original/missing.png";
  o["followers_count"] = 0;
  o["following_count"] = 0;
  o["statuses_count"] = a.statuses_count;
  if (a.last_status_at_ms > 0) {
    o["last_status_at"] = iso8601_utc(a.last_status_at_ms).substr(0, 10);
  } else {
    o["last_status_at"] = nullptr;
  }
  o["noindex"] = false;
  o["emojis"] = json::array();
  o["roles"] = json::array();
  o["fields"] = json::array();
  return o;
}

json::object SandboxState::credential_account_json() const {
  json::object o = account_json(1);
  json::object source;
  source["privacy"] = "public";
  source["sensitive"] = false;
  source["language"] = nullptr;
  source["note"] = "";
  source["fields"] = json::array();
  source["follow_requests_count"] = 0;
  o["source"] = std::move(source);
  return o;
}

json::object SandboxState::context_json(uint64_t status_id) const {
  json::array ancestors;
  std::vector<uint64_t> up;
  for (auto it = statuses_.find(status_id);
       it != statuses_.end() && it->second.in_reply_to_id && up.size() < 1000;
       it = statuses_.find(*it->second.in_reply_to_id))
    up.push_back(*it->second.in_reply_to_id);
  for (auto i = up.rbegin(); i != up.rend(); ++i)
    if (statuses_.count(*i) != 0) ancestors.push_back(status_json(*i));
  // Statuses are in id order, so a reply always comes after what it answers.
  std::set<uint64_t> thread{status_id};
  json::array descendants;
  for (const auto& [id, s] : statuses_) {
    if (s.in_reply_to_id && thread.count(*s.in_reply_to_id) != 0 && id != status_id) {
      thread.insert(id);
      descendants.push_back(status_json(id));
    }
  }
  json::object o;
  o["ancestors"] = std::move(ancestors);
  o["descendants"] = std::move(descendants);
  return o;
}

json::object SandboxState::status_json(uint64_t status_id) const {
  const StatusRecord& s = statuses_.at(status_id);
  const Account& a = accounts_.at(s.account_id);
  std::string host = a.domain.empty() ? options_.domain : a.domain;
  json::object o;
  o["id"] = std::to_string(s.id);
  o["created_at"] = iso8601_utc(s.created_at_ms);
  o["in_reply_to_id"] = opt_id(s.in_reply_to_id);
  o["in_reply_to_account_id"] = opt_id(s.in_reply_to_account_id);
  o["sensitive"] = false;
  o["spoiler_text"] = "";
  o["visibility"] = s.visibility;
  o["language"] = opt_string(s.language);
  o["uri"] = "https://" + host + "/users/" + a.username + "/statuses/" + std::to_string(s.id);
  o["url"] = "https://" + host + "/@" + a.username + "/" + std::to_string(s.id);
  o["replies_count"] = s.replies_count;
  o["reblogs_count"] = 0;
  o["favourites_count"] = 0;
  o["edited_at"] = nullptr;
  o["favourited"] = false;
  o["reblogged"] = false;
  o["muted"] = false;
  o["bookmarked"] = false;
  o["pinned"] = false;
  o["content"] = render_content(s);
  o["filtered"] = json::array();
  o["reblog"] = nullptr;
  if (s.via_api) {
    o["application"] = json::object{{"name", "sotong"}, {"website", nullptr}};
  }
  o["account"] = account_json(s.account_id);
  o["media_attachments"] = json::array();
  json::array mentions;
  for (uint64_t id : s.mention_ids) {
    const Account& m = accounts_.at(id);
    mentions.push_back(json::object{{"id", std::to_string(m.id)},
                                    {"username", m.username},
                                    {"url", account_url(m)},
                                    {"acct", m.acct()}});
  }
  o["mentions"] = std::move(mentions);
  o["tags"] = json::array();
  o["emojis"] = json::array();
  o["card"] = nullptr;
  o["poll"] = nullptr;
  return o;
}

json::object SandboxState::notification_json(uint64_t notification_id) const {
  const Notification& n = notifications_.at(notification_id);
  json::object o;
  o["id"] = std::to_string(n.id);
  o["type"] = n.type;
  o["created_at"] = iso8601_utc(n.created_at_ms);
  o["account"] = account_json(n.account_id);
  o["status"] = status_json(n.status_id);
  return o;
}

json::object SandboxState::instance_json() const {
  json::object statuses{{"max_characters", options_.max_characters},
                        {"max_media_attachments", 4},
                        {"characters_reserved_per_url", mastodon::kUrlWeight}};
  json::object media{{"supported_mime_types", json::array{"image/jpeg", "image/png"}},
                     {"image_size_limit", 10485760},
                     {"image_matrix_limit", 16777216},
                     {"video_size_limit", 41943040},
                     {"video_frame_rate_limit", 60},
                     {"video_matrix_limit", 2304000}};
  json::object polls{{"max_options", 4},
                     {"max_characters_per_option", 50},
                     {"min_expiration", 300},
                     {"max_expiration", 2629746}};
  json::object o;
  o["uri"] = options_.domain;
  o["title"] = "sotong sandbox";
  o["short_description"] = "A local stand-in for a Mastodon server, for sotong's tests.";
  o["description"] = "";
  o["email"] = "";
  o["version"] = "4.2.0 (compatible; sotong-sandbox)";
  // The sandbox speaks plain HTTP, so the streaming URL is ws:// rather than wss://.
  o["urls"] = json::object{{"streaming_api", "ws://" + options_.domain}};
  o["stats"] = json::object{
      {"user_count", accounts_.size()}, {"status_count", statuses_.size()}, {"domain_count", 1}};
  o["thumbnail"] = nullptr;
  o["languages"] = json::array{"ko", "en"};
  o["registrations"] = false;
  o["approval_required"] = false;
  o["invites_enabled"] = false;
  o["configuration"] = json::object{{"accounts", json::object{{"max_featured_tags", 10}}},
                                    {"statuses", std::move(statuses)},
                                    {"media_attachments", std::move(media)},
                                    {"polls", std::move(polls)}};
  o["contact_account"] = account_json(1);
  o["rules"] = json::array();
  return o;
}

json::array SandboxState::posts_json() const {
  json::array out;
  for (const auto& p : posts_) {
    json::object o;
    o["id"] = std::to_string(p.status_id);
    o["in_reply_to_id"] = opt_id(p.in_reply_to_id);
    o["text"] = p.text;
    o["visibility"] = p.visibility;
    o["language"] = opt_string(p.language);
    o["idempotency_key"] = opt_string(p.idempotency_key);
    o["received_at"] = iso8601_utc(p.received_at_ms);
    o["received_at_ms"] = p.received_at_ms;
    o["received_at_us"] = p.received_at_us;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace sotong::sandbox
