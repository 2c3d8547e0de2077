#include "daemon/rules/text.hpp"

#include <utf8proc.h>

#include <algorithm>

#include "daemon/text/unicode.hpp"

namespace sotong::rules {
namespace {

bool is_separator(char32_t c) {
  if (c < 0x80) {
    const auto a = static_cast<char>(c);
    return a == ' ' || a == '\t' || a == '\n' || a == '\r' || a == '\v' || a == '\f' ||
           (a >= '!' && a <= '/') || (a >= ':' && a <= '@') || (a >= '[' && a <= '`') ||
           (a >= '{' && a <= '~');
  }
  // No-break and ideographic spaces; curly quotes, so "can’t" and "can't" match alike.
  return c == 0xA0 || c == 0x3000 || (c >= 0x2018 && c <= 0x201F);
}

bool is_hashtag_char(utf8proc_int32_t c) {
  if (c == '_') return true;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
      return true;
    default:
      return false;
  }
}

// Calls f(code point, offset, length) for each code point of valid UTF-8.
template <class F>
void for_each_code_point(std::string_view s, F f) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    utf8proc_int32_t c = 0;
    auto n = utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    // Only sanitised text comes here; a bad byte is stepped over, not trusted.
    if (n <= 0) {
      c = 0xFFFD;
      n = 1;
    }
    f(c, i, static_cast<std::size_t>(n));
    i += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string normalize(std::string_view s) {
  const std::string folded = text::fold(s);
  std::string out;
  out.reserve(folded.size());
  for_each_code_point(folded, [&](utf8proc_int32_t c, std::size_t at, std::size_t n) {
    if (is_separator(static_cast<char32_t>(c))) {
      if (out.empty() || out.back() != ' ') out.push_back(' ');
    } else {
      out.append(folded, at, n);
    }
  });
  return out;
}

std::string_view matched_part(std::string_view s) {
  if (s.size() <= kMaxMatchedTextBytes) return s;
  std::size_t end = kMaxMatchedTextBytes;
  // Back up over continuation bytes so the cut does not leave half a character.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

std::string keyword_form(std::string_view raw) {
  std::string n = normalize(matched_part(raw));
  if (n.empty() || n.front() != ' ') n.insert(n.begin(), ' ');
  if (n.back() != ' ') n.push_back(' ');
  return n;
}

bool is_one_line(std::string_view s, std::size_t max_bytes) {
  return !s.empty() && s.size() <= max_bytes && text::sanitize_utf8(s) == s &&
         s.find_first_of("\n\t") == std::string_view::npos;
}

bool is_hashtag_body(std::string_view s) {
  bool ok = !s.empty() && text::sanitize_utf8(s) == s;
  if (ok)
    for_each_code_point(
        s, [&](utf8proc_int32_t c, std::size_t, std::size_t) { ok = ok && is_hashtag_char(c); });
  return ok;
}

std::vector<std::string> hashtags(std::string_view nfc_text) {
  std::vector<std::string> tags;
  bool after_word = false;                     // the previous character is a hashtag character
  std::size_t start = std::string_view::npos;  // where the current tag's body starts
  auto close = [&](std::size_t end) {
    if (start != std::string_view::npos && end > start) {
      tags.push_back(text::fold(nfc_text.substr(start, end - start)));
    }
    start = std::string_view::npos;
  };
  for_each_code_point(nfc_text, [&](utf8proc_int32_t c, std::size_t at, std::size_t n) {
    const bool word = is_hashtag_char(c);
    if (start != std::string_view::npos && !word) close(at);
    if ((c == '#' || c == 0xFF03) && !after_word) start = at + n;
    after_word = word;
  });
  close(nfc_text.size());
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

}  // namespace sotong::rules
