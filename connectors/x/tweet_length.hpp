// How X counts a post: twitter-text's weighted length (config v3). The text is NFC-normalised;
// each code point weighs `default_weight` unless it falls in one of the ranges; every URL
// counts `transformed_url_length` code points' worth (23 × scale); every emoji sequence counts
// as one `default_weight` when emoji parsing is on. A post is valid when its weighted length
// / scale is at most max_weighted_length (280). Thread-safe: pure functions on values.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong::x {

struct WeightRange {
  char32_t start = 0;
  char32_t end = 0;  // inclusive
  int weight = 100;
};

struct TextConfig {
  int max_weighted_length = 280;
  int scale = 100;
  int default_weight = 200;
  int transformed_url_length = 23;
  bool emoji_parsing_enabled = true;
  std::vector<WeightRange> ranges;
};

// twitter-text's config v3, built in (the values of config-v3.json).
const TextConfig& config_v3();
// Reads a twitter-text config JSON file (v2 or v3 shape).
Result<TextConfig> load_text_config(const std::filesystem::path& path);

// A URL found in text, as code point offsets [start, end) into the NFC text (twitter-text's
// indices).
struct UrlSpan {
  std::size_t start = 0;
  std::size_t end = 0;
  std::string url;
};
// twitter-text's URL extraction (with and without protocol, valid TLDs only).
std::vector<UrlSpan> extract_urls(std::string_view text);

struct ParseResult {
  int weighted_length = 0;  // already divided by scale
  bool valid = false;
  int permillage = 0;
  std::size_t display_range_start = 0;  // code points (UTF-16 units in twitter-text's files:
  std::size_t display_range_end = 0;    // see the test for how they are compared)
  std::size_t valid_range_start = 0;
  std::size_t valid_range_end = 0;
};
ParseResult parse_tweet(std::string_view text, const TextConfig& config = config_v3());

// Shortens `text` so that prefix + text is a valid post, cutting at a grapheme boundary and
// ending in "…" when anything was cut; unchanged when it fits.
std::string fit_post(std::string_view prefix, std::string_view text,
                     const TextConfig& config = config_v3());

}  // namespace sotong::x
