#include "sandbox/x_shapes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/pct_string_view.hpp>

#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::sandbox {
namespace {

namespace json = boost::json;

// More query parameters than any X endpoint defines, with room for mistakes to be reported.
constexpr std::size_t kMaxQueryParams = 64;
// Pagination tokens are the page's oldest id, masked and in base32hex: opaque to clients.
constexpr uint64_t kTokenMask = 0x5a17'c0de'0b5c'a7e5ULL;
constexpr std::size_t kTokenLength = 13;  // 64 bits in 5-bit digits
constexpr std::string_view kInvalidRequestType =
    "https://api.twitter.com/2/problems/invalid-request";
constexpr std::string_view kInvalidRequestDetail =
    "One or more parameters to your request was invalid.";

// Lists as X quotes them in its error messages. post: the enums of tweet.fields (2.164) and
// post.fields (2.167), plus 2.167's referenced_posts; the others are unions of both too.
constexpr std::string_view kPostFields =
    "article,article_title,attachments,author_id,card_uri,community_id,context_annotations,"
    "conversation_id,created_at,display_text_range,edit_controls,edit_history_tweet_ids,"
    "entities,geo,id,in_reply_to_user_id,lang,matched_media_notes,media_metadata,"
    "non_public_metrics,note_post,note_request_suggestions,note_tweet,organic_metrics,"
    "paid_partnership,possibly_sensitive,promoted_metrics,public_metrics,referenced_posts,"
    "referenced_tweets,reply_settings,scopes,source,suggested_source_links,"
    "suggested_source_links_with_counts,text,withheld";
constexpr std::string_view kUserFields =
    "affiliation,confirmed_email,connection_status,created_at,description,entities,id,"
    "is_identity_verified,location,most_recent_tweet_id,name,parody,pinned_tweet_id,"
    "profile_banner_url,profile_image_url,protected,public_metrics,receives_your_dm,"
    "subscribes_to_you,subscription,subscription_type,url,username,verified,"
    "verified_followers_count,verified_type,withheld";
constexpr std::string_view kExpansions =
    "affiliation,affiliation.user_id,article.cover_media,article.media_entities,"
    "attachments.media_keys,attachments.media_source_tweet,attachments.poll_ids,author_id,"
    "edit_history_post_ids,edit_history_tweet_ids,entities.mentions.username,"
    "entities.note.mentions.username,geo.place_id,in_reply_to_user_id,most_recent_post_id,"
    "most_recent_tweet_id,pinned_post_id,pinned_tweet_id,referenced_posts,"
    "referenced_tweets.id,referenced_tweets.id.attachments.media_keys,"
    "referenced_tweets.id.author_id,username";

// application/x-www-form-urlencoded, as RFC 5849 §3.4.1.3.1 reads query and body: '+' is a
// space; a broken %-escape makes the whole string malformed.
bool form_decode(std::string_view s, std::string* out) {
  auto pct = boost::urls::make_pct_string_view(s);
  if (!pct) return false;
  *out = pct->decode(boost::urls::encoding_opts(true));
  return true;
}

std::optional<XResponse> read_list(const x::Params& query, std::string_view name,
                                   std::string_view allowed, std::set<std::string>* out) {
  for (const auto& [key, value] : query) {
    if (key != name) continue;
    std::string_view rest = value;
    for (;;) {
      std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      if (!list_contains(allowed, item)) {
        return invalid_request(name, value,
                               "The `" + std::string(name) + "` query parameter value [" +
                                   std::string(item) + "] is not one of [" + std::string(allowed) +
                                   "]");
      }
      out->insert(std::string(item));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

bool list_contains(std::string_view list, std::string_view item) {
  if (item.empty() || item.find(',') != std::string_view::npos) return false;
  for (std::size_t at = list.find(item); at != std::string_view::npos;
       at = list.find(item, at + 1)) {
    bool starts = at == 0 || list[at - 1] == ',';
    bool ends = at + item.size() == list.size() || list[at + item.size()] == ',';
    if (starts && ends) return true;
  }
  return false;
}

std::optional<x::Params> decode_form(std::string_view raw) {
  x::Params out;
  while (!raw.empty()) {
    std::size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.empty()) continue;
    if (out.size() == kMaxQueryParams) return std::nullopt;
    std::size_t eq = pair.find('=');
    std::string name;
    std::string value;
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (!form_decode(pair.substr(0, eq), &name) || !form_decode(raw_value, &value)) {
      return std::nullopt;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::optional<XResponse> check_query(const x::Params& query, std::string_view allowed,
                                     XFields* fields) {
  std::set<std::string_view> seen;
  for (const auto& [key, value] : query) {
    if (!list_contains(allowed, key)) {
      return invalid_request(
          key, value,
          "The query parameter [" + key + "] is not one of [" + std::string(allowed) + "]");
    }
    if (!seen.insert(key).second) {
      return invalid_request(key, value, "Duplicate parameters are not allowed: [" + key + "]");
    }
  }
  for (const char* name : {"tweet.fields", "post.fields"}) {
    if (auto bad = read_list(query, name, kPostFields, &fields->post)) return bad;
  }
  if (auto bad = read_list(query, "user.fields", kUserFields, &fields->user)) return bad;
  if (auto bad = read_list(query, "expansions", kExpansions, &fields->expansions)) return bad;
  return std::nullopt;
}

XResponse json_answer(unsigned status, const json::value& v) {
  XResponse r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

XResponse problem(unsigned status, std::string_view title, std::string_view detail,
                  std::string_view type) {
  return json_answer(
      status,
      json::object{{"title", title}, {"type", type}, {"status", status}, {"detail", detail}});
}

XResponse invalid_request(std::string_view parameter, std::string_view value,
                          const std::string& message) {
  // The offending value is echoed as X does, made valid UTF-8.
  json::object error;
  if (!parameter.empty()) {
    error["parameters"] =
        json::object{{parameter, json::array{json::string(text::sanitize_utf8(value))}}};
  }
  error["message"] = text::sanitize_utf8(message);
  return json_answer(400, json::object{{"errors", json::array{error}},
                                       {"title", "Invalid Request"},
                                       {"detail", kInvalidRequestDetail},
                                       {"type", kInvalidRequestType}});
}

json::object user_json(const XUser& u, const XFields& f) {
  json::object o;
  if (f.user.count("created_at") != 0) o["created_at"] = iso8601_utc(u.created_at_ms);
  o["id"] = std::to_string(u.id);
  o["name"] = u.name;
  o["username"] = u.username;
  return o;
}

// Keys in X's (alphabetical) order. Besides id, text and the edit history X always sends, only
// what was asked for.
json::object post_json(const XPost& p, const XFields& f) {
  json::object o;
  if (f.post_field("author_id") || f.expands("author_id")) {
    o["author_id"] = std::to_string(p.author_id);
  }
  if (f.post_field("conversation_id")) o["conversation_id"] = std::to_string(p.conversation_id);
  if (f.post_field("created_at")) o["created_at"] = iso8601_utc(p.created_at_ms);
  o["edit_history_tweet_ids"] = json::array{json::string(std::to_string(p.id))};
  o["id"] = std::to_string(p.id);
  if (p.in_reply_to_user_id &&
      (f.post_field("in_reply_to_user_id") || f.expands("in_reply_to_user_id"))) {
    o["in_reply_to_user_id"] = std::to_string(*p.in_reply_to_user_id);
  }
  if (f.post_field("lang")) o["lang"] = p.lang.value_or("und");
  if (p.in_reply_to_id && (f.post_field("referenced_tweets") || f.post_field("referenced_posts"))) {
    // 2.167 calls them referenced_posts: answer in the caller's words, referenced_tweets if both.
    const char* key = f.post_field("referenced_tweets") ? "referenced_tweets" : "referenced_posts";
    o[key] = json::array{
        json::object{{"type", "replied_to"}, {"id", std::to_string(*p.in_reply_to_id)}}};
  }
  o["text"] = p.text;
  return o;
}

std::string encode_pagination_token(uint64_t before_id) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuv";
  uint64_t v = before_id ^ kTokenMask;
  std::string out(kTokenLength, '0');
  for (std::size_t i = kTokenLength; i-- > 0; v >>= 5) out[i] = kDigits[v & 31];
  return out;
}

std::optional<uint64_t> decode_pagination_token(std::string_view s) {
  if (s.size() != kTokenLength) return std::nullopt;
  uint64_t v = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'v' ? c - 'a' + 10 : -1;
    // The first digit carries only the top four of 64 bits.
    if (d < 0 || (i == 0 && d > 15)) return std::nullopt;
    v = (v << 5) | static_cast<uint64_t>(d);
  }
  return v ^ kTokenMask;
}

}  // namespace sotong::sandbox
