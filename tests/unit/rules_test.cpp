// The rules as loaded: the shipped files against the seed stories, keyword matching, the
// default block, and every load error with its exact message. Conditions other than keywords
// are in rule_conditions_test.cpp, continue/ignore/trace/reopen in rule_decisions_test.cpp.
#include "daemon/rules.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/rules_support.hpp"
#include "tests/unit/temp_dir.hpp"

namespace sotong {
namespace {

using test_support::kDefaultOnly;
using test_support::kShippedRules;
using test_support::load;
using test_support::load_error;
using test_support::mention;
using test_support::shipped;
using test_support::TempDir;
using test_support::with_default;

// --- The shipped rules against the seed stories ---

TEST(ShippedRules, LoadWithoutError) {
  auto r = RuleSet::load_dir(kShippedRules);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_GT(r->size(), 20u);
}

TEST(ShippedRules, RouteOnlyToTheKnownDepartments) {
  const std::vector<std::string> expected{"civil-affairs", "environment", "housing", "roads",
                                          "safety",        "transport",   "welfare"};
  EXPECT_EQ(shipped().departments(), expected);
}

TEST(ShippedRules, FootbridgeHoleRoutesToRoads) {
  const Decision d =
      shipped().decide(mention("만리재로 193 앞 육교에 구멍이 두 군데 5cm 정도 났어요"));
  EXPECT_EQ(d.action, Decision::Action::kOpen);
  EXPECT_EQ(d.rule, "footbridge");
  EXPECT_EQ(d.department, "roads");
  EXPECT_EQ(d.category, "footbridge");
  EXPECT_EQ(d.priority, Priority::kHigh);
  EXPECT_EQ(d.template_key, "ack");
}

TEST(ShippedRules, FoodWasteBagQuestionRoutesToEnvironment) {
  const Decision d = shipped().decide(mention("음식물 쓰레기봉투 1리터는 안 파나요?"));
  EXPECT_EQ(d.rule, "food-waste");
  EXPECT_EQ(d.department, "environment");
  EXPECT_EQ(d.priority, Priority::kNormal);
}

TEST(ShippedRules, LostChildAtCampusIsUrgentForSafety) {
  const Decision d = shipped().decide(mention("동아대 부민캠퍼스에서 아이를 잃어버렸어요"));
  EXPECT_EQ(d.rule, "missing-child");
  EXPECT_EQ(d.department, "safety");
  EXPECT_EQ(d.priority, Priority::kUrgent);
  EXPECT_EQ(d.template_key, "ack_urgent");
}

TEST(ShippedRules, EnglishBrokenStreetlightRoutesToSafety) {
  const Decision d =
      shipped().decide(mention("The streetlight on Main Street has been broken for a week."));
  EXPECT_EQ(d.rule, "streetlight");
  EXPECT_EQ(d.department, "safety");
}

TEST(ShippedRules, FireWordDoesNotMatchInconvenience) {
  const Decision d = shipped().decide(mention("민원 처리가 너무 불편해요"));
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.priority, Priority::kNormal);
}

TEST(ShippedRules, StreetlightGoneOutIsNotFire) {
  EXPECT_EQ(shipped().decide(mention("우리 골목 가로등 불이 나갔어요")).rule, "streetlight");
}

TEST(ShippedRules, FireExtinguisherQuestionIsNotUrgent) {
  EXPECT_NE(shipped().decide(mention("Where can I get a fire extinguisher checked?")).priority,
            Priority::kUrgent);
}

TEST(ShippedRules, MiaDongNeighbourhoodIsNotMissingChild) {
  EXPECT_EQ(shipped().decide(mention("미아동 사거리 도로 파손이 심해요")).rule, "road-damage");
}

TEST(ShippedRules, PhysicalEducationIsNotFootbridge) {
  EXPECT_EQ(shipped().decide(mention("체육교육 프로그램 신청은 어디서 하나요")).rule, "default");
}

TEST(ShippedRules, BusinessDoesNotMatchBus) {
  EXPECT_EQ(shipped().decide(mention("How do I register a small business?")).rule, "default");
}

TEST(ShippedRules, EnglishFireIsUrgent) {
  const Decision d = shipped().decide(mention("There is a FIRE in the building next to mine!"));
  EXPECT_EQ(d.rule, "fire");
  EXPECT_EQ(d.template_key, "ack_urgent");
}

TEST(ShippedRules, UnmatchedMentionGetsTheDefault) {
  const Decision d = shipped().decide(mention("시장님 안녕하세요, 좋은 하루 보내세요"));
  EXPECT_EQ(d.action, Decision::Action::kOpen);
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.department, "civil-affairs");
  EXPECT_EQ(d.category, "general");
  EXPECT_EQ(d.template_key, "ack");
}

