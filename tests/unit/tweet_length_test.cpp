#include "connectors/x/tweet_length.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/text/unicode.hpp"
#include "temp_dir.hpp"

namespace sotong::x {
namespace {

// twitter-text's own conformance files, read at run time so they stay the single source of
// truth. The shared folder sits next to the repository; without it the suite fails.
const std::filesystem::path kReference = SOTONG_SOURCE_DIR "/../shared/reference/twitter-text/";

// Indices. The conformance files count UTF-16 code units, as the Java and JS implementations
// index their strings: "160 emoji char" (160 astral code points) has displayRangeEnd 319, and
// "140 family emoji" ends at 1539. sotong counts code points, so every index sotong returns is
// turned into UTF-16 units over the same text before comparing. The URL cases' texts are all
// NFC already, so code points of the NFC text are code points of the input.
std::size_t utf16_offset(std::string_view utf8, std::size_t code_points) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < utf8.size() && code_points > 0; ++i) {
    auto b = static_cast<unsigned char>(utf8[i]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte
    units += b >= 0xF0 ? 2 : 1;
    --code_points;
  }
  return units;
}
// An inclusive end index (twitter-text's ranges) in UTF-16 units.
std::size_t utf16_last(std::string_view utf8, std::size_t last_code_point) {
  return utf16_offset(utf8, last_code_point + 1) - 1;
}

// Counts one conformance section's cases; every failing case is reported with its description.
class Tally {
 public:
  explicit Tally(std::string section) : section_(std::move(section)) {}
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;
  ~Tally() {
    std::cout << "[conformance] " << section_ << ": " << passed_ << "/" << total_
              << " cases passed\n";
    ::testing::Test::RecordProperty(section_ + ".passed", passed_);
    ::testing::Test::RecordProperty(section_ + ".total", total_);
    EXPECT_GT(total_, 0) << section_ << " has no cases";
    EXPECT_EQ(passed_, total_) << section_;
  }

  void check(const YAML::Node& c, const std::string& got, const std::string& want) {
    ++total_;
    if (got == want) {
      ++passed_;
      return;
    }
    ADD_FAILURE() << section_ << ": " << c["description"].as<std::string>("")
                  << "\n  text: " << c["text"].as<std::string>("") << "\n  want: " << want
                  << "\n  got:  " << got;
  }

 private:
  std::string section_;
  int passed_ = 0;
  int total_ = 0;
};

// A section of a conformance file; a missing file or section is a failure, never a skip.
YAML::Node load_section(const std::string& file, const std::string& section) {
  const auto path = kReference / file;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "twitter-text conformance file missing: " << path
                  << " (the shared reference folder must sit next to the repository)";
    return {};
  }
  YAML::Node cases = YAML::LoadFile(path.string())["tests"][section];
  if (!cases.IsSequence()) ADD_FAILURE() << file << " has no section " << section;
  return cases;
}

std::string describe(const ParseResult& r, const std::string& text) {
  std::ostringstream s;
  s << "weightedLength=" << r.weighted_length << " valid=" << r.valid
    << " permillage=" << r.permillage << " display=[" << utf16_offset(text, r.display_range_start)
    << "," << utf16_last(text, r.display_range_end) << "] validRange=["
    << utf16_offset(text, r.valid_range_start) << "," << utf16_last(text, r.valid_range_end) << "]";
  return s.str();
}

std::string describe_expected(const YAML::Node& e) {
  std::ostringstream s;
  s << "weightedLength=" << e["weightedLength"].as<int>() << " valid=" << e["valid"].as<bool>()
    << " permillage=" << e["permillage"].as<int>() << " display=["
    << e["displayRangeStart"].as<int>() << "," << e["displayRangeEnd"].as<int>() << "] validRange=["
    << e["validRangeStart"].as<int>() << "," << e["validRangeEnd"].as<int>() << "]";
  return s.str();
}

void run_weighted_section(const std::string& section, const TextConfig& config) {
  Tally tally(section);
  for (const auto& c : load_section("validate.yml", section)) {
    const auto text = c["text"].as<std::string>();
    tally.check(c, describe(parse_tweet(text, config), text), describe_expected(c["expected"]));
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& s : v) out += "\"" + s + "\" ";
  return out + "]";
}

// Sections whose expected value is the list of URLs extracted.
void run_url_list_section(const std::string& file, const std::string& section) {
  Tally tally(file + ":" + section);
  for (const auto& c : load_section(file, section)) {
    std::vector<std::string> got;
    for (const auto& u : extract_urls(c["text"].as<std::string>())) got.push_back(u.url);
    tally.check(c, join(got), join(c["expected"].as<std::vector<std::string>>()));
  }
}

