// Who is calling the department hook, and may they: bearer tokens (compared as SHA-256
// hashes in constant time) and HMAC-SHA256 signed requests. Pure functions over the
// configuration; replay rejection needs the store (Store::remember_signature).
//
// Signing (the same scheme for requests to sotong and for its webhook notifications):
//   X-Sotong-Client:    the department's id or the admin's name (requests only)
//   X-Sotong-Timestamp: Unix seconds
//   X-Sotong-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "\n" METHOD "\n" target "\n"
//   body)>
// where target is the path and query exactly as sent. A signature is good for five minutes
// either side of the server's clock, and once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config.hpp"

namespace sotong::hook {

constexpr int64_t kSignatureWindowSeconds = 300;

struct Principal {
  enum class Role { kDepartment, kAdmin };
  Role role = Role::kDepartment;
  std::string id;
  // How the audit trail names it: "department:parks", "admin:kim".
  std::string actor() const;
  // The department whose tickets it may touch; empty for an admin (all of them).
  std::string scope() const;
  bool admin() const { return role == Role::kAdmin; }
};

// The department or admin one of whose token hashes is the token's, or nullopt. Every
// credential is compared, always, so timing tells nothing about which one matched.
std::optional<Principal> principal_for_token(const Config& config, std::string_view token);

// The lower-case hex HMAC-SHA256 of the signing string.
std::string signature_hex(std::string_view secret, int64_t timestamp, std::string_view method,
                          std::string_view target, std::string_view body);

struct SignatureCheck {
  enum class Kind { kValid, kMalformed, kUnknownClient, kExpired, kWrongSignature };
  Kind kind = Kind::kMalformed;
  std::optional<Principal> principal;  // kValid
  std::string signature;               // kValid: the hex, for replay rejection
  int64_t expires_at_s = 0;            // kValid: keep it until then (the clock refuses it by then)
  std::string message;                 // otherwise: what to tell the caller
};

// Checks a signed request's three headers against the configuration at `now_s`.
SignatureCheck check_signature(const Config& config, std::string_view client,
                               std::string_view timestamp, std::string_view signature,
                               std::string_view method, std::string_view target,
                               std::string_view body, int64_t now_s);

}  // namespace sotong::hook
