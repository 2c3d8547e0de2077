#include "connectors/mastodon/status_length.hpp"

#include <gtest/gtest.h>

#include "daemon/text/unicode.hpp"

namespace sotong::mastodon {
namespace {

TEST(StatusLength, CountsGraphemesNotBytes) {
  EXPECT_EQ(status_length("접수되었습니다"), 7u);
  EXPECT_EQ(status_length("👍🏽👍🏽"), 2u);
}

TEST(StatusLength, EveryUrlCountsAsTwentyThree) {
  EXPECT_EQ(status_length("https://example.org/a/very/long/path/that/goes/on/and/on"), 23u);
  EXPECT_EQ(status_length("see http://x.y ok"), 4u + 23u + 3u);
}

TEST(StatusLength, RemoteMentionCountsOnlyTheUsername) {
  EXPECT_EQ(status_length("@citizen1@mastodon.example.org hi"), std::string("@citizen1 hi").size());
  EXPECT_EQ(status_length("@local hi"), 9u);
}

TEST(StatusLength, EmailIsNotAMention) {
  EXPECT_EQ(status_length("a@b.c"), 5u);
}

TEST(FitStatus, TextThatFitsIsUnchanged) {
  EXPECT_EQ(fit_status("@a ", "hello", 500), "hello");
}

TEST(FitStatus, LongTextIsCutAtAGraphemeWithEllipsis) {
  std::string body;
  for (int i = 0; i < 600; ++i) body += "한";
  auto out = fit_status("@citizen@far.example ", body, 500);
  EXPECT_LE(status_length("@citizen@far.example " + out), 500u);
  EXPECT_EQ(out.substr(out.size() - 3), "…");
  EXPECT_EQ(status_length("@citizen@far.example " + out), 500u);
}

TEST(FitStatus, EmojiAreNeverSplit) {
  std::string body;
  for (int i = 0; i < 20; ++i) body += "👨‍👩‍👧";
  auto out = fit_status("", body, 10);
  EXPECT_EQ(text::grapheme_count(out), 10u);
  EXPECT_EQ(text::sanitize_utf8(out), out);
}

}  // namespace
}  // namespace sotong::mastodon
