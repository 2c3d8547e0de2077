#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "connectors/x/oauth1.hpp"
#include "sandbox/x_api.hpp"

namespace sotong::sandbox {
namespace {

namespace json = boost::json;

// 2026-11-22T10:00:00Z, a fixed instant so ids and windows are predictable.
constexpr int64_t kStart = 1'795'341'600'000;
constexpr int64_t kMinute = 60'000;
constexpr const char* kHost = "127.0.0.1:8099";

class SandboxXTest : public ::testing::Test {
 protected:
  SandboxXTest() : api_(XOptions{}, [this] { return now_; }) {}

  x::OAuth1Credentials creds() const {
    XOptions o;
    return {o.consumer_key, o.consumer_secret, o.token, o.token_secret};
  }

  uint64_t mention(const std::string& text = "hello", const std::string& author = "citizen1",
                   std::optional<std::string> reply = std::nullopt) {
    auto id = api_.state().add_mention({author, text, "ko", std::move(reply)});
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error());
    now_ += 1;
    return id.ok() ? *id : 0;
  }

  // A request signed as a client signs it: the query parameters are part of the signature.
  XResponse request(const std::string& method, const std::string& path, const x::Params& query,
                    const std::string& body = "", x::OAuth1Credentials c = {}) {
    if (c.consumer_key.empty()) c = creds();
    target_ = path;
    for (std::size_t i = 0; i < query.size(); ++i) {
      target_ += (i == 0 ? "?" : "&") + x::percent_encode(query[i].first) + "=" +
                 x::percent_encode(query[i].second);
    }
    auth_ = x::authorization_header(c, method, std::string("http://") + kHost + path, query,
                                    "nonce" + std::to_string(++nonce_), now_ / 1000);
    return send(method, body);
  }

  XResponse send(const std::string& method, const std::string& body = "") {
    body_ = body;
    XRequest req{method, target_, kHost, auth_, body.empty() ? "" : "application/json", body_};
    return api_.handle(req);
  }

  XResponse get_mentions(x::Params query) {
    return request("GET", "/2/users/" + std::to_string(api_.state().self_id()) + "/mentions",
                   query);
  }

  XResponse post(const std::string& text, std::optional<uint64_t> reply = std::nullopt) {
    json::object body{{"text", text}};
    if (reply) body["reply"] = json::object{{"in_reply_to_tweet_id", std::to_string(*reply)}};
    return request("POST", "/2/tweets", {}, json::serialize(body));
  }

  static json::object parse(const XResponse& r) { return json::parse(r.body).as_object(); }