struct Routed {
  const char* text;
  const char* rule;
  const char* department;
};

class ShippedRouting : public ::testing::TestWithParam<Routed> {};

TEST_P(ShippedRouting, RoutesToItsDepartment) {
  const Decision d = shipped().decide(mention(GetParam().text));
  EXPECT_EQ(d.rule, GetParam().rule) << GetParam().text;
  EXPECT_EQ(d.department, GetParam().department) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    SeedTopics, ShippedRouting,
    ::testing::Values(Routed{"서울도 야간버스 운행해 주세요", "bus", "transport"},
                      Routed{"The night bus never came", "bus", "transport"},
                      Routed{"택시 승차거부를 당했어요", "taxi", "transport"},
                      Routed{"지하철 2호선 에어컨이 너무 세요", "subway", "transport"},
                      Routed{"운중동 집 주변 도로가 파손됐어요", "road-damage", "roads"},
                      Routed{"There is a huge pothole on the bridge road", "road-damage", "roads"},
                      Routed{"보도블록이 깨져서 넘어질 뻔했어요", "sidewalk", "roads"},
                      Routed{"교차로 신호등이 고장났어요", "traffic-signal", "transport"},
                      Routed{"골목에 불법주정차 차량이 너무 많아요", "illegal-parking",
                             "transport"},
                      Routed{"집 앞에 쓰레기 무단투기가 심해요", "illegal-dumping", "environment"},
                      Routed{"윗집 층간소음 때문에 잠을 못 자요", "noise", "environment"},
                      Routed{"지하차도가 침수됐어요", "flood", "safety"},
                      Routed{"I can smell gas in the stairwell", "gas-leak", "safety"},
                      Routed{"아파트 옆 공터에서 연기가 나요", "fire", "safety"},
                      Routed{"보증금을 돌려받지 못하고 있어요", "housing", "housing"},
                      Routed{"Who can help my landlord dispute?", "housing", "housing"},
                      Routed{"간병인 구하는 게 하늘의 별따기입니다", "welfare", "welfare"},
                      Routed{"어르신 무료 급식은 어디서 하나요", "welfare", "welfare"}),
    [](const ::testing::TestParamInfo<Routed>& p) {
      std::string name = std::string(p.param.rule) + "_" + std::to_string(p.index);
      for (auto& c : name)
        if (c == '-') c = '_';
      return name;
    });

// --- Hostile and odd mentions ---

TEST(RuleDecide, EmptyTextGetsTheDefault) {
  const Decision d = shipped().decide(mention(""));
  EXPECT_EQ(d.action, Decision::Action::kOpen);
  EXPECT_EQ(d.rule, "default");
}

TEST(RuleDecide, InvalidUtf8IsMatchedAroundTheBadBytes) {
  EXPECT_EQ(shipped().decide(mention("\xff\xfe 육교 \xc3")).rule, "footbridge");
}

TEST(RuleDecide, HundredKilobyteTextIsDecided) {
  std::string text = "포트홀 ";
  while (text.size() < 100 * 1024) text += "가나다라 ";
  EXPECT_EQ(shipped().decide(mention(text)).rule, "road-damage");
}

// --- Matching ---

const std::string kFootbridgeRule =
    "  - name: footbridge\n"
    "    match: {any: [육교, footbridge]}\n"
    "    department: roads\n";

TEST(RuleMatch, NfcAndDecomposedHangulMatchTheSame) {
  const RuleSet rules = load(with_default(kFootbridgeRule));
  // 육교 as conjoining jamo (NFD): ᄋ ᅲ ᆨ ᄀ ᅭ
  const std::string decomposed = "\u110B\u1172\u11A8\u1100\u116D";
  EXPECT_EQ(rules.decide(mention("만리재로 " + decomposed + "에 구멍")).rule, "footbridge");
}

TEST(RuleMatch, DecomposedKeywordMatchesComposedText) {
  const RuleSet rules =
      load(with_default("  - name: fb\n"
                        "    match: {any: [\"\u110B\u1172\u11A8\u1100\u116D\"]}\n"
                        "    department: roads\n"));
  EXPECT_EQ(rules.decide(mention("육교")).rule, "fb");
}

