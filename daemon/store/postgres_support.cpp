#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "daemon/store/postgres.hpp"

namespace sotong::db::pg {

namespace {

// PostgreSQL accepts at most 65535 parameters; any index past this is simply an error there.
constexpr int kIndexCap = 1'000'000;

constexpr std::string_view kMask = "***";

bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}
bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// The end of a quoted run starting at `open` (the quote), past its closing quote. A doubled
// quote is part of the run; with backslash escapes (E'...') a backslash hides the next char.
size_t quoted_end(std::string_view s, size_t open, bool backslash_escapes) {
  const char q = s[open];
  size_t j = open + 1;
  while (j < s.size()) {
    if (backslash_escapes && s[j] == '\\') {
      j += 2;
      continue;
    }
    if (s[j] == q) {
      if (j + 1 < s.size() && s[j + 1] == q) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    ++j;
  }
  return s.size();
}

size_t block_comment_end(std::string_view s, size_t open) {
  int depth = 0;  // PostgreSQL's block comments nest
  size_t j = open;
  while (j + 1 < s.size()) {
    if (s[j] == '/' && s[j + 1] == '*') {
      ++depth;
      j += 2;
    } else if (s[j] == '*' && s[j + 1] == '/') {
      j += 2;
      if (--depth == 0) return j;
    } else {
      ++j;
    }
  }
  return s.size();
}

// [begin, end) spans of password values in a URL or key=value string.
using Spans = std::vector<std::pair<size_t, size_t>>;

void query_password_spans(std::string_view url, size_t from, Spans* out) {
  size_t i = from;
  while (i < url.size()) {
    size_t end = url.find('&', i);
    if (end == std::string_view::npos) end = url.size();
    const auto param = url.substr(i, end - i);
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && param.substr(0, eq) == "password")
      out->emplace_back(i + eq + 1, end);
    i = end + 1;
  }
}

Spans uri_password_spans(std::string_view url, size_t scheme_end) {
  Spans spans;
  // As libpq reads it: user info runs to an '@' before the first '/'. The last such '@' is
  // taken, so a password with a raw '@' in it is masked whole.
  size_t slash = url.find('/', scheme_end);
  if (slash == std::string_view::npos) slash = url.size();
  const auto authority = url.substr(scheme_end, slash - scheme_end);
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const auto colon = authority.substr(0, at).find(':');
    if (colon != std::string_view::npos)
      spans.emplace_back(scheme_end + colon + 1, scheme_end + at);
  }
  const auto query = url.find('?', scheme_end + (at == std::string_view::npos ? 0 : at));
  if (query != std::string_view::npos) query_password_spans(url, query + 1, &spans);
  return spans;
}

Spans keyword_password_spans(std::string_view s) {
  Spans spans;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const size_t key_begin = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '=') ++i;
    const auto key = s.substr(key_begin, i - key_begin);
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') break;  // not key=value: nothing more to find
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    const size_t value_begin = i;
    if (i < s.size() && s[i] == '\'') {
      i = quoted_end(s, i, true);
    } else {
      while (i < s.size() && !is_space(s[i])) ++i;
    }
    if (key == "password") spans.emplace_back(value_begin, i);
  }
  return spans;
}

Spans password_spans(std::string_view url) {
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (url.starts_with(scheme)) return uri_password_spans(url, scheme.size());
  }
  return keyword_password_spans(url);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const int hi = s[i] == '%' && i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
    if (lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void replace_all(std::string* s, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  size_t pos = 0;
  while ((pos = s->find(what, pos)) != std::string::npos) {
    s->replace(pos, what.size(), with);
    pos += with.size();
  }
}

}  // namespace

std::string rewrite_parameters(std::string_view sql, int* max_index) {
  std::string out;
  out.reserve(sql.size() + 8);
  int highest = 0;
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    size_t end = i;
    if (c == '\'') {
      const bool escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !is_ident(sql[i - 2]));
      end = quoted_end(sql, i, escapes);
    } else if (c == '"') {
      end = quoted_end(sql, i, false);
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      end = block_comment_end(sql, i);
    } else if (c == '?' && i + 1 < sql.size() && is_digit(sql[i + 1])) {
      int index = 0;
      out += '$';
      for (++i; i < sql.size() && is_digit(sql[i]); ++i) {
        out += sql[i];
        index = std::min(index * 10 + (sql[i] - '0'), kIndexCap);
      }
      highest = std::max(highest, index);
      continue;
    }
    if (end > i) {
      out.append(sql.substr(i, end - i));
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  if (max_index != nullptr) *max_index = highest;
  return out;
}

std::string redact_url(std::string_view url) {
  std::string out;
  size_t at = 0;
  for (const auto& [begin, end] : password_spans(url)) {
    out.append(url.substr(at, begin - at));
    out.append(kMask);
    at = end;
  }
  out.append(url.substr(at));
  return out;
}

std::string redact_message(std::string_view message, std::string_view url) {
  std::string out(message);
  replace_all(&out, url, redact_url(url));
  for (const auto& [begin, end] : password_spans(url)) {
    auto secret = url.substr(begin, end - begin);
    if (secret.size() >= 2 && secret.front() == '\'' && secret.back() == '\'')
      secret = secret.substr(1, secret.size() - 2);
    replace_all(&out, secret, kMask);
    replace_all(&out, percent_decoded(secret), kMask);
  }
  return out;
}

Fault classify_sqlstate(std::string_view s) {
  if (s == "53300") return Fault::kUnavailable;  // too many connections: the server's limit
  if (s.starts_with("53")) return Fault::kFull;  // disk full, out of memory, other limits
  if (s == "25006") return Fault::kReadOnly;
  if (s.starts_with("08")) return Fault::kUnavailable;
  if (s == "57P01" || s == "57P02" || s == "57P03") return Fault::kUnavailable;
  if (s == "58030") return Fault::kIo;
  if (s == "40P01" || s == "55P03" || s == "40001") return Fault::kBusy;
  if (s.starts_with("23")) return Fault::kConstraint;
  return Fault::kOther;
}

}  // namespace sotong::db::pg
