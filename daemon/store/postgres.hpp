// The PostgreSQL driver's pure helpers, apart so tests can check them without a server. The
// driver itself is db::open_postgres (db.hpp); it sends the SQL these helpers rewrite and
// quotes only redacted URLs in its messages. All functions are thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "daemon/store/db.hpp"

namespace sotong::db::pg {

// Rewrites SQLite-style parameters `?1`, `?2` ... to PostgreSQL's `$1`, `$2` ..., leaving
// string literals ('...', E'...'), quoted identifiers and comments untouched. A `?` without
// digits stays as it is. *max_index receives the highest N seen (0: none).
std::string rewrite_parameters(std::string_view sql, int* max_index);

// A libpq URL ("postgresql://user:secret@host/db?password=...") or key=value string with every
// password replaced by "***", fit for a log line or an error message.
std::string redact_url(std::string_view url);

// A libpq error message with the URL's passwords masked: libpq quotes parts of a URL it cannot
// parse, and the part may be the password.
std::string redact_message(std::string_view message, std::string_view url);

// The Fault for a SQLSTATE (five characters; empty when libpq made the error itself).
Fault classify_sqlstate(std::string_view sqlstate);

}  // namespace sotong::db::pg
