#include "connectors/mastodon/status_length.hpp"

#include <string>

#include "daemon/text/unicode.hpp"

namespace sotong::mastodon {
namespace {

bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_domain(char c) {
  return is_word(c) || c == '.' || c == '-';
}
bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

bool starts_with_at(std::string_view s, std::size_t i, std::string_view p) {
  return s.substr(i, p.size()) == p;
}

}  // namespace

// Builds the "countable text" as Mastodon does (URLs replaced by 23 placeholder characters,
// remote mentions cut to @user), then counts grapheme clusters.
std::size_t status_length(std::string_view text) {
  std::string countable;
  countable.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    bool boundary = i == 0 || !is_word(text[i - 1]);
    if (boundary && (starts_with_at(text, i, "http://") || starts_with_at(text, i, "https://"))) {
      std::size_t j = i;
      while (j < text.size() && !is_space(text[j])) ++j;
      countable.append(kUrlWeight, 'x');
      i = j;
      continue;
    }
    if (boundary && text[i] == '@' && i + 1 < text.size() && is_word(text[i + 1])) {
      std::size_t j = i + 1;
      while (j < text.size() && is_word(text[j])) ++j;
      countable.append(text.substr(i, j - i));
      if (j + 1 < text.size() && text[j] == '@' && is_domain(text[j + 1])) {
        ++j;
        while (j < text.size() && is_domain(text[j])) ++j;
      }
      i = j;
      continue;
    }
    countable += text[i];
    ++i;
  }
  return text::grapheme_count(countable);
}

std::string fit_status(std::string_view prefix, std::string_view text, std::size_t max_chars) {
  std::string whole = std::string(prefix) + std::string(text);
  if (status_length(whole) <= max_chars) return std::string(text);
  static constexpr std::string_view kEllipsis = "…";
  // Shrink by graphemes; the URL weight makes the length non-linear, so search downward.
  std::size_t graphemes = text::grapheme_count(text);
  std::size_t lo = 0;
  std::size_t hi = graphemes;
  while (lo < hi) {  // largest n with prefix + first n graphemes + "…" fitting
    std::size_t mid = (lo + hi + 1) / 2;
    std::string candidate = std::string(prefix);
    candidate += text::grapheme_prefix(text, mid);
    candidate += kEllipsis;
    if (status_length(candidate) <= max_chars)
      lo = mid;
    else
      hi = mid - 1;
  }
  std::string out(text::grapheme_prefix(text, lo));
  out += kEllipsis;
  return out;
}

}  // namespace sotong::mastodon