  int64_t now_ = kStart;
  XApi api_;
  int nonce_ = 0;
  std::string target_;
  std::string auth_;
  std::string body_;
};

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

std::vector<std::string> ids_of(const json::object& page) {
  std::vector<std::string> out;
  if (!page.contains("data")) return out;
  for (const auto& p : page.at("data").as_array()) {
    out.emplace_back(p.as_object().at("id").as_string());
  }
  return out;
}

TEST_F(SandboxXTest, GoodSignatureReadsTheHandle) {
  XResponse r = request("GET", "/2/users/me", {});
  ASSERT_EQ(r.status, 200u) << r.body;
  json::object data = parse(r).at("data").as_object();
  EXPECT_EQ(data.at("username"), "songpaOK");
  EXPECT_EQ(str(data.at("id")), std::to_string(api_.state().self_id()));
  EXPECT_EQ(r.header("x-rate-limit-limit"), "75");
  EXPECT_EQ(r.header("x-rate-limit-remaining"), "74");
  EXPECT_EQ(r.header("x-rate-limit-reset"), std::to_string((now_ + 15 * kMinute) / 1000));
}

TEST_F(SandboxXTest, WrongSecretIsUnauthorized) {
  x::OAuth1Credentials c = creds();
  c.token_secret = "not-the-secret";
  XResponse r = request("GET", "/2/users/me", {}, "", c);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(
      r.body,
      R"({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})");
  EXPECT_EQ(api_.stats_json().at("x_unauthorized"), 1);
}

TEST_F(SandboxXTest, UnknownConsumerKeyIsUnauthorized) {
  x::OAuth1Credentials c = creds();
  c.consumer_key = "someone-else";
  EXPECT_EQ(request("GET", "/2/users/me", {}, "", c).status, 401u);
}

TEST_F(SandboxXTest, TamperedQueryBreaksTheSignature) {
  mention();
  get_mentions({{"max_results", "5"}});
  target_.replace(target_.find("max_results=5"), 13, "max_results=6");
  EXPECT_EQ(send("GET").status, 401u);
}

TEST_F(SandboxXTest, ReplayedNonceIsUnauthorized) {
  ASSERT_EQ(request("GET", "/2/users/me", {}).status, 200u);
  EXPECT_EQ(send("GET").status, 401u);
}

TEST_F(SandboxXTest, TimestampFiveMinutesOffIsUnauthorized) {
  x::OAuth1Credentials c = creds();
  std::string path = "/2/users/me";
  auth_ = x::authorization_header(c, "GET", std::string("http://") + kHost + path, {}, "n1",
                                  now_ / 1000 - 301);
  target_ = path;
  EXPECT_EQ(send("GET").status, 401u);
  auth_ = x::authorization_header(c, "GET", std::string("http://") + kHost + path, {}, "n2",
                                  now_ / 1000 - 299);
  EXPECT_EQ(send("GET").status, 200u);
}

TEST_F(SandboxXTest, BearerReadsMentionsButCannotPost) {
  mention();
  target_ = "/2/users/" + std::to_string(api_.state().self_id()) + "/mentions";
  auth_ = "Bearer sandbox-bearer";
  EXPECT_EQ(send("GET").status, 200u);
  target_ = "/2/tweets";
  XResponse r = send("POST", R"({"text":"hi"})");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(parse(r).at("title"), "Unsupported Authentication");
  auth_ = "Bearer wrong";
  target_ = "/2/users/" + std::to_string(api_.state().self_id()) + "/mentions";
  EXPECT_EQ(send("GET").status, 401u);
}

TEST_F(SandboxXTest, MentionsComeNewestFirstWithRequestedFieldsAndAuthors) {
  uint64_t first = mention("버스가 안 와요", "citizen1");
  uint64_t second = mention("가로등이 꺼졌어요", "citizen2");
  XResponse r = get_mentions({{"expansions", "author_id"},
                              {"tweet.fields", "created_at,conversation_id,lang"},
                              {"user.fields", "username,name"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json::object page = parse(r);
  EXPECT_EQ(ids_of(page),
            (std::vector<std::string>{std::to_string(second), std::to_string(first)}));
  json::object newest = page.at("data").as_array().at(0).as_object();
  EXPECT_EQ(newest.at("text"), "@songpaOK 가로등이 꺼졌어요");
  EXPECT_EQ(newest.at("lang"), "ko");
  EXPECT_EQ(str(newest.at("conversation_id")), std::to_string(second));
  EXPECT_TRUE(newest.contains("created_at"));
  EXPECT_FALSE(newest.contains("in_reply_to_user_id"));
  json::array users = page.at("includes").as_object().at("users").as_array();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users.at(0).as_object().at("username"), "citizen2");
  EXPECT_EQ(str(newest.at("author_id")), str(users.at(0).as_object().at("id")));
  json::object meta = page.at("meta").as_object();
  EXPECT_EQ(str(meta.at("newest_id")), std::to_string(second));
  EXPECT_EQ(str(meta.at("oldest_id")), std::to_string(first));
  EXPECT_EQ(meta.at("result_count"), 2);
  EXPECT_FALSE(meta.contains("next_token"));
}

TEST_F(SandboxXTest, FieldsAppearOnlyWhenRequested) {
  mention();
  json::object post = parse(get_mentions({})).at("data").as_array().at(0).as_object();
  EXPECT_TRUE(post.contains("id"));
  EXPECT_TRUE(post.contains("text"));
  for (const char* f : {"author_id", "created_at", "conversation_id", "lang"}) {
    EXPECT_FALSE(post.contains(f)) << f;
  }
}

TEST_F(SandboxXTest, ReplyCarriesItsThreadInTheCallersFieldName) {
  uint64_t root = mention("first");
  ASSERT_EQ(post("답변입니다", root).status, 201u);
  uint64_t ours =
      std::stoull(std::string(parse(post("two", root)).at("data").at("id").as_string()));
  uint64_t reply = mention("thanks", "citizen1", std::to_string(ours));
  for (auto [param, key] : {std::pair{"tweet.fields", "referenced_tweets"},
                            std::pair{"post.fields", "referenced_posts"}}) {
    std::string fields = std::string("conversation_id,in_reply_to_user_id,") + key;
    json::object newest =
        parse(get_mentions({{param, fields}})).at("data").as_array().at(0).as_object();
    EXPECT_EQ(str(newest.at("id")), std::to_string(reply));
    EXPECT_EQ(str(newest.at("conversation_id")), std::to_string(root));
    EXPECT_EQ(str(newest.at("in_reply_to_user_id")), std::to_string(api_.state().self_id()));
    EXPECT_EQ(newest.at(key),
              (json::array{json::object{{"type", "replied_to"}, {"id", std::to_string(ours)}}}));
  }
}

TEST_F(SandboxXTest, PaginationWalksBackToSinceId) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 23; ++i) ids.push_back(mention("m" + std::to_string(i)));
  std::string since = std::to_string(ids[4]);
  std::vector<std::string> seen;
  std::string token;
  for (int pages = 0; pages < 10; ++pages) {
    x::Params q{{"since_id", since}, {"max_results", "5"}};
    if (!token.empty()) q.emplace_back("pagination_token", token);
    json::object page = parse(get_mentions(q));
    for (auto& id : ids_of(page)) seen.push_back(id);
    const json::object& meta = page.at("meta").as_object();
    if (!meta.contains("next_token")) break;
    token = std::string(meta.at("next_token").as_string());
  }
  std::vector<std::string> expected;
  for (std::size_t i = ids.size(); i-- > 5;) expected.push_back(std::to_string(ids[i]));
  EXPECT_EQ(seen, expected);
}

TEST_F(SandboxXTest, OnlyThe800MostRecentMentionsAreReachable) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 850; ++i) ids.push_back(mention("m" + std::to_string(i)));
  std::size_t count = 0;
  std::string token;
  std::string oldest;
  for (int pages = 0; pages < 20; ++pages) {
    x::Params q{{"max_results", "100"}, {"since_id", std::to_string(ids[0])}};
    if (!token.empty()) q.emplace_back("pagination_token", token);
    json::object page = parse(get_mentions(q));
    count += ids_of(page).size();
    const json::object& meta = page.at("meta").as_object();
    if (meta.contains("oldest_id")) oldest = std::string(meta.at("oldest_id").as_string());
    if (!meta.contains("next_token")) break;
    token = std::string(meta.at("next_token").as_string());
  }
  EXPECT_EQ(count, 800u);
  EXPECT_EQ(oldest, std::to_string(ids[50]));
}