TEST(RuleMatch, KeywordMatchingIgnoresCase) {
  const RuleSet rules = load(with_default(kFootbridgeRule));
  EXPECT_EQ(rules.decide(mention("The FootBridge is broken")).rule, "footbridge");
}

TEST(RuleMatch, AllRequiresEveryKeyword) {
  const RuleSet rules =
      load(with_default("  - name: bus-wages\n"
                        "    match: {all: [버스, 임금]}\n"
                        "    department: transport\n"));
  EXPECT_EQ(rules.decide(mention("밀린 임금을 받지 못하는 버스 운전사입니다")).rule, "bus-wages");
  EXPECT_EQ(rules.decide(mention("버스가 늦어요")).rule, "default");
}

TEST(RuleMatch, NoneVetoesTheRule) {
  const RuleSet rules =
      load(with_default("  - name: footbridge\n"
                        "    match: {any: [육교], none: [체육교]}\n"
                        "    department: roads\n"));
  EXPECT_EQ(rules.decide(mention("체육교사 채용")).rule, "default");
}

TEST(RuleMatch, FirstMatchingRuleWins) {
  const RuleSet rules =
      load(with_default("  - name: first\n"
                        "    match: {any: [버스]}\n"
                        "    department: transport\n"
                        "  - name: second\n"
                        "    match: {any: [버스]}\n"
                        "    department: roads\n"));
  EXPECT_EQ(rules.decide(mention("버스")).rule, "first");
}

TEST(RuleMatch, SpacedKeywordMatchesOnlyWholeWord) {
  const RuleSet rules =
      load(with_default("  - name: bus\n"
                        "    match: {any: [\" bus \"]}\n"
                        "    department: transport\n"));
  EXPECT_EQ(rules.decide(mention("Bus 140 is late")).rule, "bus");
  EXPECT_EQ(rules.decide(mention("waiting for the bus.")).rule, "bus");
  EXPECT_EQ(rules.decide(mention("busy business")).rule, "default");
}

TEST(RuleMatch, PunctuationAndLineBreaksMatchAsSpaces) {
  const RuleSet rules =
      load(with_default("  - name: gas\n"
                        "    match: {any: [가스 냄새, can't find my child]}\n"
                        "    department: safety\n"));
  EXPECT_EQ(rules.decide(mention("가스\n\n냄새가 나요")).rule, "gas");
  EXPECT_EQ(rules.decide(mention("I can\u2019t find my child")).rule, "gas");
}

// --- The default block and the merge ---

TEST(RuleMerge, RuleWithoutDepartmentTakesTheDefaults) {
  const RuleSet rules = load(
      "rules:\n"
      "  - name: general-bus\n"
      "    match: {any: [버스]}\n"
      "default:\n"
      "  department: civil-affairs\n"
      "  category: misc\n"
      "  priority: low\n"
      "  template: ack_plain\n");
  const Decision d = rules.decide(mention("버스"));
  EXPECT_EQ(d.rule, "general-bus");
  EXPECT_EQ(d.department, "civil-affairs");
  EXPECT_EQ(d.category, "misc");
  EXPECT_EQ(d.priority, Priority::kLow);
  EXPECT_EQ(d.template_key, "ack_plain");
}

TEST(RuleMerge, UrgentRuleWithoutTemplateGetsAckUrgent) {
  const RuleSet rules =
      load(with_default("  - name: fire\n"
                        "    match: {any: [화재]}\n"
                        "    priority: urgent\n"));
  EXPECT_EQ(rules.decide(mention("화재")).template_key, "ack_urgent");
}

TEST(RuleMerge, RuleFieldsOverrideTheDefault) {
  const RuleSet rules =
      load(with_default("  - name: fire\n"
                        "    match: {any: [화재]}\n"
                        "    department: safety\n"
                        "    category: fire\n"
                        "    priority: high\n"
                        "    template: ack_fire\n"));
  const Decision d = rules.decide(mention("화재"));
  EXPECT_EQ(d.department, "safety");
  EXPECT_EQ(d.category, "fire");
  EXPECT_EQ(d.priority, Priority::kHigh);
  EXPECT_EQ(d.template_key, "ack_fire");
}

TEST(RuleMerge, DefaultAloneFillsCategoryPriorityAndTemplate) {
  const RuleSet rules = load("default:\n  department: civil-affairs\n");
  const Decision d = rules.decide(mention("anything"));
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.category, "general");
  EXPECT_EQ(d.priority, Priority::kNormal);
  EXPECT_EQ(d.template_key, "ack");
}

