// Helpers shared by the rules tests: the shipped rules, a mention, loading a rules text, and
// moments on the Seoul clock. Not thread-safe (gtest runs tests one at a time).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "daemon/calendar.hpp"
#include "daemon/rules.hpp"

namespace sotong::test_support {

inline const std::filesystem::path kShippedRules =
    std::filesystem::path(SOTONG_SOURCE_DIR) / "rules";

inline const RuleSet& shipped() {
  static const RuleSet rules = [] {
    auto r = RuleSet::load_dir(kShippedRules);
    if (!r) ADD_FAILURE() << r.error();
    return r ? std::move(r).value() : RuleSet{};
  }();
  return rules;
}

// A public Mastodon mention by citizen1, written at noon on Wednesday 2025-11-19 in Seoul
// (so time windows are deterministic).
inline Mention mention(std::string text) {
  Mention m;
  m.platform = "mastodon";
  m.account = "songpa";
  m.author = "citizen1";
  m.author_acct = "citizen1@example.org";
  m.language = "ko";
  m.text = std::move(text);
  m.created_at_ms = Calendar::seoul_without_holidays().to_utc_ms(2025, 11, 19, 12 * 60);
  return m;
}

inline const std::string kDefaultOnly = "default:\n  department: civil-affairs\n";

// A rule file with the given rules and a default routing to civil-affairs.
inline std::string with_default(const std::string& rules) {
  return "rules:\n" + rules + "default:\n  department: civil-affairs\n";
}

inline RuleSet load(const std::string& yaml) {
  auto r = RuleSet::load_string(yaml, "test.yaml");
  EXPECT_TRUE(r.ok()) << r.error();
  return r ? std::move(r).value() : RuleSet{};
}

inline std::string load_error(const std::string& yaml) {
  auto r = RuleSet::load_string(yaml, "test.yaml");
  EXPECT_FALSE(r.ok());
  return r ? std::string() : r.error();
}

// The UTC instant of a wall-clock moment in Seoul.
inline int64_t seoul(int year, int month, int day, int hour, int minute) {
  return Calendar::seoul_without_holidays().to_utc_ms(year, month, day, hour * 60 + minute);
}

}  // namespace sotong::test_support
