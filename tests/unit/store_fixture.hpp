// StoreFixture: a fresh Store per test on the engine the file is built for: an SQLite file in
// a temporary folder, or with SOTONG_STORE_ON_POSTGRES a PostgreSQL schema of the test's own
// (the store's test files are built into the unit tests and again into the PostgreSQL tests).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "daemon/store.hpp"
#include "temp_dir.hpp"
#ifdef SOTONG_STORE_ON_POSTGRES
#include "pg_support.hpp"
#endif

namespace sotong::test_support {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef SOTONG_STORE_ON_POSTGRES
    schema = std::make_unique<PgTestSchema>();
    location = schema->url();
#else
    location = (dir.path() / "s.db").string();
#endif
    auto s = Store::open(location, "SP");
    ASSERT_TRUE(s.ok()) << s.error();
    store = std::move(*s);
  }
  TempDir dir;
#ifdef SOTONG_STORE_ON_POSTGRES
  std::unique_ptr<PgTestSchema> schema;
#endif
  std::string location;
  std::unique_ptr<Store> store;
};

}  // namespace sotong::test_support