TEST(RuleMerge, DepartmentsAndTemplateKeysListEveryTarget) {
  const RuleSet rules =
      load(with_default("  - name: fire\n"
                        "    match: {any: [화재]}\n"
                        "    department: safety\n"
                        "    priority: urgent\n"));
  EXPECT_EQ(rules.departments(), (std::vector<std::string>{"civil-affairs", "safety"}));
  EXPECT_EQ(rules.template_keys(), (std::vector<std::string>{"ack", "ack_urgent"}));
}

// --- Load errors ---

TEST(RuleLoad, UnknownFieldIsErrorWithLineAndColumn) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "    departmnet: transport\n")),
            "test.yaml:4:5: unknown field \"departmnet\" (known: name, match, department, "
            "category, priority, template, tags, ignore, hide, notify, continue)");
}

TEST(RuleLoad, UnknownMatchFieldIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [bus], either: [bus]}\n")),
            "test.yaml:3:25: unknown field \"either\" (known: any, all, none, patterns, "
            "hashtags, language, visibility, platform, account, authors, neighbourhood, time)");
}

TEST(RuleLoad, UnknownTopLevelFieldIsError) {
  EXPECT_NE(load_error("rule:\n  - name: x\n").find("test.yaml:1:1: unknown field \"rule\""),
            std::string::npos);
}

TEST(RuleLoad, WrongTypeIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "    department: [transport, roads]\n")),
            "test.yaml:4:17: department must be text, not a list");
}

TEST(RuleLoad, EmptyKeywordListIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: []}\n")),
            "test.yaml:3:18: match.any is an empty list");
}

TEST(RuleLoad, KeywordsMustBeAList) {
  EXPECT_NE(load_error(with_default("  - name: bus\n"
                                    "    match: {any: 버스}\n"))
                .find("test.yaml:3:18: match.any must be a list of keywords"),
            std::string::npos);
}

TEST(RuleLoad, PunctuationOnlyKeywordIsError) {
  EXPECT_NE(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [\"?!\"]}\n"))
                .find("has no letters or digits"),
            std::string::npos);
}

TEST(RuleLoad, UnknownPriorityIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "    priority: urgnet\n")),
            "test.yaml:4:15: unknown priority \"urgnet\" (known: urgent, high, normal, low)");
}

TEST(RuleLoad, RuleWithoutNameIsError) {
  EXPECT_EQ(load_error(with_default("  - match: {any: [버스]}\n")),
            "test.yaml:2:5: rule has no name");
}

TEST(RuleLoad, RuleWithoutMatchIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n")),
            "test.yaml:2:5: rule \"bus\" has no match");
}

TEST(RuleLoad, NoneAloneIsError) {
  EXPECT_NE(load_error(with_default("  - name: bus\n"
                                    "    match: {none: [버스]}\n"))
                .find("match needs any or all"),
            std::string::npos);
}

TEST(RuleLoad, DepartmentMustBeAnId) {
  EXPECT_NE(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "    department: Traffic Dept\n"))
                .find("test.yaml:4:17: department \"Traffic Dept\" is not an id"),
            std::string::npos);
}

TEST(RuleLoad, DefaultNameIsReserved) {
  EXPECT_NE(load_error(with_default("  - name: default\n"
                                    "    match: {any: [버스]}\n"))
                .find("reserved"),
            std::string::npos);
}

TEST(RuleLoad, DuplicateRuleNameNamesBothPlaces) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "  - name: bus\n"
                                    "    match: {any: [bus]}\n")),
            "test.yaml:4:5: rule name \"bus\" is already used at test.yaml:2:5");
}

TEST(RuleLoad, RepeatedFieldIsError) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    match: {any: [버스]}\n"
                                    "    name: taxi\n")),
            "test.yaml:4:5: field \"name\" given twice (first at line 2)");
}

TEST(RuleLoad, MissingDefaultIsError) {
  EXPECT_NE(
      load_error("rules:\n  - name: bus\n    match: {any: [버스]}\n    department: transport\n")
          .find("no default block"),
      std::string::npos);
}

TEST(RuleLoad, DefaultWithoutDepartmentIsError) {
  EXPECT_EQ(load_error("default:\n  category: general\n"),
            "test.yaml:2:3: default has no department (it routes the mentions no rule matches)");
}

