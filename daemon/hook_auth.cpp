#include "daemon/hook_auth.hpp"

#include <openssl/crypto.h>

#include <charconv>

#include "daemon/util/digest.hpp"

namespace sotong::hook {

std::string Principal::actor() const {
  return (role == Role::kAdmin ? "admin:" : "department:") + id;
}

std::string Principal::scope() const {
  return role == Role::kAdmin ? std::string() : id;
}

namespace {

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<Principal> principal_for_token(const Config& config, std::string_view token) {
  const std::string h = sha256_hex(token);
  std::optional<Principal> found;
  auto check = [&](Principal::Role role, const std::string& id, const HookCredentials& a) {
    for (const auto& candidate : a.token_sha256)
      if (same(candidate, h)) found = Principal{role, id};
  };
  for (const auto& [id, d] : config.departments) check(Principal::Role::kDepartment, id, d.auth);
  for (const auto& [id, a] : config.admins) check(Principal::Role::kAdmin, id, a.auth);
  return found;
}

std::string signature_hex(std::string_view secret, int64_t timestamp, std::string_view method,
                          std::string_view target, std::string_view body) {
  std::string msg = std::to_string(timestamp);
  msg += '\n';
  msg += method;
  msg += '\n';
  msg += target;
  msg += '\n';
  msg += body;
  return hmac_sha256_hex(secret, msg);
}

SignatureCheck check_signature(const Config& config, std::string_view client,
                               std::string_view timestamp, std::string_view signature,
                               std::string_view method, std::string_view target,
                               std::string_view body, int64_t now_s) {
  SignatureCheck out;
  constexpr std::string_view kScheme = "sha256=";
  if (client.empty() || client.size() > 64 || timestamp.empty() || timestamp.size() > 12 ||
      !signature.starts_with(kScheme) || signature.size() != kScheme.size() + 64) {
    out.message =
        "a signed request needs X-Sotong-Client, X-Sotong-Timestamp and X-Sotong-Signature: "
        "sha256=<64 hex digits>";
    return out;
  }
  int64_t ts = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc() || end != timestamp.data() + timestamp.size() || ts <= 0) {
    out.message = "X-Sotong-Timestamp must be Unix seconds";
    return out;
  }
  const std::string key(client);
  Principal who;
  const std::string* secret = nullptr;
  if (auto d = config.departments.find(key); d != config.departments.end()) {
    who = {Principal::Role::kDepartment, key};
    secret = &d->second.auth.hmac_secret;
  } else if (auto a = config.admins.find(key); a != config.admins.end()) {
    who = {Principal::Role::kAdmin, key};
    secret = &a->second.auth.hmac_secret;
  }
  // One answer for an unknown client and a client without a secret: neither may sign.
  if (secret == nullptr || secret->empty()) {
    out.kind = SignatureCheck::Kind::kUnknownClient;
    out.message = "no signing secret for this client";
    return out;
  }
  if (ts < now_s - kSignatureWindowSeconds || ts > now_s + kSignatureWindowSeconds) {
    out.kind = SignatureCheck::Kind::kExpired;
    out.message = "the signature's timestamp is more than 5 minutes from the server's clock";
    return out;
  }
  std::string want = signature_hex(*secret, ts, method, target, body);
  std::string got(signature.substr(kScheme.size()));
  for (char& ch : got)
    if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
  if (!same(want, got)) {
    out.kind = SignatureCheck::Kind::kWrongSignature;
    out.message = "the signature does not match the request";
    return out;
  }
  out.kind = SignatureCheck::Kind::kValid;
  out.principal = std::move(who);
  out.signature = std::move(want);
  // Kept a minute past the window, so the store forgets it only after the clock refuses it.
  out.expires_at_s = ts + kSignatureWindowSeconds + 60;
  return out;
}

}  // namespace sotong::hook
