#include "daemon/text/html.hpp"

#include <cstdint>
#include <cstdlib>

#include "daemon/text/unicode.hpp"

namespace sotong::text {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

void append_cp(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes one entity starting at s[0] == '&'; returns the bytes consumed, 0 if not an entity.
std::size_t decode_entity(std::string_view s, std::string& out) {
  auto semi = s.find(';');
  if (semi > 12) return 0;  // no entity name is longer; npos too
  std::string_view name = s.substr(1, semi - 1);
  if (name == "amp")
    out += '&';
  else if (name == "lt")
    out += '<';
  else if (name == "gt")
    out += '>';
  else if (name == "quot")
    out += '"';
  else if (name == "apos" || name == "#39")
    out += '\'';
  else if (name == "nbsp")
    out += ' ';
  else if (!name.empty() && name[0] == '#') {
    std::string digits(name.substr(1));
    int base = 10;
    if (!digits.empty() && (digits[0] == 'x' || digits[0] == 'X')) {
      base = 16;
      digits.erase(0, 1);
    }
    if (digits.empty()) return 0;
    char* end = nullptr;
    unsigned long cp = std::strtoul(digits.c_str(), &end, base);
    if (*end != '\0') return 0;
    append_cp(out, static_cast<uint32_t>(cp > 0x10FFFF ? 0xFFFD : cp));
  } else {
    return 0;
  }
  return semi + 1;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      auto close = html.find('>', i);
      if (close == std::string_view::npos) break;  // an unterminated tag: drop the rest
      std::string_view tag = html.substr(i + 1, close - i - 1);
      if (starts_with_ci(tag, "br"))
        out += '\n';
      else if (starts_with_ci(tag, "/p") && close + 1 < html.size())
        out += "\n\n";
      i = close + 1;
    } else if (c == '&') {
      std::size_t used = decode_entity(html.substr(i), out);
      if (used == 0) {
        out += '&';
        used = 1;
      }
      i += used;
    } else {
      out += c;
      ++i;
    }
  }
  return sanitize_utf8(out);
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace sotong::text
