#include "daemon/text/unicode.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace sotong::text {
namespace {

void append_utf8(std::string& out, utf8proc_int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

struct FreeDeleter {
  void operator()(utf8proc_uint8_t* p) const {
    std::free(p);
  }  // NOLINT(cppcoreguidelines-no-malloc)
};

std::string map(std::string_view s, int options) {
  std::string clean = sanitize_utf8(s);
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(clean.data()),
                        static_cast<utf8proc_ssize_t>(clean.size()), &out,
                        static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, FreeDeleter> holder(out);
  if (n < 0) return clean;  // cannot happen on sanitised input; keep the text rather than lose it
  return {reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)};
}

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      append_utf8(out, 0xFFFD);
      n = 1;
    } else if ((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      // control characters: dropped
    } else {
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    p += n;
    left -= n;
  }
  return out;
}

std::string nfc(std::string_view s) {
  return map(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
}

std::string fold(std::string_view s) {
  return map(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
}

namespace {

// Calls f(offset_of_cluster_end) at each grapheme boundary; stops when f returns false.
template <class F>
void for_each_cluster_end(std::string_view s, F f) {
  const auto* base = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t pos = 0;
  const auto size = static_cast<utf8proc_ssize_t>(s.size());
  utf8proc_int32_t prev = -1;
  utf8proc_int32_t state = 0;
  while (pos < size) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(base + pos, size - pos, &cp);
    if (n <= 0) {
      cp = 0xFFFD;
      n = 1;
    }
    if (prev != -1 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
      if (!f(static_cast<std::size_t>(pos))) return;
    }
    prev = cp;
    pos += n;
  }
  if (prev != -1) f(static_cast<std::size_t>(size));
}

}  // namespace

std::size_t grapheme_count(std::string_view s) {
  std::size_t n = 0;
  for_each_cluster_end(s, [&](std::size_t) {
    ++n;
    return true;
  });
  return n;
}

std::string_view grapheme_prefix(std::string_view s, std::size_t max_graphemes) {
  std::size_t n = 0;
  std::size_t end = 0;
  if (max_graphemes == 0) return s.substr(0, 0);
  for_each_cluster_end(s, [&](std::size_t at) {
    ++n;
    end = at;
    return n < max_graphemes;
  });
  return s.substr(0, end);
}

std::string remove_mentions_of(std::string text, std::string_view username) {
  if (!username.empty()) {
    const std::string needle = "@" + std::string(username);
    auto word = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    std::size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
      std::size_t end = pos + needle.size();
      if ((end < text.size() && word(text[end])) || (pos > 0 && word(text[pos - 1]))) {
        pos = end;
        continue;
      }
      if (end < text.size() && text[end] == '@') {
        ++end;
        while (end < text.size() && (word(text[end]) || text[end] == '.' || text[end] == '-'))
          ++end;
      }
      while (end < text.size() && text[end] == ' ') ++end;
      text.erase(pos, end - pos);
    }
  }
  auto first = text.find_first_not_of(" \n\t");
  if (first == std::string::npos) return {};
  auto last = text.find_last_not_of(" \n\t");
  return text.substr(first, last - first + 1);
}

std::string neutralize(std::string_view s) {
  std::string in = nfc(s);
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '@')
      out += "\xEF\xBC\xA0";  // U+FF20 FULLWIDTH COMMERCIAL AT
    else if (c == '#')
      out += "\xEF\xBC\x83";  // U+FF03 FULLWIDTH NUMBER SIGN
    else if (c == ':' && in.compare(i, 3, "://") == 0)
      out += "\xEA\x9E\x89";  // U+A789 MODIFIER LETTER COLON
    else
      out += c;
  }
  return out;
}

}  // namespace sotong::text
