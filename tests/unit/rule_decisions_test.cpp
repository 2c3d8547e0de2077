// How matching rules make one Decision: first match wins, `continue` rules add to it, ignore
// stops, the default fills the rest; the --explain trace; the reopen block; hostile text.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "daemon/calendar.hpp"
#include "daemon/rules.hpp"
#include "tests/unit/rules_support.hpp"

namespace sotong {
namespace {

using test_support::kDefaultOnly;
using test_support::load;
using test_support::mention;
using test_support::shipped;
using test_support::with_default;

const std::string kTagRules =
    "  - name: abuse\n"
    "    match: {any: [바보]}\n"
    "    hide: true\n"
    "    tags: [abuse, flagged]\n"
    "    continue: true\n"
    "  - name: loud\n"
    "    match: {any: [급해]}\n"
    "    priority: high\n"
    "    category: loud\n"
    "    notify: true\n"
    "    tags: [flagged, loud]\n"
    "    continue: true\n"
    "  - name: footbridge\n"
    "    match: {any: [육교]}\n"
    "    department: roads\n"
    "    category: footbridge\n"
    "  - name: bus\n"
    "    match: {any: [버스]}\n"
    "    department: transport\n"
    "    priority: low\n";

TEST(RuleContinue, MatchingGoesOnAndTheNextRuleDecides) {
  const Decision d = load(with_default(kTagRules)).decide(mention("바보 같은 육교"));
  EXPECT_EQ(d.rule, "footbridge");
  EXPECT_EQ(d.matched, (std::vector<std::string>{"abuse", "footbridge"}));
  EXPECT_EQ(d.department, "roads");
  EXPECT_TRUE(d.hide);
  EXPECT_FALSE(d.notify);
}

TEST(RuleContinue, TagsAccumulateInOrderWithoutRepeats) {
  const Decision d = load(with_default(kTagRules)).decide(mention("바보 급해 육교"));
  EXPECT_EQ(d.tags, (std::vector<std::string>{"abuse", "flagged", "loud"}));
  EXPECT_TRUE(d.hide);
  EXPECT_TRUE(d.notify);
}

TEST(RuleContinue, LaterRulesOverrideOnlyTheFieldsTheyWrite) {
  const RuleSet rules = load(with_default(kTagRules));
  Decision d = rules.decide(mention("급해 육교"));
  EXPECT_EQ(d.priority, Priority::kHigh);  // from loud: footbridge writes no priority
  EXPECT_EQ(d.category, "footbridge");     // footbridge writes its own
  EXPECT_EQ(d.department, "roads");
  d = rules.decide(mention("급해 버스"));
  EXPECT_EQ(d.priority, Priority::kLow);  // bus writes one
  EXPECT_EQ(d.category, "loud");          // bus writes none
}

TEST(RuleContinue, OnlyContinueRulesMatchedMeansTheDefaultDecides) {
  const Decision d = load(with_default(kTagRules)).decide(mention("급해요"));
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.matched, std::vector<std::string>{"loud"});
  EXPECT_EQ(d.department, "civil-affairs");
  EXPECT_EQ(d.priority, Priority::kHigh);
  EXPECT_EQ(d.category, "loud");
}

TEST(RuleContinue, NothingMatchedIsThePlainDefault) {
  const Decision d = load(with_default(kTagRules)).decide(mention("안녕하세요"));
  EXPECT_EQ(d.rule, "default");
  EXPECT_TRUE(d.matched.empty());
  EXPECT_TRUE(d.tags.empty());
  EXPECT_FALSE(d.hide);
  EXPECT_EQ(d.neighbourhood, "");
}

TEST(RuleIgnore, StopsMatchingEvenAfterContinueRules) {
  const RuleSet rules = load(with_default(kTagRules.substr(0, kTagRules.find("  - name: loud")) +
                                          "  - name: spam\n"
                                          "    match: {any: [카지노]}\n"
                                          "    ignore: gambling spam\n" +
                                          kTagRules.substr(kTagRules.find("  - name: loud"))));
  const Decision d = rules.decide(mention("바보 카지노 육교"));
  EXPECT_EQ(d.action, Decision::Action::kIgnore);
  EXPECT_EQ(d.ignore_reason, "gambling spam");
  EXPECT_EQ(d.rule, "spam");
  EXPECT_EQ(d.matched, (std::vector<std::string>{"abuse", "spam"}));
  EXPECT_EQ(rules.decide(mention("육교")).action, Decision::Action::kOpen);
}

TEST(RuleIgnore, BlockedAuthorIsIgnored) {
  const RuleSet rules =
      load(with_default("  - name: blocked\n"
                        "    match: {authors: [troll@example.org]}\n"
                        "    ignore: blocked author\n"));
  Mention m = mention("육교");
  m.author_acct = "Troll@Example.org";
  EXPECT_EQ(rules.decide(m).action, Decision::Action::kIgnore);
  m.author_acct = "citizen1@example.org";
  EXPECT_EQ(rules.decide(m).action, Decision::Action::kOpen);
}

TEST(RuleTemplate, ExplicitWhenAnyMatchingRuleWritesIt) {
  const RuleSet rules =
      load(with_default("  - name: tagged\n"
                        "    match: {any: [밤]}\n"
                        "    template: ack_night\n"
                        "    continue: true\n"
                        "  - name: bus\n"
                        "    match: {any: [버스]}\n"
                        "    department: transport\n"));
  Decision d = rules.decide(mention("밤 버스"));
  EXPECT_EQ(d.template_key, "ack_night");
  EXPECT_TRUE(d.template_explicit);
  d = rules.decide(mention("버스"));
  EXPECT_EQ(d.template_key, "ack");
  EXPECT_FALSE(d.template_explicit);
  EXPECT_EQ(rules.template_keys(), (std::vector<std::string>{"ack", "ack_night"}));
}

TEST(RuleTemplate, UrgentFromAContinueRuleGetsAckUrgent) {
  const RuleSet rules =
      load(with_default("  - name: danger\n"
                        "    match: {any: [위험]}\n"
                        "    priority: urgent\n"
                        "    continue: true\n"
                        "  - name: footbridge\n"
                        "    match: {any: [육교]}\n"
                        "    department: roads\n"));
  const Decision d = rules.decide(mention("육교가 위험해요"));
  EXPECT_EQ(d.rule, "footbridge");
  EXPECT_EQ(d.priority, Priority::kUrgent);
  EXPECT_EQ(d.template_key, "ack_urgent");
  EXPECT_FALSE(d.template_explicit);
  EXPECT_EQ(rules.template_keys(), (std::vector<std::string>{"ack", "ack_urgent"}));
}

TEST(RuleDecide, WithoutACalendarUsesSeoul) {
  const RuleSet rules =
      load(with_default("  - name: night\n"
                        "    match: {time: {from: \"22:00\", to: \"06:00\"}}\n"
                        "    tags: [night]\n"
                        "    continue: true\n"));
  Mention m = mention("x");
  m.created_at_ms = test_support::seoul(2025, 11, 19, 23, 0);  // 14:00 UTC
  EXPECT_EQ(rules.decide(m).tags, std::vector<std::string>{"night"});
}

// --- The trace for --explain ---

TEST(RuleTrace, OneStepPerRuleTriedUpToTheDecidingOne) {
  const RuleSet rules = load(with_default(kTagRules));
  RuleTrace trace;
  const Decision d = rules.decide(mention("바보 육교"), Calendar::seoul_without_holidays(), &trace);
  EXPECT_EQ(d.rule, "footbridge");
  ASSERT_EQ(trace.steps.size(), 3u);
  EXPECT_EQ(trace.steps[0].rule, "abuse");
  EXPECT_EQ(trace.steps[0].where, "test.yaml:2:5");
  EXPECT_TRUE(trace.steps[0].matched);
  EXPECT_EQ(trace.steps[0].why, "any: found \"바보\"");
  EXPECT_FALSE(trace.steps[1].matched);
  EXPECT_EQ(trace.steps[1].why, "any: none of [급해] found");
  EXPECT_EQ(trace.steps[2].where, "test.yaml:14:5");
  EXPECT_EQ(trace.steps[2].why, "any: found \"육교\"");
}

// The why of the only rule in a set, for the mention.
std::string why(const std::string& match, const Mention& m) {
  const RuleSet rules = load(with_default("  - name: r\n    match: " + match + "\n"));
  RuleTrace trace;
  rules.decide(m, Calendar::seoul_without_holidays(), &trace);
  return trace.steps.empty() ? "" : trace.steps[0].why;
}
std::string why(const std::string& match, const std::string& text) {
  return why(match, mention(text));
}

TEST(RuleTrace, SaysWhyEachConditionHeldOrFailed) {
  EXPECT_EQ(why("{all: [버스, 임금]}", "버스가 늦어요"), "all: missing \"임금\"");
  EXPECT_EQ(why("{all: [버스, 임금]}", "버스 임금"), "all: found [버스, 임금]");
  EXPECT_EQ(why("{any: [화재], none: [화재보험]}", "화재보험 문의"), "none: found \"화재보험\"");
  Mention x = mention("x");
  x.platform = "x";
  EXPECT_EQ(why("{platform: [mastodon]}", x), "platform: x is not in [mastodon]");
  EXPECT_EQ(why("{platform: [mastodon], any: [x]}", "x"), "platform: mastodon; any: found \"x\"");
  EXPECT_EQ(why("{language: [en]}", "x"), "language: ko is not in [en]");
  EXPECT_EQ(why("{visibility: [direct]}", "x"), "visibility: public is not in [direct]");
  EXPECT_EQ(why("{account: [other]}", "x"), "account: songpa is not in [other]");
  EXPECT_EQ(why("{authors: [troll]}", "x"), "authors: @citizen1@example.org is not listed");
  EXPECT_EQ(why("{hashtags: [송파]}", "#잠실 #석촌"),
            "hashtags: none of [#송파] in the text (it has [#석촌, #잠실])");
  EXPECT_EQ(why("{hashtags: [송파]}", "#송파"), "hashtags: found #송파");
  EXPECT_EQ(why("{patterns: [\"씨\\\\s*발\"]}", "아 씨  발 진짜"),
            "patterns: /씨\\s*발/ matched \"씨  발\"");
  EXPECT_EQ(why("{patterns: [a+b, c]}", "x"), "patterns: no match for [/a+b/, /c/]");
  EXPECT_EQ(why("{any: [a, b, c, d, e, f, g, h]}", "x"),
            "any: none of [a, b, c, d, e, f, … 2 more] found");
}

TEST(RuleTrace, NeighbourhoodSaysWhichPlace) {
  const RuleSet rules = load("neighbourhoods: {songpa: [잠실동]}\n" +
                             with_default("  - name: r\n    match: {neighbourhood: songpa}\n"));
  RuleTrace trace;
  rules.decide(mention("잠실동 육교"), Calendar::seoul_without_holidays(), &trace);
  EXPECT_EQ(trace.steps[0].why, "neighbourhood: found \"잠실동\" (songpa)");
  trace.steps.clear();
  rules.decide(mention("천호동 육교"), Calendar::seoul_without_holidays(), &trace);
  EXPECT_EQ(trace.steps[0].why, "neighbourhood: no place from [songpa] found");
}

// --- Reopen ---

const std::string kReopen =
    "reopen:\n"
    "  any: [아직, 여전히, still, not fixed]\n"
    "  none: [감사, thank]\n";

TEST(RuleReopen, StillBrokenReopens) {
  const RuleSet rules = load(kReopen + kDefaultOnly);
  std::string reason;
  EXPECT_TRUE(rules.reopens(mention("여전히 구멍이 있어요"), &reason));
  EXPECT_EQ(reason, "any: found \"여전히\"");
}

TEST(RuleReopen, ThanksDoesNotReopen) {
  const RuleSet rules = load(kReopen + kDefaultOnly);
  std::string reason;
  EXPECT_FALSE(rules.reopens(mention("Still here, thank you!"), &reason));
  EXPECT_EQ(reason, "none: found \"thank\"");
  EXPECT_FALSE(rules.reopens(mention("잘 고쳐졌네요")));
}

TEST(RuleReopen, WithoutABlockNothingReopens) {
  const RuleSet rules = load(kDefaultOnly);
  std::string reason;
  EXPECT_FALSE(rules.reopens(mention("아직 그대로예요"), &reason));
  EXPECT_EQ(reason, "no reopen: block in the rules");
}

// --- Hostile and odd mentions ---

TEST(RuleHostile, OneMegabyteTextIsMatchedOnlyInItsStart) {
  std::string text = "포트홀 ";
  while (text.size() < 1024 * 1024) text += "가나다라 ";
  const std::string late = text + " 육교";
  EXPECT_EQ(shipped().decide(mention(text)).rule, "road-damage");
  EXPECT_EQ(shipped().decide(mention(late.substr(text.find(' ')))).rule, "default");
}

TEST(RuleHostile, InvalidUtf8ReachesEveryCondition) {
  const RuleSet rules =
      load(with_default("  - name: r\n"
                        "    match: {patterns: [\"육교\"], hashtags: [송파]}\n"));
  EXPECT_EQ(rules.decide(mention("\xff#송파\xc3 육교 \xed\xa0\x80")).rule, "r");
}

TEST(RuleHostile, EmptyTextMatchesNoTextCondition) {
  const RuleSet rules = load("neighbourhoods: {songpa: [잠실동]}\n" +
                             with_default("  - name: a\n    match: {patterns: [\"a|^\\\\s\"]}\n"
                                          "  - name: b\n    match: {hashtags: [a]}\n"
                                          "  - name: c\n    match: {neighbourhood: songpa}\n"
                                          "  - name: d\n    match: {any: [a]}\n"));
  EXPECT_EQ(rules.decide(mention("")).rule, "default");
}

TEST(RuleHostile, NestedStarPatternIsLinear) {
  const RuleSet rules = load(with_default("  - name: r\n    match: {patterns: [\"(a*)*b\"]}\n"));
  const Mention m = mention(std::string(100 * 1024, 'a'));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(rules.decide(m).rule, "default");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(RuleHostile, ThousandsOfHashtagsAreFine) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "#t" + std::to_string(i) + " ";
  const RuleSet rules = load(with_default("  - name: r\n    match: {hashtags: [t9999]}\n"));
  EXPECT_EQ(rules.decide(mention(text)).rule, "r");
}

}  // namespace
}  // namespace sotong