TEST_F(SandboxXTest, EmptyTimelineHasOnlyAResultCount) {
  XResponse r = get_mentions({});
  EXPECT_EQ(r.body, R"({"meta":{"result_count":0}})");
}

TEST_F(SandboxXTest, MaxResultsOutOfRangeIsInvalid) {
  for (const char* n : {"4", "101", "ten"}) {
    XResponse r = get_mentions({{"max_results", n}});
    EXPECT_EQ(r.status, 400u) << n;
    EXPECT_EQ(parse(r).at("title"), "Invalid Request");
  }
}

TEST_F(SandboxXTest, UnknownFieldOrParameterIsInvalid) {
  EXPECT_EQ(get_mentions({{"tweet.fields", "created_at,createdat"}}).status, 400u);
  EXPECT_EQ(get_mentions({{"limit", "5"}}).status, 400u);
  EXPECT_EQ(get_mentions({{"pagination_token", "not-a-token"}}).status, 400u);
}

TEST_F(SandboxXTest, PostIsCreatedAndListed) {
  uint64_t root = mention();
  XResponse r = post("접수되었습니다", root);
  ASSERT_EQ(r.status, 201u) << r.body;
  json::object data = parse(r).at("data").as_object();
  EXPECT_EQ(data.at("text"), "접수되었습니다");
  XRequest list{"GET", "/_sandbox/x/posts", kHost, "", "", ""};
  json::array posts = json::parse(api_.handle_control(list, "/_sandbox/x/posts").body).as_array();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(str(posts.at(0).as_object().at("id")), str(data.at("id")));
  EXPECT_EQ(str(posts.at(0).as_object().at("in_reply_to_id")), std::to_string(root));
  EXPECT_EQ(api_.stats_json().at("x_posts"), 1);
}

