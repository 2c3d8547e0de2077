#include "daemon/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace sotong {
namespace {

TEST(RateLimiter, AdmitsAMinutesAllowanceAtOnceThenRefuses) {
  RateLimiter l(3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(l.admit("a", 1000).retry_after_s, 0);
  auto refused = l.admit("a", 1000);
  EXPECT_EQ(refused.retry_after_s, 20);  // one token comes back every 60/3 seconds
  EXPECT_TRUE(refused.first_refusal);
  EXPECT_FALSE(l.admit("a", 1000).first_refusal);
}

TEST(RateLimiter, RefillsAtTheConfiguredRate) {
  RateLimiter l(60);
  for (int i = 0; i < 60; ++i) ASSERT_EQ(l.admit("a", 0).retry_after_s, 0);
  EXPECT_EQ(l.admit("a", 500).retry_after_s, 1);
  EXPECT_EQ(l.admit("a", 1000).retry_after_s, 0);
}

TEST(RateLimiter, ClientsHaveTheirOwnBuckets) {
  RateLimiter l(1);
  EXPECT_EQ(l.admit("a", 0).retry_after_s, 0);
  EXPECT_GT(l.admit("a", 0).retry_after_s, 0);
  EXPECT_EQ(l.admit("b", 0).retry_after_s, 0);
}

TEST(RateLimiter, ZeroAdmitsEverythingAndTracksNobody) {
  RateLimiter l(0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(l.admit("a", 0).retry_after_s, 0);
  EXPECT_EQ(l.tracked(), 0u);
}

TEST(RateLimiter, MemoryStaysBoundedUnderManyAddresses) {
  RateLimiter l(10, 100);
  for (int i = 0; i < 10000; ++i) l.admit("10.0." + std::to_string(i), i);
  EXPECT_LE(l.tracked(), 100u);
}

TEST(RateLimiter, EvictsRefilledClientsBeforeActiveOnes) {
  RateLimiter l(2, 2);
  l.admit("idle", 0);
  l.admit("busy", 50000);
  l.admit("busy", 50000);
  l.admit("new", 61000);  // "idle" has refilled by now: forgetting it loses nothing
  EXPECT_GT(l.admit("busy", 61000).retry_after_s, 0);
}

TEST(RateLimiter, ALowerRateFromAReloadCapsWhatABucketHolds) {
  RateLimiter l(100);
  l.admit("a", 0);
  l.set_rate(1);
  EXPECT_EQ(l.admit("a", 0).retry_after_s, 0);
  EXPECT_GT(l.admit("a", 0).retry_after_s, 0);
}

}  // namespace
}  // namespace sotong