TEST(RuleLoad, YamlSyntaxErrorHasLineAndColumn) {
  EXPECT_EQ(load_error("rules:\n  - name: bus: x\n"), "test.yaml:2:14: illegal map value");
}

TEST(RuleLoad, FieldWithoutValueIsErrorAtTheField) {
  EXPECT_EQ(load_error(with_default("  - name: bus\n"
                                    "    department:\n"
                                    "    match: {any: [bus]}\n")),
            "test.yaml:3:5: field \"department\" has no value");
}

TEST(RuleLoad, AliasIsRejected) {
  const std::string bomb =
      "a: &a [x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
  EXPECT_NE(load_error(bomb).find("test.yaml:2:8: aliases (*name) are not allowed"),
            std::string::npos);
}

TEST(RuleLoad, DeepNestingIsRejected) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_NE(load_error(deep).find("nested more than"), std::string::npos);
}

TEST(RuleLoad, FileOverOneMebibyteIsRejected) {
  std::string huge = "# " + std::string(1024 * 1024, 'x') + "\n" + with_default("");
  EXPECT_NE(load_error(huge).find("larger than 1024 KiB"), std::string::npos);
}

TEST(RuleLoad, InvalidUtf8FileIsRejectedWithPosition) {
  EXPECT_EQ(load_error(with_default("  - name: b\xff\n    match: {any: [x]}\n")),
            "test.yaml:2:12: not valid UTF-8 text (save the file as UTF-8)");
}

TEST(RuleLoad, SecondDocumentIsRejected) {
  EXPECT_NE(
      load_error(with_default("") + "---\n" + with_default("")).find("only one YAML document"),
      std::string::npos);
}

// --- Folders ---

TEST(RuleDir, FilesAreReadInNameOrder) {
  TempDir dir;
  dir.write("20-late.yaml",
            "rules:\n  - name: late\n    match: {any: [버스]}\n    department: roads\n");
  dir.write("10-early.yaml",
            "rules:\n  - name: early\n    match: {any: [버스]}\n    department: transport\n");
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_TRUE(rules.ok()) << rules.error();
  EXPECT_EQ(rules->decide(mention("버스")).rule, "early");
}

TEST(RuleDir, OtherFilesAreIgnored) {
  TempDir dir;
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  dir.write("README.md", "rules: [broken");
  dir.write("10-bus.yaml.bak", "rules: [broken");
  dir.write(".10-bus.yaml", "rules: [broken");
  EXPECT_TRUE(RuleSet::load_dir(dir.path()).ok());
}

TEST(RuleDir, EmptyFileContributesNothing) {
  TempDir dir;
  dir.write("50-empty.yaml", "# nothing here yet\n");
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_TRUE(rules.ok()) << rules.error();
  EXPECT_EQ(rules->size(), 0u);
}

TEST(RuleDir, TwoDefaultsNameBothPlaces) {
  TempDir dir;
  const auto first = dir.write("10-a.yaml", "default:\n  department: roads\n");
  const auto second = dir.write("90-b.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error(), second.string() + ":2:3: a second default block (the first is at " +
                               first.string() + ":2:3); exactly one file may define default");
}

TEST(RuleDir, ErrorNamesTheFile) {
  TempDir dir;
  const auto bad = dir.write("20-transport.yaml",
                             "rules:\n  - name: bus\n    match: {any: [버스]}\n    prio: high\n");
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error().rfind(bad.string() + ":4:5: unknown field \"prio\"", 0), 0u);
}

TEST(RuleDir, OversizedFileIsRejected) {
  TempDir dir;
  dir.write("10-huge.yaml", std::string(1024 * 1024 + 1, '#'));
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.error().find("larger than"), std::string::npos);
}

TEST(RuleDir, MissingFolderIsError) {
  auto rules = RuleSet::load_dir("/nonexistent/sotong/rules");
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.error().find("/nonexistent/sotong/rules"), std::string::npos);
}

// --- Every error at once ---

TEST(RuleErrors, BadPatternNamesRe2sMessage) {
  EXPECT_EQ(load_error(with_default("  - name: bad\n"
                                    "    match: {patterns: [\"(a\"]}\n")),
            "test.yaml:3:24: pattern \"(a\" is not valid RE2: missing ): (a");
}

