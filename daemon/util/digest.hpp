// Digests: lower-case hex SHA-256 (department token hashes, Idempotency-Key request hashes).
// Apart from the configuration so that code hashing a token needs no YAML (fuzz/).
// Thread-safe; never fails.
#pragma once

#include <string>
#include <string_view>

namespace sotong {

std::string sha256_hex(std::string_view data);

}  // namespace sotong
