// The PostgreSQL driver's pure helpers, without a server: parameter rewriting, password
// redaction and SQLSTATE classification.
#include <gtest/gtest.h>

#include "daemon/store/postgres.hpp"

namespace sotong::db {
namespace {

std::string rewrite(std::string_view sql, int* max_index = nullptr) {
  int ignored = 0;
  return pg::rewrite_parameters(sql, max_index != nullptr ? max_index : &ignored);
}

TEST(RewriteParameters, NumberedParametersBecomeDollarParameters) {
  int max = 0;
  EXPECT_EQ(rewrite("SELECT a FROM t WHERE b = ?1 AND c = ?2", &max),
            "SELECT a FROM t WHERE b = $1 AND c = $2");
  EXPECT_EQ(max, 2);
}

TEST(RewriteParameters, RepeatedParameterKeepsItsNumber) {
  int max = 0;
  EXPECT_EQ(rewrite("VALUES (?1, ?1, ?1)", &max), "VALUES ($1, $1, $1)");
  EXPECT_EQ(max, 1);
}

TEST(RewriteParameters, TenIsNotOneFollowedByZero) {
  int max = 0;
  EXPECT_EQ(rewrite("?10 + ?1", &max), "$10 + $1");
  EXPECT_EQ(max, 10);
}

TEST(RewriteParameters, StringLiteralsAreLeftAlone) {
  int max = 0;
  EXPECT_EQ(rewrite("SELECT '?1', 'it''s ?2', ?3", &max), "SELECT '?1', 'it''s ?2', $3");
  EXPECT_EQ(max, 3);
}

TEST(RewriteParameters, EscapeStringLiteralsAreLeftAlone) {
  EXPECT_EQ(rewrite(R"(SELECT E'\'?1', ?2)"), R"(SELECT E'\'?1', $2)");
  // Without the E prefix a backslash is an ordinary character.
  EXPECT_EQ(rewrite(R"(SELECT '\', ?2)"), R"(SELECT '\', $2)");
}

TEST(RewriteParameters, QuotedIdentifiersAreLeftAlone) {
  EXPECT_EQ(rewrite(R"(SELECT "a?1" FROM "t""?2" WHERE x = ?1)"),
            R"(SELECT "a?1" FROM "t""?2" WHERE x = $1)");
}

TEST(RewriteParameters, CommentsAreLeftAlone) {
  int max = 0;
  EXPECT_EQ(rewrite("SELECT ?1 -- ?2\n/* ?3 /* ?4 */ ?5 */ + ?6", &max),
            "SELECT $1 -- ?2\n/* ?3 /* ?4 */ ?5 */ + $6");
  EXPECT_EQ(max, 6);
}

TEST(RewriteParameters, QuestionMarkWithoutDigitsStays) {
  int max = 7;
  EXPECT_EQ(rewrite("SELECT doc ? 'key'", &max), "SELECT doc ? 'key'");
  EXPECT_EQ(max, 0);
}

TEST(RewriteParameters, UnterminatedLiteralIsCopiedAsItIs) {
  EXPECT_EQ(rewrite("SELECT ?1, 'open ?2"), "SELECT $1, 'open ?2");
}

TEST(RedactUrl, MasksThePasswordInTheUserInfo) {
  EXPECT_EQ(pg::redact_url("postgresql://sotong:s3cret@db.example:5432/desk"),
            "postgresql://sotong:***@db.example:5432/desk");
  EXPECT_EQ(pg::redact_url("postgres://u:p%40ss@h/d"), "postgres://u:***@h/d");
}

TEST(RedactUrl, MasksAPasswordContainingAnAt) {
  EXPECT_EQ(pg::redact_url("postgresql://u:p@ss@h/d"), "postgresql://u:***@h/d");
}

TEST(RedactUrl, MasksThePasswordParameter) {
  EXPECT_EQ(pg::redact_url("postgresql:///desk?host=/run/pg&password=s3cret&user=u"),
            "postgresql:///desk?host=/run/pg&password=***&user=u");
  EXPECT_EQ(pg::redact_url("postgresql://h/d?password=s3cret"), "postgresql://h/d?password=***");
}

TEST(RedactUrl, MasksKeywordValuePasswords) {
  EXPECT_EQ(pg::redact_url("host=h password=s3cret dbname=d"), "host=h password=*** dbname=d");
  EXPECT_EQ(pg::redact_url("host=h password = 'a b\\' c' dbname=d"),
            "host=h password = *** dbname=d");
}

TEST(RedactUrl, LeavesAUrlWithoutPasswordAsItIs) {
  for (const char* url : {"postgresql:///postgres?host=/tmp/sock&port=54329&user=postgres",
                          "postgresql://user@host/db", "host=h dbname=d", ""}) {
    EXPECT_EQ(pg::redact_url(url), url);
  }
}

TEST(RedactMessage, MasksThePasswordWhereverLibpqQuotesIt) {
  const std::string url = "postgresql://u:p%25w@[::1/db";
  const std::string message = "invalid URI \"" + url + "\", near \"p%w\"";
  const std::string redacted = pg::redact_message(message, url);
  EXPECT_EQ(redacted.find("p%25w"), std::string::npos) << redacted;
  EXPECT_EQ(redacted.find("p%w"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("postgresql://u:***@[::1/db"), std::string::npos) << redacted;
}

TEST(ClassifySqlstate, SpaceAndResourceLimitsAreFull) {
  EXPECT_EQ(pg::classify_sqlstate("53100"), Fault::kFull);
  EXPECT_EQ(pg::classify_sqlstate("53200"), Fault::kFull);
  EXPECT_EQ(pg::classify_sqlstate("53300"), Fault::kUnavailable);
}

TEST(ClassifySqlstate, EachFaultHasItsCodes) {
  EXPECT_EQ(pg::classify_sqlstate("25006"), Fault::kReadOnly);
  EXPECT_EQ(pg::classify_sqlstate("08006"), Fault::kUnavailable);
  EXPECT_EQ(pg::classify_sqlstate("57P01"), Fault::kUnavailable);
  EXPECT_EQ(pg::classify_sqlstate("57P02"), Fault::kUnavailable);
  EXPECT_EQ(pg::classify_sqlstate("57P03"), Fault::kUnavailable);
  EXPECT_EQ(pg::classify_sqlstate("58030"), Fault::kIo);
  EXPECT_EQ(pg::classify_sqlstate("40P01"), Fault::kBusy);
  EXPECT_EQ(pg::classify_sqlstate("55P03"), Fault::kBusy);
  EXPECT_EQ(pg::classify_sqlstate("40001"), Fault::kBusy);
  EXPECT_EQ(pg::classify_sqlstate("23505"), Fault::kConstraint);
  EXPECT_EQ(pg::classify_sqlstate("23503"), Fault::kConstraint);
  EXPECT_EQ(pg::classify_sqlstate("42P01"), Fault::kOther);
  EXPECT_EQ(pg::classify_sqlstate(""), Fault::kOther);
}

TEST(Fault, EnvironmentalFaultsAreTheMachines) {
  for (Fault f : {Fault::kFull, Fault::kReadOnly, Fault::kIo, Fault::kUnavailable})
    EXPECT_TRUE(is_environmental(f)) << to_string(f);
  for (Fault f : {Fault::kNone, Fault::kBusy, Fault::kConstraint, Fault::kOther})
    EXPECT_FALSE(is_environmental(f)) << to_string(f);
  EXPECT_STREQ(to_string(Fault::kUnavailable), "unavailable");
}

}  // namespace
}  // namespace sotong::db