TEST(RuleErrors, UnknownNeighbourhoodListNamesTheKnownOnes) {
  EXPECT_EQ(load_error("neighbourhoods:\n"
                       "  songpa: [잠실동]\n" +
                       with_default("  - name: gangnam\n"
                                    "    match: {neighbourhood: gangnam}\n")),
            "test.yaml:5:28: unknown neighbourhood list \"gangnam\" (known: songpa)");
}

TEST(RuleErrors, NeighbourhoodWithoutListsSaysSo) {
  EXPECT_EQ(load_error(with_default("  - name: gangnam\n"
                                    "    match: {neighbourhood: [gangnam]}\n")),
            "test.yaml:3:29: unknown neighbourhood list \"gangnam\" (no file has a "
            "neighbourhoods: block)");
}

TEST(RuleErrors, IgnoreRuleWithDepartmentIsFine) {
  const RuleSet rules =
      load(with_default("  - name: spam\n"
                        "    match: {any: [카지노사이트]}\n"
                        "    ignore: gambling spam\n"
                        "    department: roads\n"));
  EXPECT_EQ(rules.size(), 1u);
}

TEST(RuleErrors, MissingDefaultIsExact) {
  EXPECT_EQ(load_error("rules:\n  - name: bus\n    match: {any: [버스]}\n"),
            "test.yaml: no default block; exactly one file must define default: with at least a "
            "department (it routes the mentions no rule matches)");
}

TEST(RuleErrors, TwoDefaultsInOneSetNameTheFirst) {
  TempDir dir;
  const auto first = dir.write("10-a.yaml", "default:\n  department: roads\n");
  const auto second = dir.write("20-b.yaml", "default:\n  department: roads\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error(), second.string() + ":2:3: a second default block (the first is at " +
                               first.string() + ":2:3); exactly one file may define default");
}

TEST(RuleErrors, ContinueWithIgnoreIsError) {
  EXPECT_EQ(load_error(with_default("  - name: spam\n"
                                    "    match: {any: [광고]}\n"
                                    "    ignore: spam\n"
                                    "    continue: true\n")),
            "test.yaml:5:15: continue: true does not go with ignore (an ignore rule stops "
            "matching)");
}

TEST(RuleErrors, BadTimeOfDayIsError) {
  EXPECT_EQ(load_error(with_default("  - name: night\n"
                                    "    match: {time: {from: \"25:00\", to: \"06:00\"}}\n"
                                    "    tags: [night]\n")),
            "test.yaml:3:26: from \"25:00\" is not a time of day (HH:MM, 00:00 to 23:59)");
}

TEST(RuleErrors, UnknownPlatformIsError) {
  EXPECT_EQ(load_error(with_default("  - name: tw\n"
                                    "    match: {platform: [twitter]}\n")),
            "test.yaml:3:24: unknown platform \"twitter\" (known: mastodon, x)");
}

TEST(RuleErrors, EveryErrorInAFileIsReported) {
  const std::string yaml =
      "rules:\n"
      "  - name: a\n"                                          // 2
      "    match: {any: [버스]}\n"                             // 3
      "    prio: high\n"                                       // 4: unknown field
      "    priority: soon\n"                                   // 5: bad priority
      "  - name: b\n"                                          // 6
      "    match: {patterns: [\"[\"], platform: [myspace]}\n"  // 7: bad RE2, bad platform
      "  - name: a\n"                                          // 8: duplicate
      "    match: {time: {from: \"22:00\", to: \"24:30\"}}\n"  // 9: bad time
      "  - name: c\n"                                          // 10
      "    match: {any: [광고]}\n"                             // 11
      "    ignore: spam\n"                                     // 12
      "    continue: true\n";                                  // 13: continue with ignore
  EXPECT_EQ(load_error(yaml),
            "test.yaml:4:5: unknown field \"prio\" (known: name, match, department, category, "
            "priority, template, tags, ignore, hide, notify, continue)\n"
            "test.yaml:5:15: unknown priority \"soon\" (known: urgent, high, normal, low)\n"
            "test.yaml:7:24: pattern \"[\" is not valid RE2: missing ]: [\n"
            "test.yaml:7:41: unknown platform \"myspace\" (known: mastodon, x)\n"
            "test.yaml:9:39: to \"24:30\" is not a time of day (HH:MM, 00:00 to 24:00)\n"
            "test.yaml:8:5: rule name \"a\" is already used at test.yaml:2:5\n"
            "test.yaml:13:15: continue: true does not go with ignore (an ignore rule stops "
            "matching)\n"
            "test.yaml: no default block; exactly one file must define default: with at least a "
            "department (it routes the mentions no rule matches)");
}

TEST(RuleErrors, EveryBadFileIsReported) {
  TempDir dir;
  const auto broken = dir.write("10-broken.yaml", "rules:\n  - name: bus: x\n");
  const auto bad =
      dir.write("20-bad.yaml", "rules:\n  - name: bus\n    match: {any: [버스]}\n    prio: high\n");
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error(), broken.string() + ":2:14: illegal map value\n" + bad.string() +
                               ":4:5: unknown field \"prio\" (known: name, match, department, "
                               "category, priority, template, tags, ignore, hide, notify, "
                               "continue)");
}

