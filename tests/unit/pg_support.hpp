// PgTestSchema: an empty PostgreSQL schema of its own for one test, on the server named by
// SOTONG_TEST_PG (ctest sets it and starts a throwaway cluster, tests/pg/cluster.sh). url()
// opens connections whose search_path is that schema, so tables land there; the schema is
// dropped with everything in it when the object goes out of scope.
//
// A test that needs PostgreSQL fails when it cannot have it: check ok() and error() (or use
// PgTest below), never skip. Not thread-safe; one per test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "daemon/store/db.hpp"

namespace sotong::test_support {

// The server for the tests, or why there is none.
inline Result<std::string> pg_test_url() {
  const char* url = std::getenv("SOTONG_TEST_PG");
  if (url == nullptr || *url == '\0')
    return Error{
        "SOTONG_TEST_PG is not set: this test needs PostgreSQL. Run it through ctest, which "
        "starts a throwaway cluster (tests/pg/cluster.sh), or set SOTONG_TEST_PG to a libpq URL"};
  return std::string(url);
}

// The URL with one more query parameter, whether or not it already has some.
inline std::string with_url_parameter(const std::string& url, const std::string& param) {
  if (url.find('?') == std::string::npos) return url + "?" + param;
  if (url.back() == '?' || url.back() == '&') return url + param;
  return url + "&" + param;
}

class PgTestSchema {
 public:
  PgTestSchema() {
    auto base = pg_test_url();
    if (!base) {
      error_ = base.error();
      return;
    }
    auto admin = db::open_postgres(*base);
    if (!admin) {
      error_ = "cannot reach the test PostgreSQL (SOTONG_TEST_PG): " + admin.error();
      return;
    }
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "s_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1'000'000);
    if (auto s = (*admin)->exec("CREATE SCHEMA " + name_); !s) {
      error_ = "cannot create the test schema " + name_ + ": " + s.error();
      return;
    }
    admin_ = std::move(*admin);
    // libpq decodes %3D, so the server gets the option `-csearch_path=<schema>`.
    url_ = with_url_parameter(*base, "options=-csearch_path%3D" + name_);
  }
  ~PgTestSchema() {
    if (admin_) (void)admin_->exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  }
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  bool ok() const { return admin_ != nullptr; }
  const std::string& error() const { return error_; }
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::unique_ptr<db::Connection> admin_;
  std::string name_;
  std::string url_;
  std::string error_;
};

// A fixture with a schema of its own and one connection to it: the test fails in SetUp when
// PostgreSQL cannot be had.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_.emplace();
    ASSERT_TRUE(schema_->ok()) << schema_->error();
    auto c = db::open_postgres(schema_->url());
    ASSERT_TRUE(c.ok()) << c.error();
    conn_ = std::move(*c);
  }
  void TearDown() override {
    conn_.reset();
    schema_.reset();
  }

  db::Connection& conn() { return *conn_; }
  std::optional<PgTestSchema> schema_;
  std::unique_ptr<db::Connection> conn_;
};

}  // namespace sotong::test_support
