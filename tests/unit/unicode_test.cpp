#include "daemon/text/unicode.hpp"

#include <gtest/gtest.h>

#include "daemon/text/html.hpp"

namespace sotong::text {
namespace {

TEST(Unicode, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(sanitize_utf8("a\xff"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC3"), "\xEF\xBF\xBD");
}

TEST(Unicode, ControlCharactersAreDroppedButNewlinesKept) {
  EXPECT_EQ(sanitize_utf8(std::string("a\0b\x07"
                                      "c\nd\te",
                                      10)),
            "abc\nd\te");
}

TEST(Unicode, DecomposedHangulIsComposedByNfc) {
  // "한" as conjoining jamo U+1112 U+1161 U+11AB.
  EXPECT_EQ(nfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "한");
}

TEST(Unicode, FoldLowercasesLatinAndLeavesHangul) {
  EXPECT_EQ(fold("Fire 화재"), "fire 화재");
}

TEST(Unicode, GraphemesCountWhatPeopleSeeAsCharacters) {
  EXPECT_EQ(grapheme_count("abc"), 3u);
  EXPECT_EQ(grapheme_count("한국"), 2u);
  EXPECT_EQ(grapheme_count("👍🏽"), 1u);            // emoji with skin tone
  EXPECT_EQ(grapheme_count("👨‍👩‍👧"), 1u);  // ZWJ family
  EXPECT_EQ(grapheme_count("🇰🇷"), 1u);                  // flag
  EXPECT_EQ(grapheme_count(""), 0u);
}

TEST(Unicode, GraphemePrefixNeverSplitsACluster) {
  EXPECT_EQ(grapheme_prefix("a👍🏽b", 2), "a👍🏽");
  EXPECT_EQ(grapheme_prefix("abc", 0), "");
  EXPECT_EQ(grapheme_prefix("abc", 10), "abc");
}

TEST(Unicode, NeutralizedTextCannotMentionTagOrLink) {
  std::string out = neutralize("fixed by @contractor #urgent see https://evil.example");
  EXPECT_EQ(out.find('@'), std::string::npos);
  EXPECT_EQ(out.find('#'), std::string::npos);
  EXPECT_EQ(out.find("://"), std::string::npos);
  EXPECT_NE(out.find("contractor"), std::string::npos);
  EXPECT_EQ(neutralize("보수 완료"), "보수 완료");
}

TEST(Unicode, OwnHandleIsRemovedFromMentionText) {
  EXPECT_EQ(remove_mentions_of("@songpaOK 육교에 구멍", "songpaOK"), "육교에 구멍");
  EXPECT_EQ(remove_mentions_of("@songpaOK@city.example hi @songpaOK", "songpaOK"), "hi");
  EXPECT_EQ(remove_mentions_of("@songpaOKfan hi", "songpaOK"), "@songpaOKfan hi");
  EXPECT_EQ(remove_mentions_of("mail a@songpaOK", "songpaOK"), "mail a@songpaOK");
}

TEST(Html, StatusContentBecomesPlainText) {
  EXPECT_EQ(
      html_to_text("<p>@<span>songpaOK</span> 육교에 &lt;구멍&gt;이 &amp; 있어요<br />둘째 줄</p>"),
      "@songpaOK 육교에 <구멍>이 & 있어요\n둘째 줄");
}

TEST(Html, NumericEntitiesAndBrokenMarkupAreHandled) {
  EXPECT_EQ(html_to_text("&#54620;&#xAD6D; &bogus; <b"), "한국 &bogus; ");
  EXPECT_EQ(html_to_text("&#0;"), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace sotong::text
