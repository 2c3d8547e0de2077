#include <gtest/gtest.h>

#include "connectors/x/x_connector.hpp"

namespace sotong::x {
namespace {

constexpr const char* kPage = R"({
  "data": [
    {"id": "1900000000000000002", "text": "@songpaOK 육교에 구멍이 &amp; 금이 있어요", "author_id": "42",
     "created_at": "2026-11-22T01:02:03.000Z", "conversation_id": "1900000000000000001",
     "lang": "ko", "referenced_posts": [{"type": "replied_to", "id": "1900000000000000001"}]},
    {"id": "1900000000000000001", "text": "@songpaOK hello", "author_id": "7", "lang": "und"},
    {"id": "not-a-number", "text": "x", "author_id": "42"},
    {"id": "1900000000000000003", "text": "no author in includes", "author_id": "999"}
  ],
  "includes": {"users": [{"id": "42", "username": "citizen42", "name": "C"},
                         {"id": "7", "username": "songpaOK", "name": "Us"}]},
  "meta": {"newest_id": "1900000000000000003", "oldest_id": "1900000000000000001",
           "result_count": 4, "next_token": "abc"}
})";

TEST(XMentionsPage, ParsesMentionsAuthorsAndThreads) {
  auto page = parse_mentions_page(kPage, "songpa_x", "7", "songpaOK");
  ASSERT_TRUE(page.ok()) << page.error();
  EXPECT_EQ(page->next_token, "abc");
  EXPECT_EQ(page->newest_id, "1900000000000000003");
  ASSERT_EQ(page->mentions.size(), 2u);  // bad id and unknown author skipped
  const auto& m = page->mentions[0];
  EXPECT_EQ(m.platform, "x");
  EXPECT_EQ(m.author_acct, "citizen42");
  EXPECT_EQ(m.text, "육교에 구멍이 & 금이 있어요");
  EXPECT_EQ(m.in_reply_to_id, "1900000000000000001");  // referenced_posts (2.167) is read
  EXPECT_EQ(m.thread_id, "1900000000000000001");
  EXPECT_EQ(m.language, "ko");
  EXPECT_EQ(m.visibility, Visibility::kPublic);
  EXPECT_FALSE(m.author_is_self);
  EXPECT_TRUE(page->mentions[1].author_is_self);
  EXPECT_EQ(page->mentions[1].language, "");  // "und"
}

TEST(XMentionsPage, ReferencedTweetsOfTheOlderVersionIsReadToo) {
  auto page = parse_mentions_page(
      R"({"data":[{"id":"5","text":"hi","author_id":"1","referenced_tweets":[{"type":"replied_to","id":"4"}]}],
          "includes":{"users":[{"id":"1","username":"a"}]},"meta":{"result_count":1}})",
      "x", "", "songpaOK");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->mentions.size(), 1u);
  EXPECT_EQ(page->mentions[0].in_reply_to_id, "4");
}

TEST(XMentionsPage, EmptyAndHostilePages) {
  auto empty = parse_mentions_page(R"({"meta":{"result_count":0}})", "x", "", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->mentions.empty());
  EXPECT_FALSE(parse_mentions_page("{", "x", "", "").ok());
  EXPECT_FALSE(parse_mentions_page(R"({"data":5})", "x", "", "").ok());
  EXPECT_FALSE(parse_mentions_page("[]", "x", "", "").ok());
  auto odd =
      parse_mentions_page(R"({"data":[5,null,{"id":7}],"includes":{"users":"no"}})", "x", "", "");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->mentions.empty());
}

TEST(XBudget, HeadersSetTheBudgetAndAnEmptyOneWaitsForTheReset) {
  HttpResponse r;
  r.headers = {{"x-rate-limit-limit", "300"},
               {"x-rate-limit-remaining", "0"},
               {"x-rate-limit-reset", "1800000010"}};
  Budget b;
  ASSERT_TRUE(b.update(r, 1'800'000'000'000));
  EXPECT_EQ(b.limit, 300);
  EXPECT_EQ(b.wait_ms(1'800'000'000'000), 10'000);
  EXPECT_EQ(b.wait_ms(1'800'000'010'000), 0);
  HttpResponse none;
  EXPECT_FALSE(b.update(none, 0));
}

}  // namespace
}  // namespace sotong::x
