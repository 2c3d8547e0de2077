// The store tests' fixture: on SQLite in the unit tests, on PostgreSQL (a schema of each
// test's own) when built with SOTONG_STORE_ON_POSTGRES.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/store.hpp"
#include "temp_dir.hpp"
#ifdef SOTONG_STORE_ON_POSTGRES
#include "pg_support.hpp"
#endif

namespace sotong::store_test {

using test_support::TempDir;

inline Mention sample(const std::string& id, const std::string& cursor = "") {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.id = id;
  m.cursor = cursor;
  m.author = "citizen";
  m.author_acct = "citizen@example.org";
  m.text = "육교에 구멍이 났어요";
  m.language = "ko";
  m.visibility = Visibility::kPublic;
  return m;
}

inline Decision roads(Priority p = Priority::kNormal) {
  Decision d;
  d.department = "roads";
  d.category = "footbridge";
  d.priority = p;
  d.rule = "footbridge";
  return d;
}

inline DraftFn ack() {
  return [](const TicketRow& t) -> Result<ReplyDraft> {
    return ReplyDraft{"@" + t.author_acct + " 접수번호 " + t.number, "ko"};
  };
}

// The same tests run on both engines: this file is built into the unit tests (SQLite) and,
// with SOTONG_STORE_ON_POSTGRES, into the PostgreSQL tests (a schema of each test's own).
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef SOTONG_STORE_ON_POSTGRES
    schema = std::make_unique<test_support::PgTestSchema>();
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
  std::unique_ptr<test_support::PgTestSchema> schema;
#endif
  std::string location;
  std::unique_ptr<Store> store;

  // The mention ids of the tickets a filter lists, in the store's order.
  std::vector<std::string> listed(const TicketFilter& f) {
    std::vector<std::string> ids;
    auto rows = store->list_tickets(f);
    EXPECT_TRUE(rows.ok()) << rows.error();
    if (rows)
      for (const auto& t : *rows) ids.push_back(t.mention_id);
    return ids;
  }
};

}  // namespace sotong::store_test

namespace sotong::test_support {
using StoreFixture = store_test::StoreTest;
}  // namespace sotong::test_support
