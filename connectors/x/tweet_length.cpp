// twitter-text v3 on code points: URL extraction, emoji sequences, weighted length, fitting a
// post. One file because the pieces are one algorithm (the count depends on exactly which spans
// the extractor calls URLs) and the helpers are private to it. The URL scanner reproduces the
// reference Java Extractor's regular expression (leftmost match, greedy, resuming at the end of
// each match) by hand, since RE2 has no lookaround and a backtracking std::regex would overflow
// the stack on a 12,000-character URL. The TLD and emoji tables are generated (gen_tlds.py,
// gen_emoji.py) and compiled in.
#include "connectors/x/tweet_length.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <sstream>
#include <unordered_set>

namespace sotong::x {
namespace {

#include "connectors/x/tlds.inc"

using Text = std::u32string;
constexpr std::size_t npos = Text::npos;

// ---- UTF-8 and normalisation -------------------------------------------------------------

Text decode(std::string_view s) {
  Text out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // invalid UTF-8 counts as the U+FFFD a platform would show
      cp = 0xFFFD;
      n = 1;
    }
    out.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
  return out;
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    utf8proc_uint8_t buf[4];
    auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
  }
  return out;
}

struct FreeDeleter {
  // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): utf8proc_map allocates with malloc
  void operator()(utf8proc_uint8_t* p) const { std::free(p); }
};

// utf8proc_map over code points; the input is re-encoded from decoded text, so it is valid.
Text map_text(const Text& in, int options) {
  const std::string utf8 = encode(in);
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                        static_cast<utf8proc_ssize_t>(utf8.size()), &out,
                        static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, FreeDeleter> holder(out);
  if (n < 0) return in;
  return decode({reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)});
}

// Unlike text::nfc this keeps control characters: X counts what it is sent.
Text nfc(const Text& in) {
  return map_text(in, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
}

// ---- Character classes of twitter-text's URL regex (Regex.java) ---------------------------

bool ascii_alnum(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
char32_t ascii_lower(char32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}
bool one_of(char32_t c, std::string_view ascii_set) {
  return c < 0x80 && ascii_set.find(static_cast<char>(c)) != std::string_view::npos;
}
bool latin_accent(char32_t c) {
  return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x24F) ||
         c == 0x253 || c == 0x254 || c == 0x256 || c == 0x257 || c == 0x259 || c == 0x25B ||
         c == 0x263 || c == 0x268 || c == 0x26F || c == 0x272 || c == 0x289 || c == 0x28B ||
         c == 0x2BB || (c >= 0x300 && c <= 0x36F) || (c >= 0x1E00 && c <= 0x1EFF);
}
bool cyrillic(char32_t c) {
  return c >= 0x400 && c <= 0x4FF;
}
// URL_VALID_CHARS: what a host label outside the protocol-only Unicode form may hold.
bool domain_char(char32_t c) {
  return ascii_alnum(c) || latin_accent(c);
}
utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}
// URL_VALID_UNICODE_CHARS: anything but ASCII punctuation, spaces and General Punctuation.
bool unicode_domain_char(char32_t c) {
  if (one_of(c, "-_!\"#$%&'()*+,./:;<=>?@[]^`{|}~ \t\n\x0B\f\r")) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;
  auto cat = category(c);
  return cat != UTF8PROC_CATEGORY_ZS && cat != UTF8PROC_CATEGORY_ZL && cat != UTF8PROC_CATEGORY_ZP;
}
bool path_char(char32_t c) {
  return ascii_alnum(c) || one_of(c, "!*';:=+,.$/%#[]-_~|&@") || c == 0x2013 || latin_accent(c) ||
         cyrillic(c);
}
bool path_ending_char(char32_t c) {
  return ascii_alnum(c) || one_of(c, "=_#/-+") || latin_accent(c) || cyrillic(c);
}
bool query_char(char32_t c) {
  return ascii_alnum(c) || one_of(c, "!?*'();:&=+$/%#[]-_.,~|@");
}
bool query_ending_char(char32_t c) {
  return ascii_alnum(c) || one_of(c, "-_&=#/");
}
// URL_VALID_PRECEDING_CHARS (directional marks are allowed by the first clause already).
bool valid_preceding(char32_t c) {
  return !(ascii_alnum(c) || one_of(c, "@$#") || c == 0xFF20 || c == 0xFF03 || c == 0xFFFE ||
           c == 0xFEFF || c == 0xFFFF);
}
bool invalid_char(char32_t c) {
  return c == 0xFFFE || c == 0xFEFF || c == 0xFFFF;
}

