// Digests: lower-case hex SHA-256 (department token hashes, Idempotency-Key request hashes)
// and HMAC-SHA256 (signatures).
// Apart from the configuration so that code hashing a token needs no YAML (fuzz/).
// Thread-safe; never fails.
#pragma once

#include <string>
#include <string_view>

namespace sotong {

std::string sha256_hex(std::string_view data);
// Lower-case hex HMAC-SHA256 (signed hook requests and webhook notifications).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace sotong
