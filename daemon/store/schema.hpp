// The store's tables for each engine (see schema.cpp).
#pragma once

namespace sotong::schema {

// Entry i migrates an SQLite store from version i to i+1. Never edit a shipped entry: add one.
extern const char* const kSqliteMigrations[];
// PostgreSQL stores begin at version 4 (kFirstPostgresVersion), then migrate.
extern const char* const kPostgres;
// Entry i migrates a PostgreSQL store from version i to i+1 (from 4, the first shipped).
extern const char* const kPostgresMigrations[];
constexpr int kFirstPostgresVersion = 4;
extern const int kLatestVersion;

}  // namespace sotong::schema