bool starts_with_ci(const Text& t, std::size_t pos, std::string_view ascii) {
  if (pos + ascii.size() > t.size()) return false;
  for (std::size_t i = 0; i < ascii.size(); ++i)
    if (ascii_lower(t[pos + i]) != static_cast<char32_t>(ascii[i])) return false;
  return true;
}

// ---- TLDs ---------------------------------------------------------------------------------

// The regex tries TLDs in reverse alphabetical order, each followed by (?=[^a-z0-9@+-]|$); of
// TLDs that all start at one place the longest comes first, which is what match() does.
class TldSet {
 public:
  explicit TldSet(std::span<const std::string_view> names) {
    for (auto name : names) {
      Text t = decode(name);
      max_len_ = std::max(max_len_, t.size());
      set_.insert(std::move(t));
    }
  }
  // End of the TLD starting at pos, or npos.
  std::size_t match(const Text& t, std::size_t pos) const {
    std::size_t len = std::min(max_len_, t.size() - std::min(pos, t.size()));
    Text key;
    for (std::size_t i = 0; i < len; ++i) key.push_back(ascii_lower(t[pos + i]));
    for (; len > 0; --len) {
      key.resize(len);
      if (set_.count(key) && boundary(t, pos + len)) return pos + len;
    }
    return npos;
  }

 private:
  static bool boundary(const Text& t, std::size_t pos) {
    return pos >= t.size() || !(ascii_alnum(t[pos]) || one_of(t[pos], "@+-"));
  }
  std::unordered_set<Text> set_;
  std::size_t max_len_ = 0;
};

const TldSet& generic_tlds() {
  static const TldSet set{kGenericTlds};
  return set;
}
const TldSet& country_tlds() {
  static const TldSet set{kCountryTlds};
  return set;
}

// URL_PUNYCODE: xn--[-0-9a-z]+, greedy.
std::size_t punycode_tld(const Text& t, std::size_t pos) {
  if (!starts_with_ci(t, pos, "xn--")) return npos;
  std::size_t i = pos + 4;
  while (i < t.size() && (ascii_alnum(t[i]) || t[i] == '-')) ++i;
  return i > pos + 4 ? i : npos;
}

std::size_t any_tld(const Text& t, std::size_t pos) {
  if (auto e = generic_tlds().match(t, pos); e != npos) return e;
  if (auto e = country_tlds().match(t, pos); e != npos) return e;
  return punycode_tld(t, pos);
}

// ---- Host names ---------------------------------------------------------------------------

bool after_protocol(const Text& t, std::size_t pos) {
  return (pos >= 7 && starts_with_ci(t, pos - 7, "http://")) ||
         (pos >= 8 && starts_with_ci(t, pos - 8, "https://"));
}

// Matches URL_VALID_DOMAIN at any position of one text. The host-label runs are precomputed
// and the subdomain search is memoised, so a hostile "a.a.a.a…" costs linear time instead of
// the quadratic time the regex would take.
class DomainMatcher {
 public:
  explicit DomainMatcher(const Text& t)
      : t_(t), run_sub_(t.size() + 1), run_name_(t.size() + 1), labels_(t.size() + 1, kUnknown) {
    run_sub_[t.size()] = run_name_[t.size()] = t.size();
    for (std::size_t i = t.size(); i-- > 0;) {
      bool name = domain_char(t[i]) || t[i] == '-';
      run_name_[i] = name ? run_name_[i + 1] : i;
      run_sub_[i] = (name || t[i] == '_') ? run_sub_[i + 1] : i;
    }
  }

