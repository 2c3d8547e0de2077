// Unicode helpers over utf8proc. All functions take and return UTF-8; invalid UTF-8 input is
// never passed through: it is replaced by U+FFFD, so hostile bytes cannot reach a platform or
// a log. Thread-safe (no state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sotong::text {

// Replaces invalid sequences with U+FFFD and drops NUL and C0/C1 controls other than \n and \t.
std::string sanitize_utf8(std::string_view s);
// NFC normalisation (after sanitising).
std::string nfc(std::string_view s);
// NFC + case fold: the form used for keyword matching (Korean is unaffected by folding).
std::string fold(std::string_view s);
// Number of extended grapheme clusters (what a person calls characters).
std::size_t grapheme_count(std::string_view s);
// The longest prefix of s with at most max_graphemes grapheme clusters.
std::string_view grapheme_prefix(std::string_view s, std::size_t max_graphemes);

// Removes every @username (with or without @domain) from a mention's text and trims it: our
// own handle is noise in a ticket.
std::string remove_mentions_of(std::string text, std::string_view username);

// Text from outside (a department's resolution, a display name) made safe to put in a public
// reply: '@' and '#' become their full-width forms, so it cannot mention a third party or add
// a hashtag, and "://" is broken so it cannot become a link. Sanitised and NFC as well.
std::string neutralize(std::string_view s);

}  // namespace sotong::text
