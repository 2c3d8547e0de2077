// A count read from an SQLite store through a read-only connection of its own: what is
// committed, not what a transaction in progress sees. -1 when the query fails.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>

namespace sotong::test_support {

inline int64_t count_rows(const std::filesystem::path& db, const char* sql) {
  sqlite3* c = nullptr;
  sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(c, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close_v2(c);
  return n;
}

}  // namespace sotong::test_support