  // End of the domain at d, trying the regex's three alternatives in order, or npos.
  std::size_t match(std::size_t d) {
    // 1. subdomain* domain-name (gTLD | ccTLD | punycode).
    if (auto end = labels_then_tld(d); end != npos) return end;
    // 2. After http(s)://: domain-name ccTLD, or one Unicode label with a gTLD or ccTLD.
    if (after_protocol(t_, d)) {
      if (auto e = label_end(d, false); e != npos) {
        if (auto end = country_tlds().match(t_, e + 1); end != npos) return end;
      }
      if (auto e = unicode_label_end(d); e != npos) {
        if (auto end = generic_tlds().match(t_, e + 1); end != npos) return end;
        if (auto end = country_tlds().match(t_, e + 1); end != npos) return end;
      }
    }
    // 3. domain-name ccTLD followed by '/'.
    if (auto e = label_end(d, false); e != npos) {
      auto end = country_tlds().match(t_, e + 1);
      if (end != npos && end < t_.size() && t_[end] == '/') return end;
    }
    return npos;
  }

 private:
  static constexpr std::size_t kUnknown = npos - 1;

  // Position of the '.' ending a host label that starts at pos (URL_VALID_SUBDOMAIN when
  // `underscore`, else URL_VALID_DOMAIN_NAME), or npos. The label class has no '.', so a label
  // is the whole run up to the next '.', starting and ending with a URL_VALID_CHAR.
  std::size_t label_end(std::size_t pos, bool underscore) const {
    std::size_t i = underscore ? run_sub_[pos] : run_name_[pos];
    if (i == pos || i >= t_.size() || t_[i] != '.') return npos;
    if (!domain_char(t_[pos]) || !domain_char(t_[i - 1])) return npos;
    return i;
  }

  std::size_t unicode_label_end(std::size_t pos) const {
    std::size_t i = pos;
    while (i < t_.size() && (unicode_domain_char(t_[i]) || t_[i] == '-')) ++i;
    if (i == pos || i >= t_.size() || t_[i] != '.') return npos;
    if (!unicode_domain_char(t_[pos]) || !unicode_domain_char(t_[i - 1])) return npos;
    return i;
  }

  // subdomain* domain-name TLD at d. The regex takes as many subdomains as it can and gives
  // them back one by one, so the answer at d is the answer at the next label if there is one,
  // else the label at d itself followed by a TLD.
  std::size_t labels_then_tld(std::size_t d) {
    std::vector<std::size_t> chain;
    std::size_t best = npos;
    for (std::size_t p = d;;) {
      if (labels_[p] != kUnknown) {
        best = labels_[p];
        break;
      }
      auto e = label_end(p, true);
      if (e == npos) {
        labels_[p] = npos;
        break;
      }
      chain.push_back(p);
      p = e + 1;
    }
    for (auto q = chain.rbegin(); q != chain.rend(); ++q) {
      if (best == npos) {
        if (auto e = label_end(*q, false); e != npos) best = any_tld(t_, e + 1);
      }
      labels_[*q] = best;
    }
    return labels_[d];
  }

  const Text& t_;
  std::vector<std::size_t> run_sub_;   // end of the run of [valid-chars - _] from each position
  std::vector<std::size_t> run_name_;  // end of the run of [valid-chars -]
  std::vector<std::size_t> labels_;    // memo of labels_then_tld
};

// ---- Path and query -----------------------------------------------------------------------

std::size_t path_run(const Text& t, std::size_t i) {
  while (i < t.size() && path_char(t[i])) ++i;
  return i;
}