TEST(RuleErrors, AnUnreadableFileDoesNotAlsoClaimTheDefaultIsMissing) {
  TempDir dir;
  const auto broken = dir.write("90-default.yaml", "default: [\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error().find("no default block"), std::string::npos) << rules.error();
}

TEST(RuleErrors, ThousandsOfErrorsAreCutAtAHundredLines) {
  std::string yaml = "rules:\n";
  for (int i = 0; i < 150; ++i) {
    yaml += "  - name: r" + std::to_string(i) + "\n    match: {any: [x]}\n    priority: x\n";
  }
  const std::string error = load_error(with_default(yaml.substr(7)));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 100);
  EXPECT_NE(error.find("\n… and 50 more errors"), std::string::npos);
}

TEST(RuleErrors, BadListInNeighbourhoodsIsNotAlsoUnknown) {
  EXPECT_EQ(load_error("neighbourhoods:\n"
                       "  songpa: 잠실동\n" +
                       with_default("  - name: s\n"
                                    "    match: {neighbourhood: songpa}\n")),
            "test.yaml:2:11: neighbourhoods.songpa must be a list of keywords, e.g. [육교, "
            "footbridge]");
}

TEST(RuleErrors, SecondReopenBlockIsError) {
  TempDir dir;
  const auto first = dir.write("10-a.yaml", "reopen: {any: [아직]}\n");
  const auto second = dir.write("20-b.yaml", "reopen: {any: [still]}\n");
  dir.write("90-default.yaml", "default:\n  department: civil-affairs\n");
  auto rules = RuleSet::load_dir(dir.path());
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.error(), second.string() + ":1:9: a second reopen block (the first is at " +
                               first.string() + ":1:9); at most one file may define reopen");
}

TEST(RuleErrors, ReopenTakesOnlyTextConditions) {
  EXPECT_EQ(load_error("reopen: {any: [아직], platform: [x]}\n" + kDefaultOnly),
            "test.yaml:1:25: unknown field \"platform\" (known: any, all, none, patterns)");
}

TEST(RuleErrors, PatternMatchingEmptyTextIsError) {
  EXPECT_EQ(load_error(with_default("  - name: all\n"
                                    "    match: {patterns: [\"x*\"]}\n")),
            "test.yaml:3:24: pattern \"x*\" matches an empty text, so it would match every "
            "mention");
}

TEST(RuleErrors, OverlongPatternIsError) {
  EXPECT_NE(load_error(with_default("  - name: long\n"
                                    "    match: {patterns: [\"" +
                                    std::string(1001, 'a') + "\"]}\n"))
                .find("pattern longer than 1000 bytes"),
            std::string::npos);
}

TEST(RuleErrors, HugeRepetitionIsRefusedByRe2) {
  EXPECT_NE(load_error(with_default("  - name: big\n"
                                    "    match: {patterns: [\"\\\\p{L}{1000}\"]}\n"))
                .find("is not valid RE2: pattern too large"),
            std::string::npos);
}

TEST(RuleErrors, HashtagWithSpaceIsError) {
  EXPECT_EQ(load_error(with_default("  - name: tag\n"
                                    "    match: {hashtags: [\"송파 구\"]}\n")),
            "test.yaml:3:24: hashtag \"송파 구\" may hold only letters, digits and _ (no spaces)");
}

TEST(RuleErrors, UnknownDayIsError) {
  EXPECT_EQ(load_error(with_default("  - name: t\n"
                                    "    match: {time: {days: [monday]}}\n")),
            "test.yaml:3:27: unknown day \"monday\" (known: mon, tue, wed, thu, fri, sat, sun, "
            "a range like mon-fri, daily, holiday)");
}

