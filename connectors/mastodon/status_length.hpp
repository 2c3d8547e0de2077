// How Mastodon counts a status against the instance's max_characters: grapheme clusters,
// every http(s) URL counts as 23, and a mention @user@domain counts as @user. Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sotong::mastodon {

// Characters every URL counts as, whatever its length (Mastodon's StatusLengthValidator).
inline constexpr std::size_t kUrlWeight = 23;

std::size_t status_length(std::string_view text);

// Shortens `text` so that status_length(prefix + result) <= max_chars, cutting at a grapheme
// boundary and ending in "…" when anything was cut. Returns `text` unchanged when it fits.
std::string fit_status(std::string_view prefix, std::string_view text, std::size_t max_chars);

}  // namespace sotong::mastodon
