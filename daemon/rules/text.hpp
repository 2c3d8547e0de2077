// The forms of a mention's text that rules match on: the keyword form (folded, punctuation
// as spaces), and the hashtags in it. Keywords written by admins go through the same
// normalize(), so both sides compare alike. Stateless; thread-safe; never fails (invalid UTF-8
// becomes U+FFFD before anything else).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sotong::rules {

// Longer than any platform's post (X: 25,000 characters); beyond it only the start is matched,
// which bounds the work per mention.
inline constexpr std::size_t kMaxMatchedTextBytes = 128 * 1024;

// NFC + case fold, with ASCII punctuation, curly quotes and runs of whitespace turned into
// single spaces. Leading and trailing spaces are kept, so a keyword written " bus " only
// matches the whole word.
std::string normalize(std::string_view s);

// The first kMaxMatchedTextBytes of s (cut on a character boundary).
std::string_view matched_part(std::string_view s);

// normalize(matched_part(raw)) with one space at each end, so word-edge keywords match at the
// start and end of the text too.
std::string keyword_form(std::string_view raw);

// Names, reasons and categories end up in logs and replies: one line of valid UTF-8 without
// control characters, not empty, at most max_bytes.
bool is_one_line(std::string_view s, std::size_t max_bytes);

// Whether s (already folded) could be a hashtag without its '#': letters, digits, marks and
// '_' only.
bool is_hashtag_body(std::string_view s);

// The hashtags of NFC text, folded and without '#', sorted and unique: '#' or '＃' not
// preceded by a letter or digit, then hashtag characters up to the first other one.
std::vector<std::string> hashtags(std::string_view nfc_text);

}  // namespace sotong::rules