// Sections whose expected value lists each URL with its [start, end) UTF-16 indices.
void run_url_indices_section(const std::string& section) {
  Tally tally(section);
  for (const auto& c : load_section("extract.yml", section)) {
    const auto text = c["text"].as<std::string>();
    std::ostringstream got;
    std::ostringstream want;
    for (const auto& u : extract_urls(text))
      got << u.url << " [" << utf16_offset(text, u.start) << "," << utf16_offset(text, u.end)
          << ") ";
    for (const auto& e : c["expected"])
      want << e["url"].as<std::string>() << " [" << e["indices"][0].as<int>() << ","
           << e["indices"][1].as<int>() << ") ";
    tally.check(c, got.str(), want.str());
  }
}

TextConfig load_reference_config(const char* name) {
  auto config = load_text_config(kReference / name);
  if (!config) {
    ADD_FAILURE() << config.error();
    return config_v3();
  }
  return *config;
}

// ---- validate.yml -------------------------------------------------------------------------

TEST(TweetLengthConformance, WeightedTweetsCounterTestWithConfigV2) {
  run_weighted_section("WeightedTweetsCounterTest", load_reference_config("config-v2.json"));
}

TEST(TweetLengthConformance, WeightedTweetsWithDiscountedEmojiCounterTestWithConfigV3) {
  run_weighted_section("WeightedTweetsWithDiscountedEmojiCounterTest", config_v3());
}

TEST(TweetLengthConformance, UnicodeDirectionalMarkerCounterTest) {
  run_weighted_section("UnicodeDirectionalMarkerCounterTest", config_v3());
}

// The `tweets` section is twitter-text's v1 rule (Validator.isValidTweet): every code point
// counts one, a URL 23, at most 140.
TEST(TweetLengthConformance, TweetsSectionWithVersionOneCounting) {
  const TextConfig v1{.max_weighted_length = 140,
                      .scale = 1,
                      .default_weight = 1,
                      .transformed_url_length = 23,
                      .emoji_parsing_enabled = false,
                      .ranges = {}};
  Tally tally("tweets");
  for (const auto& c : load_section("validate.yml", "tweets")) {
    bool valid = parse_tweet(c["text"].as<std::string>(), v1).valid;
    tally.check(c, valid ? "valid" : "invalid", c["expected"].as<bool>() ? "valid" : "invalid");
  }
}

// isValidUrl(text, requireProtocol=false) for a text that is only a URL: here, the extractor
// must find the whole text as one URL. (The `urls` section checks RFC 3986 validation of user
// info, IP literals and ports, which X's counting never uses; it is not run.)
TEST(TweetLengthConformance, UrlsWithoutProtocolAreExtractedWhole) {
  Tally tally("urls_without_protocol");
  for (const auto& c : load_section("validate.yml", "urls_without_protocol")) {
    const auto text = c["text"].as<std::string>();
    auto urls = extract_urls(text);
    bool whole = urls.size() == 1 && urls[0].url == text;
    tally.check(c, whole ? "valid" : "invalid", c["expected"].as<bool>() ? "valid" : "invalid");
  }
}

// ---- extract.yml and tlds.yml -------------------------------------------------------------

TEST(UrlExtractionConformance, Urls) {
  run_url_list_section("extract.yml", "urls");
}

TEST(UrlExtractionConformance, UrlsWithIndices) {
  run_url_indices_section("urls_with_indices");
}

TEST(UrlExtractionConformance, UrlsWithDirectionalMarkers) {
  run_url_indices_section("urls_with_directional_markers");
}

TEST(UrlExtractionConformance, TcoUrlsWithParams) {
  run_url_list_section("extract.yml", "tco_urls_with_params");
}

TEST(UrlExtractionConformance, EveryCountryTld) {
  run_url_list_section("tlds.yml", "country");
}

TEST(UrlExtractionConformance, EveryGenericTld) {
  run_url_list_section("tlds.yml", "generic");
}

// ---- Behaviour the daemon relies on -------------------------------------------------------

TEST(ParseTweet, HangulWeighsTwo) {
  EXPECT_EQ(parse_tweet("민원 접수").weighted_length, 9);
}

TEST(ParseTweet, EveryUrlCountsTwentyThree) {
  EXPECT_EQ(parse_tweet("see https://example.org/a/very/long/path/that/goes/on").weighted_length,
            4 + 23);
  EXPECT_EQ(parse_tweet("see example.org").weighted_length, 4 + 23);
}

TEST(ParseTweet, EmojiSequencesCountOnce) {
  EXPECT_EQ(parse_tweet("👨‍👩‍👧‍👦").weighted_length, 2);
  EXPECT_EQ(parse_tweet("🇰🇷").weighted_length, 2);
  EXPECT_EQ(parse_tweet("1️⃣").weighted_length, 2);
  EXPECT_EQ(parse_tweet("👍🏽").weighted_length, 2);
  EXPECT_EQ(parse_tweet("❤️").weighted_length, 2);
  EXPECT_EQ(parse_tweet("©").weighted_length, 1);  // an emoji only with U+FE0F
}