// URL_BALANCED_PARENS at p: "(" chars ")" or "(" chars "(" chars ")" chars ")". Path chars
// hold no parentheses, so there is one way to match. Returns the end or npos.
std::size_t balanced_parens(const Text& t, std::size_t p) {
  if (p >= t.size() || t[p] != '(') return npos;
  std::size_t j = path_run(t, p + 1);
  if (j >= t.size()) return npos;
  if (t[j] == ')') return j > p + 1 ? j + 1 : npos;
  if (t[j] != '(') return npos;
  std::size_t k = path_run(t, j + 1);
  if (k == j + 1 || k >= t.size() || t[k] != ')') return npos;
  std::size_t m = path_run(t, k + 1);
  return (m < t.size() && t[m] == ')') ? m + 1 : npos;
}

// End of URL_VALID_PATH*+ after the '/': the chain of path characters and balanced
// parentheses, cut after its last ending character or parenthesised group (the possessive
// repetition never takes more, as what follows that point holds no ending character).
std::size_t path_end(const Text& t, std::size_t p) {
  std::size_t end = p;
  for (std::size_t i = p;;) {
    if (i < t.size() && path_char(t[i])) {
      if (path_ending_char(t[i])) end = i + 1;
      ++i;
    } else if (auto q = balanced_parens(t, i); q != npos) {
      end = i = q;
    } else {
      return end;
    }
  }
}

// "?" query-chars* query-ending-char at p, or npos.
std::size_t query_end(const Text& t, std::size_t p) {
  if (p >= t.size() || t[p] != '?') return npos;
  std::size_t end = npos;
  for (std::size_t i = p + 1; i < t.size() && query_char(t[i]); ++i)
    if (query_ending_char(t[i])) end = i + 1;
  return end;
}

// ---- IDN (java.net.IDN.toASCII, enough of it to measure a host) ---------------------------

constexpr std::size_t kMaxLabelLength = 63;    // RFC 1035
constexpr std::size_t kMaxUrlLength = 4096;    // twitter-text: the longest URL X accepts
constexpr std::size_t kMaxTcoSlugLength = 40;  // twitter-text: longer t.co paths are not t.co's

// RFC 3492 Punycode; the encoded length is all that is needed.
std::size_t punycode_length(const Text& in) {
  constexpr std::uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  auto adapt = [](std::uint32_t delta, std::uint32_t points, bool first) {
    delta = first ? delta / damp : delta / 2;
    delta += delta / points;
    std::uint32_t k = 0;
    while (delta > ((base - tmin) * tmax) / 2) {
      delta /= base - tmin;
      k += base;
    }
    return k + (base - tmin + 1) * delta / (delta + skew);
  };
  std::size_t out = 0;
  std::uint32_t b = 0;
  for (char32_t c : in)
    if (c < 0x80) ++b;
  out = b;
  if (b > 0) ++out;  // the delimiter
  std::uint32_t n = 0x80, delta = 0, bias = 72, h = b;
  const auto total = static_cast<std::uint32_t>(in.size());
  while (h < total) {
    std::uint32_t m = UINT32_MAX;
    for (char32_t c : in)
      if (c >= n && c < m) m = c;
    delta += (m - n) * (h + 1);
    n = m;
    for (char32_t c : in) {
      if (c < n) ++delta;
      if (c != n) continue;
      std::uint32_t q = delta;
      for (std::uint32_t k = base;; k += base) {
        std::uint32_t tk = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias);
        if (q < tk) break;
        ++out;
        q = (q - tk) / (base - tk);
      }
      ++out;
      bias = adapt(delta, h + 1, h == b);
      delta = 0;
      ++h;
    }
    ++delta;
    ++n;
  }
  return out;
}

// RFC 3454 tables C.1.2-C.9 (what nameprep forbids) for the characters a host can reach here.
bool nameprep_prohibited(char32_t c) {
  auto cat = category(c);
  if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO ||
      cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP)
    return true;
  if ((c & 0xFFFE) == 0xFFFE || (c >= 0xFDD0 && c <= 0xFDEF)) return true;  // non-characters
  return (c >= 0xFFF9 && c <= 0xFFFD) || (c >= 0x2FF0 && c <= 0x2FFB) || c == 0x340 || c == 0x341 ||
         c == 0x6DD || c == 0x70F || c == 0x180E || (c >= 0x200E && c <= 0x200F) ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2063) ||
         (c >= 0x206A && c <= 0x206F) || c == 0xE0001 || (c >= 0xE0020 && c <= 0xE007F) ||
         (c >= 0x1D173 && c <= 0x1D17A);
}

