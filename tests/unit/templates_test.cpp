#include "daemon/templates.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "daemon/rules.hpp"
#include "daemon/text/unicode.hpp"
#include "tests/unit/temp_dir.hpp"

namespace sotong {
namespace {

using test_support::TempDir;

const std::filesystem::path kShipped = std::filesystem::path(SOTONG_SOURCE_DIR) / "templates";

const TemplateSet& shipped() {
  static const TemplateSet set = [] {
    auto r = TemplateSet::load_dir(kShipped, "ko");
    if (!r) ADD_FAILURE() << r.error();
    return r ? std::move(r).value() : TemplateSet{};
  }();
  return set;
}

TemplateVars vars(const std::string& ticket) {
  return {{"author", "citizen1"},
          {"ticket", ticket},
          {"department", "재난안전과"},
          {"category", "fire"},
          {"resolution", "현장을 확인하고 보수를 마쳤습니다."}};
}

// Every variant of a key in a language: rendered for enough tickets to hit each one.
std::set<std::string> all_renderings(std::string_view key, std::string_view lang) {
  std::set<std::string> out;
  for (int i = 0; i < 200; ++i) {
    auto r = shipped().render(key, lang, vars("SP-1"), "SP-" + std::to_string(1000 + i));
    EXPECT_TRUE(r.ok()) << r.error();
    if (r) out.insert(*r);
  }
  return out;
}

const std::string kMinimal =
    "templates:\n"
    "  ack: \"{{author}}님, 접수번호 {{ticket}}\"\n"
    "  ack_urgent: \"112, 119 {{ticket}}\"\n"
    "  followup: \"{{ticket}}: {{resolution}}\"\n";

// A folder with ko.yaml (kMinimal plus `extra` templates) and, if given, other files.
std::string ko_file(const std::string& extra = "") {
  return "language: ko\n" + kMinimal + extra;
}

std::string load_error(const std::string& file, const std::string& content) {
  TempDir dir;
  if (file != "ko.yaml") dir.write("ko.yaml", ko_file());
  const auto path = dir.write(file, content);
  auto r = TemplateSet::load_dir(dir.path(), "ko");
  EXPECT_FALSE(r.ok());
  if (r) return {};
  // Messages start with the full path; tests compare what follows the folder.
  std::string e = r.error();
  const std::string prefix = (dir.path() / "").string();
  for (auto at = e.find(prefix); at != std::string::npos; at = e.find(prefix, at))
    e.erase(at, prefix.size());
  return e;
}

// --- The shipped templates ---

TEST(ShippedTemplates, LoadKoreanAndEnglish) {
  auto r = TemplateSet::load_dir(kShipped, "ko");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->languages(), (std::vector<std::string>{"en", "ko"}));
}

TEST(ShippedTemplates, AcknowledgementsHaveSeveralVariants) {
  for (const char* lang : {"ko", "en"}) {
    EXPECT_GE(all_renderings("ack", lang).size(), 2u) << lang;
    EXPECT_EQ(all_renderings("ack_urgent", lang).size(), 2u) << lang;
    EXPECT_EQ(all_renderings("followup", lang).size(), 2u) << lang;
  }
}

TEST(ShippedTemplates, EveryReplyCarriesTheTicketNumber) {
  for (const char* lang : {"ko", "en"}) {
    for (const char* key : {"ack", "ack_urgent", "followup"}) {
      for (int i = 0; i < 50; ++i) {
        const std::string ticket = "SP-" + std::to_string(7000 + i);
        auto r = shipped().render(key, lang, vars(ticket), ticket);
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_NE(r->find(ticket), std::string::npos) << lang << " " << key << ": " << *r;
      }
    }
  }
}

TEST(ShippedTemplates, UrgentAckTellsToCall112And119) {
  for (const char* lang : {"ko", "en"}) {
    for (const auto& text : all_renderings("ack_urgent", lang)) {
      EXPECT_NE(text.find("112"), std::string::npos) << text;
      EXPECT_NE(text.find("119"), std::string::npos) << text;
    }
  }
}

TEST(ShippedTemplates, FollowupCarriesTheResolution) {
  for (const char* lang : {"ko", "en"}) {
    for (const auto& text : all_renderings("followup", lang)) {
      EXPECT_NE(text.find("현장을 확인하고 보수를 마쳤습니다."), std::string::npos) << text;
    }
  }
}

TEST(ShippedTemplates, NoReplyMentionsAnyone) {
  for (const char* lang : {"ko", "en"}) {
    for (const char* key : {"ack", "ack_urgent", "followup"}) {
      for (const auto& text : all_renderings(key, lang)) {
        EXPECT_EQ(text.find('@'), std::string::npos) << text;
      }
    }
  }
}

TEST(ShippedTemplates, AcknowledgementsStayWellUnderFiveHundredCharacters) {
  TemplateVars long_vars = vars("SP-2024-000001");
  long_vars["author"] = std::string(30, 'a');  // Mastodon's longest user name
  long_vars["department"] = "도시교통실 보행친화기획관 보행정책과";
  for (const char* lang : {"ko", "en"}) {
    for (const char* key : {"ack", "ack_urgent"}) {
      for (int i = 0; i < 50; ++i) {
        auto r = shipped().render(key, lang, long_vars, std::to_string(i));
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_LT(text::grapheme_count(*r), 300u) << *r;
      }
    }
  }
}

TEST(ShippedTemplates, EveryShippedRuleTemplateExists) {
  auto rules = RuleSet::load_dir(std::filesystem::path(SOTONG_SOURCE_DIR) / "rules");
  ASSERT_TRUE(rules.ok()) << rules.error();
  for (const auto& key : rules->template_keys()) EXPECT_TRUE(shipped().has_key(key)) << key;
}

// --- Rendering ---

TEST(TemplateRender, VariantChoiceIsDeterministicPerTicket) {
  auto again = TemplateSet::load_dir(kShipped, "ko");
  ASSERT_TRUE(again.ok()) << again.error();
  for (int i = 0; i < 20; ++i) {
    const std::string ticket = "SP-" + std::to_string(i);
    auto a = shipped().render("ack", "ko", vars(ticket), ticket);
    auto b = again->render("ack", "ko", vars(ticket), ticket);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
  }
}

TEST(TemplateRender, SpacesInsideBracesAreAllowed) {
  TempDir dir;
  dir.write("ko.yaml", ko_file("  spaced: \"[{{ ticket }}] [{{\tauthor}}]\"\n"));
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_TRUE(set.ok()) << set.error();
  auto r = set->render("spaced", "ko", vars("SP-1"), "SP-1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, "[SP-1] [citizen1]");
}

TEST(TemplateRender, SingleBracesAreText) {
  TempDir dir;
  dir.write("ko.yaml", ko_file("  braces: \"{ticket} {{ticket}}\"\n"));
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(*set->render("braces", "ko", vars("SP-1"), ""), "{ticket} SP-1");
}

TEST(TemplateRender, MissingVariableIsRenderError) {
  TemplateVars v = vars("SP-1");
  v.erase("resolution");
  auto r = shipped().render("followup", "ko", v, "SP-1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("{{resolution}}"), std::string::npos);
}

TEST(TemplateRender, UnknownKeyIsRenderError) {
  EXPECT_FALSE(shipped().render("no_such_key", "ko", vars("SP-1"), "SP-1").ok());
}

TEST(TemplateRender, RenderedTextIsNfc) {
  TemplateVars v = vars("SP-1");
  v["author"] = "\u1112\u1161\u11AB";  // 한 as conjoining jamo
  auto r = shipped().render("ack", "ko", v, "SP-1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_NE(r->find("한님"), std::string::npos) << *r;
}

TEST(TemplateRender, BlockTextLosesItsTrailingNewline) {
  TempDir dir;
  dir.write("ko.yaml", ko_file("  block: |\n    첫 줄 {{ticket}}\n    둘째 줄\n"));
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(*set->render("block", "ko", vars("SP-1"), ""), "첫 줄 SP-1\n둘째 줄");
}

// --- Languages ---

TEST(TemplateLanguage, LanguageFallsBackToKorean) {
  EXPECT_EQ(shipped().resolve_language("fr"), "ko");
  EXPECT_EQ(shipped().resolve_language(""), "ko");
  auto r = shipped().render("ack", "fr", vars("SP-1"), "SP-1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_NE(r->find("접수번호"), std::string::npos);
}

TEST(TemplateLanguage, RegionAndCaseAreIgnored) {
  EXPECT_EQ(shipped().resolve_language("ko-KR"), "ko");
  EXPECT_EQ(shipped().resolve_language("en_US"), "en");
  EXPECT_EQ(shipped().resolve_language("EN"), "en");
}

TEST(TemplateLanguage, KeyMissingInALanguageUsesTheFallbackText) {
  TempDir dir;
  dir.write("ko.yaml", ko_file("  ack_roads: \"도로 {{ticket}}\"\n"));
  dir.write("en.yaml", "language: en\n" + kMinimal);
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(*set->render("ack_roads", "en", vars("SP-1"), ""), "도로 SP-1");
}

TEST(TemplateLanguage, HasKeyMeansTheFallbackHasIt) {
  TempDir dir;
  dir.write("ko.yaml", ko_file());
  dir.write("en.yaml", "language: en\n" + kMinimal + "  ack_en_only: \"{{ticket}}\"\n");
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_TRUE(set->has_key("ack"));
  EXPECT_FALSE(set->has_key("ack_en_only"));
}

// --- Load errors ---

TEST(TemplateLoad, UnknownVariableIsLoadError) {
  EXPECT_EQ(load_error("ko.yaml", ko_file("  extra: \"접수번호 {{ tiket }}\"\n")),
            "ko.yaml:6:10: template \"extra\": unknown variable {{tiket}} (known: author, ticket, "
            "department, category, eta, status_url, resolution, next_business_time, comment)");
}

TEST(TemplateLoad, ResolutionOutsideAFollowupIsLoadError) {
  EXPECT_EQ(load_error("ko.yaml", ko_file("  reopened: \"{{ticket}} {{resolution}}\"\n")),
            "ko.yaml:6:13: template \"reopened\": {{resolution}} has a value only in followup "
            "templates");
}

TEST(TemplateLoad, EveryErrorInEveryFileIsReported) {
  TempDir dir;
  dir.write("ko.yaml", ko_file("  a: \"{{nope}}\"\n  b: [\"ok {{ticket}}\", \"}}\"]\n"));
  dir.write("en.yaml", "language: en\ntemplates:\n  ack: \"{{ticket}}\"\n");
  auto r = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_FALSE(r.ok());
  std::string e = r.error();
  const std::string prefix = (dir.path() / "").string();
  for (auto at = e.find(prefix); at != std::string::npos; at = e.find(prefix, at))
    e.erase(at, prefix.size());
  EXPECT_EQ(e,
            "en.yaml:3:3: missing the required template \"ack_urgent\"\n"
            "en.yaml:3:3: missing the required template \"followup\"\n"
            "ko.yaml:6:6: template \"a\": unknown variable {{nope}} (known: author, ticket, "
            "department, category, eta, status_url, resolution, next_business_time, comment)\n"
            "ko.yaml:7:24: template \"b\": \"}}\" without a matching \"{{\" (a variable is "
            "written {{ name }})");
}

TEST(TemplateLoad, UnclosedBracesAreLoadError) {
  EXPECT_NE(load_error("ko.yaml", ko_file("  extra: \"접수번호 {{ticket\"\n")).find("never closed"),
            std::string::npos);
}

TEST(TemplateLoad, StrayClosingBracesAreLoadError) {
  EXPECT_NE(
      load_error("ko.yaml", ko_file("  extra: \"접수번호 ticket}}\"\n")).find("without a matching"),
      std::string::npos);
}

TEST(TemplateLoad, MissingRequiredKeyIsLoadError) {
  EXPECT_EQ(load_error("en.yaml", "language: en\ntemplates:\n  ack: \"{{ticket}}\"\n"),
            "en.yaml:3:3: missing the required template \"ack_urgent\"\n"
            "en.yaml:3:3: missing the required template \"followup\"");
}

TEST(TemplateLoad, EmptyVariantListIsLoadError) {
  EXPECT_EQ(load_error("ko.yaml", ko_file("  extra: []\n")),
            "ko.yaml:6:10: template \"extra\" has no variants");
}

TEST(TemplateLoad, EmptyTemplateIsLoadError) {
  EXPECT_EQ(load_error("ko.yaml", ko_file("  extra:\n")),
            "ko.yaml:6:3: template \"extra\" has no text");
}

TEST(TemplateLoad, LanguageMustMatchFileName) {
  EXPECT_NE(
      load_error("en.yaml", "language: ko\n" + kMinimal).find("en.yaml:1:11: language \"ko\""),
      std::string::npos);
}

TEST(TemplateLoad, UnknownTopLevelFieldIsError) {
  EXPECT_EQ(load_error("en.yaml", "language: en\nlang: en\n" + kMinimal),
            "en.yaml:2:1: unknown field \"lang\" (known: language, templates)");
}

TEST(TemplateLoad, FallbackLanguageMustExist) {
  TempDir dir;
  dir.write("en.yaml", "language: en\n" + kMinimal);
  auto set = TemplateSet::load_dir(dir.path(), "ko");
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().find("fallback language \"ko\""), std::string::npos);
}

TEST(TemplateLoad, FileOverTheCapIsRejected) {
  EXPECT_NE(load_error("en.yaml", "# " + std::string(300 * 1024, 'x') + "\n").find("larger than"),
            std::string::npos);
}

TEST(TemplateLoad, AliasIsRejected) {
  EXPECT_NE(load_error("en.yaml",
                       "language: en\ntemplates:\n  ack: &a \"{{ticket}}\"\n  ack_urgent: *a\n")
                .find("aliases"),
            std::string::npos);
}

}  // namespace
}  // namespace sotong