TEST_F(SandboxXTest, DuplicateContentWithinADayIsForbidden) {
  ASSERT_EQ(post("같은 답변").status, 201u);
  now_ += 23 * 60 * kMinute;
  XResponse r = post("같은 답변");
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(parse(r).at("detail"), "You are not allowed to create a Tweet with duplicate content.");
  EXPECT_EQ(api_.stats_json().at("x_duplicates_rejected"), 1);
  now_ += 61 * kMinute;
  EXPECT_EQ(post("같은 답변").status, 201u);
}

TEST_F(SandboxXTest, TextOver280WeightedCharactersIsInvalid) {
  std::string hangul;
  for (int i = 0; i < 140; ++i) hangul += "가";
  EXPECT_EQ(post(hangul).status, 201u);
  XResponse r = post(hangul + "나");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(post(std::string(280, 'a')).status, 201u);
  EXPECT_EQ(post(std::string(281, 'a')).status, 400u);
}

TEST_F(SandboxXTest, ReplyToUnknownPostIsInvalid) {
  XResponse r = post("hello", 12345);
  EXPECT_EQ(r.status, 400u);
  json::object body = parse(r);
  EXPECT_EQ(body.at("title"), "Invalid Request");
  EXPECT_FALSE(body.at("errors").as_array().at(0).as_object().at("message").as_string().empty());
}

TEST_F(SandboxXTest, MentionsBudgetRunsOutAndComesBack) {
  api_.state().set_limits(3, 100, 10'000, 15 * kMinute);
  for (int i = 0; i < 3; ++i) {
    XResponse r = get_mentions({});
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("x-rate-limit-remaining"), std::to_string(2 - i));
  }
  XResponse refused = get_mentions({});
  EXPECT_EQ(refused.status, 429u);
  EXPECT_EQ(
      refused.body,
      R"({"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"})");
  EXPECT_EQ(refused.header("x-rate-limit-remaining"), "0");
  int64_t reset_s = std::stoll(refused.header("x-rate-limit-reset"));
  now_ = reset_s * 1000;
  XResponse again = get_mentions({});
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.header("x-rate-limit-remaining"), "2");
}

TEST_F(SandboxXTest, DailyPostBudgetIsReportedAndEnforced) {
  api_.state().set_limits(300, 100, 2, 15 * kMinute);
  XResponse first = post("one");
  EXPECT_EQ(first.header("x-user-limit-24hour-limit"), "2");
  EXPECT_EQ(first.header("x-user-limit-24hour-remaining"), "1");
  EXPECT_EQ(post("two").status, 201u);
  XResponse refused = post("three");
  EXPECT_EQ(refused.status, 429u);
  EXPECT_EQ(refused.header("x-user-limit-24hour-remaining"), "0");
  now_ += 24 * 60 * kMinute;
  EXPECT_EQ(post("three").status, 201u);
}

TEST_F(SandboxXTest, InjectedTooManyRequestsResetsInASecond) {
  XRequest req{"GET", "/2/users/1/mentions", kHost, "", "", ""};
  XResponse r = api_.fault_response(FaultKind::kTooManyRequests, req);
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.header("x-rate-limit-reset"), std::to_string((now_ + 1000 + 999) / 1000));
}

TEST_F(SandboxXTest, ControlMentionKeepsTheAuthorsIdAcrossReset) {
  uint64_t first = mention("a", "citizen9");
  std::string author = std::to_string(api_.state().post(first)->author_id);
  api_.reset();
  uint64_t again = mention("b", "citizen9");
  EXPECT_EQ(std::to_string(api_.state().post(again)->author_id), author);
  EXPECT_GT(again, first);
}

}  // namespace
}  // namespace sotong::sandbox