bool mapped_to_nothing(char32_t c) {  // RFC 3454 table B.1
  return c == 0xAD || c == 0x34F || c == 0x1806 || (c >= 0x180B && c <= 0x180D) ||
         (c >= 0x200B && c <= 0x200D) || c == 0x2060 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF;
}

bool all_ascii(const Text& t) {
  return std::all_of(t.begin(), t.end(), [](char32_t c) { return c < 0x80; });
}

// Length of the ASCII form of one label, or npos when IDN.toASCII would refuse it.
std::size_t ascii_label_length(const Text& label) {
  if (all_ascii(label)) return label.size();
  Text kept;
  std::copy_if(label.begin(), label.end(), std::back_inserter(kept),
               [](char32_t c) { return !mapped_to_nothing(c); });
  Text prepped =
      map_text(kept, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
  bool rtl = false;
  bool ltr = false;
  for (char32_t c : prepped) {
    if (nameprep_prohibited(c)) return npos;
    auto bidi = utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->bidi_class;
    rtl = rtl || bidi == UTF8PROC_BIDI_CLASS_R || bidi == UTF8PROC_BIDI_CLASS_AL;
    ltr = ltr || bidi == UTF8PROC_BIDI_CLASS_L;
  }
  if (rtl) {  // RFC 3454 section 6: right-to-left labels start and end right-to-left
    auto is_rtl = [](char32_t c) {
      auto b = utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->bidi_class;
      return b == UTF8PROC_BIDI_CLASS_R || b == UTF8PROC_BIDI_CLASS_AL;
    };
    if (ltr || !is_rtl(prepped.front()) || !is_rtl(prepped.back())) return npos;
  }
  if (all_ascii(prepped)) return prepped.size();
  if (starts_with_ci(prepped, 0, "xn--")) return npos;  // already-encoded prefix on Unicode
  return 4 + punycode_length(prepped);
}

// Length of IDN.toASCII(host), or npos when it throws (a label empty of ASCII form or longer
// than 63).
std::size_t ascii_host_length(const Text& host) {
  std::size_t total = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    bool sep = i == host.size() || host[i] == '.' || host[i] == 0x3002 || host[i] == 0xFF0E ||
               host[i] == 0xFF61;
    if (!sep) continue;
    std::size_t len = ascii_label_length(host.substr(start, i - start));
    if (len == npos || len > kMaxLabelLength) return npos;
    total += len + (i < host.size() ? 1 : 0);
    start = i + 1;
  }
  return total;
}

std::size_t utf16_length(std::u32string_view t) {
  std::size_t n = 0;
  for (char32_t c : t) n += c >= 0x10000 ? 2 : 1;
  return n;
}

// ---- Extraction (Extractor.extractURLsWithIndices) ---------------------------------------

struct Span {
  std::size_t start;
  std::size_t end;
};

struct Match {
  std::size_t end;     // of the whole match: where the next search starts
  std::size_t url;     // start of the URL
  std::size_t domain;  // start of the host
  std::size_t domain_end;
  bool protocol;
  bool has_before;  // a preceding character was consumed (else start of text)
  char32_t before;
};

// The URL part of VALID_URL_PATTERN_STRING at u, or false.
bool match_url_at(const Text& t, DomainMatcher& domains, std::size_t u, Match& m) {
  for (std::string_view proto : {std::string_view("https://"), std::string_view("http://"), {}}) {
    if (!proto.empty() && !starts_with_ci(t, u, proto)) continue;
    std::size_t d = u + proto.size();
    std::size_t e = domains.match(d);
    if (e == npos) continue;
    m.url = u;
    m.domain = d;
    m.domain_end = e;
    m.protocol = !proto.empty();
    if (e + 1 < t.size() && t[e] == ':' && t[e + 1] >= '0' && t[e + 1] <= '9') {
      ++e;
      while (e < t.size() && t[e] >= '0' && t[e] <= '9') ++e;
    }
    if (e < t.size() && t[e] == '/') e = path_end(t, e + 1);
    if (auto q = query_end(t, e); q != npos) e = q;
    m.end = e;
    return true;
  }
  return false;
}

