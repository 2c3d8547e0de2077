// The store's tables for each engine (see schema.cpp).
#pragma once

namespace sotong::schema {

// Entry i migrates an SQLite store from version i to i+1. Never edit a shipped entry: add one.
extern const char* const kSqliteMigrations[];
// PostgreSQL stores begin at the latest version; later versions add migrations for both.
extern const char* const kPostgres;
extern const int kLatestVersion;

}  // namespace sotong::schema