TEST(RuleErrors, FromWithoutToIsError) {
  EXPECT_EQ(load_error(with_default("  - name: t\n"
                                    "    match: {time: {from: \"09:00\"}}\n")),
            "test.yaml:3:19: time needs both from and to, or neither (all day)");
}

TEST(RuleErrors, BadTagIsError) {
  EXPECT_EQ(load_error(with_default("  - name: t\n"
                                    "    match: {any: [x]}\n"
                                    "    tags: [Night]\n")),
            "test.yaml:4:12: tag \"Night\" is not an id: lower-case letters, digits, \"-\" and "
            "\"_\", e.g. night");
}

TEST(RuleErrors, FlagMustBeTrueOrFalse) {
  EXPECT_EQ(load_error(with_default("  - name: t\n"
                                    "    match: {any: [x]}\n"
                                    "    hide: yes please\n")),
            "test.yaml:4:11: hide must be true or false");
}

// --- The shipped files' new features ---

TEST(ShippedRules, AbuseIsHiddenAndTaggedButStillRouted) {
  const Decision d = shipped().decide(mention("씨발 육교에 구멍이 났는데 언제 고쳐요"));
  EXPECT_TRUE(d.hide);
  EXPECT_EQ(d.tags, std::vector<std::string>{"abuse"});
  EXPECT_EQ(d.rule, "footbridge");
  EXPECT_EQ(d.department, "roads");
}

TEST(ShippedRules, SpacedOutSwearingIsHidden) {
  EXPECT_TRUE(shipped().decide(mention("씨 발 진짜 너무하네")).hide);
  EXPECT_TRUE(shipped().decide(mention("개 새 끼 들")).hide);
  EXPECT_TRUE(shipped().decide(mention("What the FUCK is this")).hide);
}

TEST(ShippedRules, OrdinaryWordsAreNotAbuse) {
  for (const char* text : {"시발점에서 출발하는 버스", "병신년 이야기", "Scunthorpe bus",
                           "꺼지지 않는 가로등", "씨앗 발아 체험 신청", "The bitcoin ATM"}) {
    EXPECT_FALSE(shipped().decide(mention(text)).hide) << text;
  }
}

TEST(ShippedRules, NightMentionsAreTagged) {
  Mention m = mention("버스가 안 와요");
  m.created_at_ms = test_support::seoul(2025, 11, 19, 23, 10);
  EXPECT_EQ(shipped().decide(m).tags, std::vector<std::string>{"night"});
  m.created_at_ms = test_support::seoul(2025, 11, 20, 5, 59);
  EXPECT_EQ(shipped().decide(m).tags, std::vector<std::string>{"night"});
  m.created_at_ms = test_support::seoul(2025, 11, 20, 6, 0);
  EXPECT_TRUE(shipped().decide(m).tags.empty());
  EXPECT_EQ(shipped().decide(m).rule, "bus");
}

TEST(ShippedRules, SongpaPlacesAreTaggedAndNamed) {
  const Decision d = shipped().decide(mention("잠실동 육교에 구멍이 났어요"));
  EXPECT_EQ(d.tags, std::vector<std::string>{"songpa"});
  EXPECT_EQ(d.neighbourhood, "잠실동");
  EXPECT_EQ(d.rule, "footbridge");
  EXPECT_EQ(d.matched, (std::vector<std::string>{"songpa", "footbridge"}));
  EXPECT_EQ(shipped().decide(mention("문정2동 주민센터 앞 불법주차")).neighbourhood, "문정2동");
  EXPECT_EQ(shipped().neighbourhood_list_count(), 1u);
}

TEST(ShippedRules, ReplyStillBrokenReopens) {
  std::string why;
  EXPECT_TRUE(shipped().reopens(mention("아직도 그대로예요"), &why));
  EXPECT_EQ(why, "any: found \"아직\"");
  EXPECT_TRUE(shipped().reopens(mention("It is still not fixed")));
  EXPECT_FALSE(shipped().reopens(mention("빨리 고쳐주셔서 감사합니다")));
  EXPECT_FALSE(shipped().reopens(mention("아직 확인은 못 했지만 감사합니다")));
}

TEST(ShippedRules, NothingIsIgnoredOrHiddenByDefault) {
  for (const char* text : {"", "#송파", "육교", "Thank you!"}) {
    const Decision d = shipped().decide(mention(text));
    EXPECT_EQ(d.action, Decision::Action::kOpen) << text;
    EXPECT_FALSE(d.hide) << text;
  }
}

}  // namespace
}  // namespace sotong