// Matcher.find() from `from`: the leftmost start whose preceding-character clause and URL match.
bool find_url(const Text& t, DomainMatcher& domains, std::size_t from, Match& m) {
  for (std::size_t s = from; s < t.size(); ++s) {
    if (valid_preceding(t[s]) && match_url_at(t, domains, s + 1, m)) {
      m.has_before = true;
      m.before = t[s];
      return true;
    }
    if (s == 0 && match_url_at(t, domains, 0, m)) {
      m.has_before = false;
      return true;
    }
  }
  return false;
}

// VALID_TCO_URL: the end of https?://t.co/slug(?query)? at the URL's start, and the slug length.
std::size_t tco_end(const Text& t, const Match& m, std::size_t* slug) {
  std::size_t p = m.url;
  if (starts_with_ci(t, p, "https://t.co/"))
    p += 13;
  else if (starts_with_ci(t, p, "http://t.co/"))
    p += 12;
  else
    return npos;
  std::size_t s = p;
  while (p < t.size() && ascii_alnum(t[p])) ++p;
  if (p == s) return npos;
  *slug = p - s;
  if (auto q = query_end(t, p); q != npos) p = q;
  return p;
}

std::vector<Span> find_urls(const Text& t) {
  std::vector<Span> urls;
  if (t.find(U'.') == npos) return urls;
  DomainMatcher domains(t);
  Match m{};
  for (std::size_t from = 0; from < t.size() && find_url(t, domains, from, m); from = m.end) {
    if (!m.protocol && m.has_before && one_of(m.before, "-_./")) continue;
    std::size_t end = m.end;
    std::size_t slug = 0;
    if (auto tco = tco_end(t, m, &slug); tco != npos) {
      if (slug > kMaxTcoSlugLength) continue;
      end = tco;
    }
    const std::u32string_view view(t);
    const Text host = t.substr(m.domain, m.domain_end - m.domain);
    std::size_t ascii_host = ascii_host_length(host);
    if (ascii_host == 0 || ascii_host == npos) continue;
    std::size_t length = utf16_length(view.substr(m.url, end - m.url)) + ascii_host -
                         utf16_length(host) +
                         (m.protocol ? 0 : std::string_view("https://").size());
    if (length > kMaxUrlLength) continue;
    urls.push_back({m.url, end});
  }
  return urls;
}

// ---- Emoji --------------------------------------------------------------------------------

#include "connectors/x/emoji.inc"

// The multi-code-point emoji twitter-text counts as one (see gen_emoji.py). A single code point
// needs no lookup: every non-ASCII emoji weighs the default weight anyway, except (C) and (R),
// which twitter-text counts as emoji only with U+FE0F, and that pair is in the table.
class EmojiSequences {
 public:
  EmojiSequences() {
    for (auto s : kEmojiSequences) {
      max_len_ = std::max(max_len_, s.size());
      firsts_.insert(s.front());
      set_.emplace(s);
    }
  }
  // Code points of the longest sequence at i, or 0.
  std::size_t match(const Text& t, std::size_t i) const {
    char32_t c = t[i];
    if (c == '#' || c == '*' || (c >= '0' && c <= '9')) {  // keycaps, with or without FE0F
      if (i + 1 < t.size() && t[i + 1] == 0x20E3) return 2;
    }
    if (!firsts_.count(c)) return 0;
    for (std::size_t len = std::min(max_len_, t.size() - i); len >= 2; --len)
      if (set_.count(t.substr(i, len))) return len;
    return 0;
  }