// twitter-text's list stops at Emoji 12.1; newer sequences count in pieces, so sotong never
// counts less than X does.
TEST(ParseTweet, SequencesNewerThanTwitterTextCountInPieces) {
  EXPECT_EQ(parse_tweet("🐈‍⬛").weighted_length, 2 + 1 + 2);
}

TEST(ParseTweet, EmptyAndBlankTextAreNotPosts) {
  EXPECT_FALSE(parse_tweet("").valid);
  EXPECT_FALSE(parse_tweet("  \n").valid);
}

TEST(ExtractUrls, IndicesAreCodePoints) {
  auto urls = extract_urls("😷 http://example.com");
  ASSERT_EQ(urls.size(), 1u);
  EXPECT_EQ(urls[0].start, 2u);
  EXPECT_EQ(urls[0].end, 20u);
}

TEST(TextConfig, BuiltInV3MatchesTheReferenceFile) {
  auto file = load_reference_config("config-v3.json");
  const auto& built_in = config_v3();
  EXPECT_EQ(file.max_weighted_length, built_in.max_weighted_length);
  EXPECT_EQ(file.scale, built_in.scale);
  EXPECT_EQ(file.default_weight, built_in.default_weight);
  EXPECT_EQ(file.transformed_url_length, built_in.transformed_url_length);
  EXPECT_TRUE(file.emoji_parsing_enabled);
  ASSERT_EQ(file.ranges.size(), built_in.ranges.size());
  for (std::size_t i = 0; i < file.ranges.size(); ++i) {
    EXPECT_EQ(file.ranges[i].start, built_in.ranges[i].start);
    EXPECT_EQ(file.ranges[i].end, built_in.ranges[i].end);
    EXPECT_EQ(file.ranges[i].weight, built_in.ranges[i].weight);
  }
}

TEST(TextConfig, VersionTwoHasNoEmojiParsing) {
  EXPECT_FALSE(load_reference_config("config-v2.json").emoji_parsing_enabled);
}

TEST(TextConfig, BrokenOrIncompleteFilesAreErrors) {
  test_support::TempDir dir;
  EXPECT_FALSE(load_text_config(dir.path() / "absent.json").ok());
  EXPECT_FALSE(load_text_config(dir.write("broken.json", "{\"scale\": ")).ok());
  auto missing = load_text_config(dir.write("missing.json", R"({"scale": 100})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("maxWeightedTweetLength"), std::string::npos);
}

TEST(FitPost, TextThatFitsIsUnchanged) {
  EXPECT_EQ(fit_post("@citizen ", "접수되었습니다"), "접수되었습니다");
}

TEST(FitPost, LongKoreanTextIsCutAtAGraphemeWithEllipsis) {
  const std::string prefix = "@citizen ";
  std::string body;
  for (int i = 0; i < 30; ++i) body += "민원이 접수되었습니다. ";
  const std::string out = fit_post(prefix, body);
  const auto r = parse_tweet(prefix + out);
  EXPECT_TRUE(r.valid);
  EXPECT_GE(r.weighted_length, 270);  // cut near the limit, not far before it
  ASSERT_GT(out.size(), 3u);
  EXPECT_EQ(out.substr(out.size() - 3), "…");
  const std::string kept = out.substr(0, out.size() - 3);
  EXPECT_EQ(body.substr(0, kept.size()), kept);
  EXPECT_EQ(text::grapheme_prefix(body, text::grapheme_count(kept)), kept);
}

TEST(FitPost, ZwjSequencesAreNeverSplit) {
  const std::string family = "👨‍👩‍👧‍👦";
  std::string body;
  for (int i = 0; i < 200; ++i) body += family;
  const std::string out = fit_post("@a ", body);
  EXPECT_TRUE(parse_tweet("@a " + out).valid);
  ASSERT_GT(out.size(), 3u);
  const std::string kept = out.substr(0, out.size() - 3);
  EXPECT_EQ(kept.size() % family.size(), 0u) << "cut inside a family";
  EXPECT_EQ(body.substr(0, kept.size()), kept);
}

TEST(FitPost, FlagsKeycapsAndSkinTonesAreNeverSplit) {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "🇰🇷👍🏽1️⃣🏴󠁧󠁢󠁳󠁣󠁴󠁿";
  const std::string out = fit_post("", body);
  ASSERT_GT(out.size(), 3u);
  const std::string kept = out.substr(0, out.size() - 3);
  EXPECT_EQ(text::grapheme_prefix(body, text::grapheme_count(kept)), kept);
  // Each whole emoji counts as one default weight (2), so nothing was split into pieces.
  EXPECT_EQ(static_cast<std::size_t>(parse_tweet(kept).weighted_length),
            2 * text::grapheme_count(kept));
  EXPECT_TRUE(parse_tweet(out).valid);
}

TEST(FitPost, UrlIsNeverCutInTheMiddle) {
  const std::string body =
      std::string(260, 'a') + " https://example.org/path " + std::string(50, 'b');
  EXPECT_EQ(fit_post("", body), std::string(260, 'a') + "…");
}

}  // namespace
}  // namespace sotong::x
