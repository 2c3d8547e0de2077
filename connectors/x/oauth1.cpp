#include "connectors/x/oauth1.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace sotong::x {
namespace {

// Far above a real header (about 400 bytes with seven parameters); bounds the work a hostile
// header can cause in the sandbox that parses it.
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxHeaderParams = 32;
constexpr std::size_t kNonceLength = 32;

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 decoding; '+' stays '+' (the header is not form-encoded).
bool percent_decode(std::string_view s, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      *out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

// RFC 5849 §3.4.1.2: lower-case scheme and host, the default port dropped, query and fragment
// dropped, an empty path as "/". Anything without "://" is passed through unchanged.
std::string normalize_base_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::string(url);
  std::string scheme = lower(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  std::size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = rest.substr(authority_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  std::size_t colon = authority.rfind(':');
  std::size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  bool default_port =
      port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  std::string_view path = tail.substr(0, std::min(tail.find_first_of("?#"), tail.size()));
  std::string out = scheme + "://" + lower(host);
  if (!default_port) {
    out += ':';
    out += port;
  }
  out += path.empty() ? std::string_view("/") : path;
  return out;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(std::max(written, 0)));
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (unreserved(u)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string signature_base_string(std::string_view method, std::string_view base_url,
                                  const Params& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    // §3.4.1.3.1: the signature never signs itself.
    if (name == "oauth_signature") continue;
    encoded.emplace_back(percent_encode(name), percent_encode(value));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string normalized;
  for (const auto& [name, value] : encoded) {
    if (!normalized.empty()) normalized += '&';
    normalized += name;
    normalized += '=';
    normalized += value;
  }
  std::string upper(method);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper + '&' + percent_encode(normalize_base_url(base_url)) + '&' +
         percent_encode(normalized);
}

Params oauth_params(const OAuth1Credentials& c, std::string_view nonce, int64_t timestamp) {
  Params p{{"oauth_consumer_key", c.consumer_key},
           {"oauth_nonce", std::string(nonce)},
           {"oauth_signature_method", "HMAC-SHA1"},
           {"oauth_timestamp", std::to_string(timestamp)}};
  if (!c.token.empty()) p.emplace_back("oauth_token", c.token);
  p.emplace_back("oauth_version", "1.0");
  return p;
}

std::string sign_base_string(std::string_view base_string, std::string_view consumer_secret,
                             std::string_view token_secret) {
  std::string key = percent_encode(consumer_secret) + '&' + percent_encode(token_secret);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  const unsigned char* ok = HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
                                 reinterpret_cast<const unsigned char*>(base_string.data()),
                                 base_string.size(), mac.data(), &mac_len);
  OPENSSL_cleanse(key.data(), key.size());
  if (ok == nullptr) return {};
  return base64(mac.data(), mac_len);
}

std::string sign(const OAuth1Credentials& c, std::string_view method, std::string_view base_url,
                 const Params& request_params, std::string_view nonce, int64_t timestamp) {
  Params all = request_params;
  Params oauth = oauth_params(c, nonce, timestamp);
  all.insert(all.end(), oauth.begin(), oauth.end());
  return sign_base_string(signature_base_string(method, base_url, all), c.consumer_secret,
                          c.token_secret);
}

std::string authorization_header(const OAuth1Credentials& c, std::string_view method,
                                 std::string_view base_url, const Params& request_params,
                                 std::string_view nonce, int64_t timestamp) {
  Params oauth = oauth_params(c, nonce, timestamp);
  oauth.emplace_back("oauth_signature",
                     sign(c, method, base_url, request_params, nonce, timestamp));
  std::sort(oauth.begin(), oauth.end());
  std::string out = "OAuth ";
  for (std::size_t i = 0; i < oauth.size(); ++i) {
    if (i != 0) out += ", ";
    out += percent_encode(oauth[i].first);
    out += "=\"";
    out += percent_encode(oauth[i].second);
    out += '"';
  }
  return out;
}

std::string make_nonce() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // Bytes at or above the largest multiple of 62 are dropped so every character is equally
  // likely.
  constexpr unsigned kCutoff = 256 - 256 % kAlphabet.size();
  std::string out;
  std::array<unsigned char, 64> buf{};
  while (out.size() < kNonceLength) {
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
      // The RNG failing is a broken invariant of the host, not an expected error.
      throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    for (unsigned char b : buf) {
      if (b >= kCutoff || out.size() == kNonceLength) continue;
      out += kAlphabet[b % kAlphabet.size()];
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_authorization_header(std::string_view header) {
  if (header.size() > kMaxHeaderBytes) return Error{"OAuth header: longer than 8 KiB"};
  std::string_view s = header;
  auto skip_space = [&s] {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  };
  skip_space();
  if (s.size() < 6 || lower(s.substr(0, 5)) != "oauth" || !is_space(s[5])) {
    return Error{"OAuth header: does not start with \"OAuth \""};
  }
  s.remove_prefix(6);
  std::map<std::string, std::string> out;
  for (;;) {
    skip_space();
    if (s.empty()) break;
    std::size_t name_end = 0;
    while (name_end < s.size() && s[name_end] != '=' && s[name_end] != ',' && s[name_end] != '"' &&
           !is_space(s[name_end])) {
      ++name_end;
    }
    std::string_view raw_name = s.substr(0, name_end);
    s.remove_prefix(name_end);
    skip_space();
    if (raw_name.empty() || s.empty() || s.front() != '=') {
      return Error{"OAuth header: expected name=\"value\" at parameter " +
                   std::to_string(out.size() + 1)};
    }
    s.remove_prefix(1);
    skip_space();
    if (s.empty() || s.front() != '"') {
      return Error{"OAuth header: value of parameter " + std::to_string(out.size() + 1) +
                   " is not quoted"};
    }
    s.remove_prefix(1);
    std::size_t close = s.find('"');
    if (close == std::string_view::npos) return Error{"OAuth header: unterminated quoted value"};
    std::string_view raw_value = s.substr(0, close);
    s.remove_prefix(close + 1);
    std::string name;
    std::string value;
    if (!percent_decode(raw_name, &name) || !percent_decode(raw_value, &value)) {
      return Error{"OAuth header: malformed %-escape in parameter " +
                   std::to_string(out.size() + 1)};
    }
    if (out.size() >= kMaxHeaderParams) return Error{"OAuth header: too many parameters"};
    if (!out.emplace(std::move(name), std::move(value)).second) {
      return Error{"OAuth header: a parameter appears twice"};
    }
    skip_space();
    if (s.empty()) break;
    if (s.front() != ',') return Error{"OAuth header: expected ',' between parameters"};
    s.remove_prefix(1);
  }
  if (out.empty()) return Error{"OAuth header: no parameters"};
  return out;
}

}  // namespace sotong::x