 private:
  std::unordered_set<Text> set_;
  std::unordered_set<char32_t> firsts_;
  std::size_t max_len_ = 0;
};

std::size_t emoji_length(const Text& t, std::size_t i) {
  static const EmojiSequences sequences;
  return sequences.match(t, i);
}

int weight_of(char32_t c, const TextConfig& config) {
  for (const auto& r : config.ranges)
    if (c >= r.start && c <= r.end) return r.weight;
  return config.default_weight;
}

// ---- Config JSON --------------------------------------------------------------------------

Result<int> int_field(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return Error{std::string("missing \"") + key + "\""};
  if (!v->is_int64() || v->as_int64() < 0 || v->as_int64() > INT32_MAX)
    return Error{std::string("\"") + key + "\" is not a non-negative integer"};
  return static_cast<int>(v->as_int64());
}

Result<TextConfig> config_from_json(const boost::json::value& doc) {
  if (!doc.is_object()) return Error{"not a JSON object"};
  const auto& o = doc.as_object();
  TextConfig c;
  int* fields[] = {&c.max_weighted_length, &c.scale, &c.default_weight, &c.transformed_url_length};
  const char* names[] = {"maxWeightedTweetLength", "scale", "defaultWeight",
                         "transformedURLLength"};
  for (std::size_t i = 0; i < std::size(fields); ++i) {
    auto v = int_field(o, names[i]);
    if (!v) return Error{v.error()};
    *fields[i] = *v;
  }
  if (c.scale == 0 || c.max_weighted_length == 0)
    return Error{"\"scale\" and \"maxWeightedTweetLength\" must be positive"};
  c.emoji_parsing_enabled = false;  // v2 has no such key and no emoji discount
  if (const auto* e = o.if_contains("emojiParsingEnabled")) {
    if (!e->is_bool()) return Error{"\"emojiParsingEnabled\" is not a boolean"};
    c.emoji_parsing_enabled = e->as_bool();
  }
  if (const auto* r = o.if_contains("ranges")) {
    if (!r->is_array()) return Error{"\"ranges\" is not an array"};
    for (const auto& item : r->as_array()) {
      if (!item.is_object()) return Error{"a range is not an object"};
      auto start = int_field(item.as_object(), "start");
      auto end = int_field(item.as_object(), "end");
      auto weight = int_field(item.as_object(), "weight");
      if (!start || !end || !weight)
        return Error{"range: " + (!start ? start.error() : !end ? end.error() : weight.error())};
      if (*start > *end || *end > 0x10FFFF) return Error{"a range is empty or beyond U+10FFFF"};
      c.ranges.push_back({static_cast<char32_t>(*start), static_cast<char32_t>(*end), *weight});
    }
  }
  return c;
}

}  // namespace

const TextConfig& config_v3() {
  static const TextConfig config{
      .max_weighted_length = 280,
      .scale = 100,
      .default_weight = 200,
      .transformed_url_length = 23,
      .emoji_parsing_enabled = true,
      .ranges = {{0, 4351, 100}, {8192, 8205, 100}, {8208, 8223, 100}, {8242, 8247, 100}},
  };
  return config;
}

Result<TextConfig> load_text_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path.string()};
  std::stringstream buf;
  buf << in.rdbuf();
  boost::system::error_code ec;
  auto doc = boost::json::parse(buf.str(), ec);
  if (ec) return Error{path.string() + ": " + ec.message()};
  auto config = config_from_json(doc);
  if (!config) return Error{path.string() + ": " + config.error()};
  return config;
}

std::vector<UrlSpan> extract_urls(std::string_view text) {
  const Text t = nfc(decode(text));
  std::vector<UrlSpan> out;
  for (auto [start, end] : find_urls(t))
    out.push_back({start, end, encode(std::u32string_view(t).substr(start, end - start))});
  return out;
}

// TwitterTextParser.parseTweet on code points.
ParseResult parse_tweet(std::string_view text, const TextConfig& config) {
  const Text input = decode(text);
  ParseResult r;
  if (std::all_of(input.begin(), input.end(), [](char32_t c) { return c <= 0x20; }))
    return r;  // empty after Java's trim(): not a post
  const Text t = nfc(input);
  const auto urls = find_urls(t);
  const std::int64_t max_scaled = std::int64_t{config.max_weighted_length} * config.scale;
  std::int64_t weighted = 0;
  bool invalid = false;
  std::size_t offset = 0;
  std::size_t valid_offset = 0;
  auto next_url = urls.begin();
  while (offset < t.size()) {
    while (next_url != urls.end() && next_url->start < offset) ++next_url;
    if (next_url != urls.end() && next_url->start == offset) {
      weighted += std::int64_t{config.transformed_url_length} * config.scale;
      offset = next_url->end;
      if (weighted <= max_scaled) valid_offset = offset;
      continue;
    }
    std::size_t len = config.emoji_parsing_enabled ? emoji_length(t, offset) : 0;
    weighted += len > 0 ? config.default_weight : weight_of(t[offset], config);
    invalid = invalid || invalid_char(t[offset]);
    offset += std::max<std::size_t>(len, 1);
    if (!invalid && weighted <= max_scaled) valid_offset = offset;
  }
  r.weighted_length = static_cast<int>(weighted / config.scale);
  r.valid = !invalid && r.weighted_length <= config.max_weighted_length;
  r.permillage = r.weighted_length * 1000 / config.max_weighted_length;
  // Inclusive ends, as twitter-text's: the valid end shifted by (input length - NFC length),
  // held within the input (an empty valid part gives 0 where twitter-text gives -1).
  const auto shift =
      static_cast<std::ptrdiff_t>(input.size()) - static_cast<std::ptrdiff_t>(t.size());
  const auto last = static_cast<std::ptrdiff_t>(input.size()) - 1;
  r.display_range_end = static_cast<std::size_t>(last);
  r.valid_range_end = static_cast<std::size_t>(
      std::clamp(static_cast<std::ptrdiff_t>(valid_offset) + shift - 1, std::ptrdiff_t{0}, last));
  return r;
}

std::string fit_post(std::string_view prefix, std::string_view text, const TextConfig& config) {
  if (parse_tweet(std::string(prefix) + std::string(text), config).valid) return std::string(text);
  static constexpr std::string_view kEllipsis = "…";
  const Text body = nfc(decode(text));
  // Cut points: grapheme boundaries (so no emoji or Hangul syllable is split), never inside a
  // URL (a cut link would lead somewhere else).
  const auto urls = find_urls(body);
  std::vector<std::size_t> cuts{0};
  utf8proc_int32_t state = 0;
  for (std::size_t i = 1; i < body.size(); ++i) {
    if (!utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(body[i - 1]),
                                          static_cast<utf8proc_int32_t>(body[i]), &state))
      continue;
    bool in_url = std::any_of(urls.begin(), urls.end(),
                              [i](const Span& u) { return u.start < i && i < u.end; });
    if (!in_url) cuts.push_back(i);
  }
  auto candidate = [&](std::size_t cut) {
    std::size_t end = cuts[cut];
    while (end > 0 && (body[end - 1] == ' ' || body[end - 1] == '\n' || body[end - 1] == '\t' ||
                       body[end - 1] == 0x3000))
      --end;
    return encode(std::u32string_view(body).substr(0, end)) + std::string(kEllipsis);
  };
  auto fits = [&](std::size_t cut) {
    return parse_tweet(std::string(prefix) + candidate(cut), config).valid;
  };
  if (!fits(0)) return {};  // not even the ellipsis fits after the prefix
  // Binary search for the largest fitting cut. The weight mostly grows with the cut; where it
  // does not (a cut can turn "example.comx" into the URL "example.com"), the search still ends
  // on a cut that fits.
  std::size_t lo = 0;
  std::size_t hi = cuts.size() - 1;
  while (lo < hi) {
    std::size_t mid = (lo + hi + 1) / 2;
    if (fits(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return candidate(lo);
}

}  // namespace sotong::x
