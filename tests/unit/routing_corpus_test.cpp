// The routing corpus (tests/data/routing_corpus.tsv): mentions as citizens write them, each with
// the routing a dispatcher would choose. Routed through the shipped rules, it prints the
// accuracy and every misroute, and fails on any urgent mistake in either direction or when
// fewer than 95% of the mentions reach the right department.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/rules.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/result.hpp"

namespace sotong {
namespace {

constexpr const char* kCorpusPath = SOTONG_SOURCE_DIR "/tests/data/routing_corpus.tsv";
// The demo account's handle: rows are written as posted, and the connectors remove it.
constexpr std::string_view kHandle = "songpaOK";
constexpr std::size_t kColumns = 6;  // id, lang, department, category, priority, text
constexpr std::size_t kMinRows = 200;
// One mention in twenty sent to the wrong department is already a desk citizens notice.
constexpr double kMinDepartmentAccuracy = 0.95;
// Long enough to recognise a mention in the misroute table, short enough to keep it one line.
constexpr std::size_t kShownGraphemes = 50;
// Bounds "{repeat N}" so a typo cannot make the test build gigabytes.
constexpr int kMaxRepeat = 1000;

struct CorpusRow {
  int line = 0;
  std::string id;
  std::string lang;
  std::string department;
  std::string category;
  Priority priority = Priority::kNormal;
  std::string text;  // decoded, our handle removed: what RuleSet::decide sees
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

// "\n" is a line break and "\\" a backslash; "{repeat N}rest" is rest N times, space-separated.
Result<std::string> decode_text(std::string_view raw) {
  int repeat = 1;
  constexpr std::string_view kRepeat = "{repeat ";
  if (raw.substr(0, kRepeat.size()) == kRepeat) {
    const auto close = raw.find('}');
    if (close == std::string_view::npos) return Error{"\"{repeat\" without \"}\""};
    const std::string n(raw.substr(kRepeat.size(), close - kRepeat.size()));
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 4 ||
        std::stoi(n) < 1 || std::stoi(n) > kMaxRepeat)
      return Error{"repeat count \"" + n + "\" is not a number from 1 to " +
                   std::to_string(kMaxRepeat)};
    repeat = std::stoi(n);
    raw.remove_prefix(close + 1);
  }
  std::string once;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      once += raw[i];
    } else if (i + 1 < raw.size() && (raw[i + 1] == 'n' || raw[i + 1] == '\\')) {
      once += raw[++i] == 'n' ? '\n' : '\\';
    } else {
      return Error{"unknown escape (known: \\n, \\\\)"};
    }
  }
  std::string text = once;
  for (int i = 1; i < repeat; ++i) text += " " + once;
  return text;
}

Result<std::vector<CorpusRow>> parse_corpus(std::istream& in) {
  std::vector<CorpusRow> rows;
  std::set<std::string> ids;
  std::string line;
  bool header_seen = false;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto at = "line " + std::to_string(n) + ": ";
    if (line.empty() || line[0] == '#') continue;
    const auto cols = split_tabs(line);
    if (cols.size() != kColumns)
      return Error{at + "expected " + std::to_string(kColumns) +
                   " tab-separated columns (id, lang, department, category, priority, text), " +
                   "found " + std::to_string(cols.size())};
    if (!header_seen) {
      header_seen = true;
      if (cols[0] == "id") continue;
      return Error{at + "expected the header line (id, lang, department, ...)"};
    }
    CorpusRow r;
    r.line = n;
    r.id = cols[0];
    r.lang = cols[1];
    r.department = cols[2];
    r.category = cols[3];
    if (r.id.empty() || r.department.empty() || r.category.empty())
      return Error{at + "id, department and category must not be empty"};
    if (!ids.insert(r.id).second) return Error{at + "id \"" + r.id + "\" is used twice"};
    if (r.lang != "ko" && r.lang != "en")
      return Error{at + "unknown lang \"" + r.lang + "\" (known: ko, en)"};
    const auto priority = parse_priority(cols[4]);
    if (!priority)
      return Error{at + "unknown priority \"" + cols[4] + "\" (known: urgent, high, normal, low)"};
    r.priority = *priority;
    auto text = decode_text(cols[5]);
    if (!text) return Error{at + text.error()};
    r.text = text::remove_mentions_of(std::move(text).value(), kHandle);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string parse_error(const std::string& tsv) {
  std::istringstream in(tsv);
  auto rows = parse_corpus(in);
  return rows ? std::string("(parsed)") : rows.error();
}

const RuleSet& shipped() {
  static const RuleSet rules = [] {
    auto r = RuleSet::load_dir(SOTONG_SOURCE_DIR "/rules");
    if (!r) ADD_FAILURE() << r.error();
    return r ? std::move(r).value() : RuleSet{};
  }();
  return rules;
}

const std::vector<CorpusRow>& corpus() {
  static const std::vector<CorpusRow> rows = [] {
    std::ifstream in(kCorpusPath);
    if (!in) ADD_FAILURE() << kCorpusPath << " is missing";
    auto r = parse_corpus(in);
    if (!r) ADD_FAILURE() << kCorpusPath << ": " << r.error();
    return r ? std::move(r).value() : std::vector<CorpusRow>{};
  }();
  return rows;
}

struct Routed {
  const CorpusRow* row;
  Decision got;
  bool department_ok() const { return got.department == row->department; }
  bool full_ok() const {
    return department_ok() && got.category == row->category && got.priority == row->priority;
  }
};

std::vector<Routed> route_corpus() {
  std::vector<Routed> out;
  for (const auto& row : corpus()) {
    Mention m;
    m.platform = "mastodon";
    m.author = "citizen";
    m.text = row.text;
    m.language = row.lang;
    out.push_back({&row, shipped().decide(m)});
  }
  return out;
}

std::string routing(std::string_view department, std::string_view category, Priority p) {
  return std::string(department) + "/" + std::string(category) + "/" + std::string(to_string(p));
}

std::string shown(const std::string& text) {
  std::string s(text::grapheme_prefix(text, kShownGraphemes));
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s.size() < text.size() ? s + "…" : s;
}

// --- The corpus against the shipped rules ---

TEST(RoutingCorpus, RoutesMostMentionsToTheRightDepartment) {
  const auto routed = route_corpus();
  ASSERT_FALSE(routed.empty());
  std::size_t department_ok = 0;
  std::size_t full_ok = 0;
  std::printf("misroutes (! = wrong department):\n%-1s %-8s %-36s %-36s %-22s %s\n", "", "id",
              "expected", "got", "rule", "text");
  for (const auto& r : routed) {
    department_ok += r.department_ok();
    full_ok += r.full_ok();
    if (r.full_ok()) continue;
    std::printf("%-1s %-8s %-36s %-36s %-22s %s\n", r.department_ok() ? "" : "!", r.row->id.c_str(),
                routing(r.row->department, r.row->category, r.row->priority).c_str(),
                routing(r.got.department, r.got.category, r.got.priority).c_str(),
                r.got.rule.c_str(), shown(r.row->text).c_str());
  }
  const double accuracy = static_cast<double>(department_ok) / static_cast<double>(routed.size());
  std::printf("routing accuracy: %zu/%zu (%.1f%%) department, %zu/%zu full\n", department_ok,
              routed.size(), 100.0 * accuracy, full_ok, routed.size());
  EXPECT_GE(accuracy, kMinDepartmentAccuracy);
}

// A missed urgent mention delays help; a false one tells a citizen to call 119 for nothing.
TEST(RoutingCorpus, UrgentIsNeverMissedNorRaisedFalsely) {
  for (const auto& r : route_corpus()) {
    const bool expected = r.row->priority == Priority::kUrgent;
    const bool got = r.got.priority == Priority::kUrgent;
    EXPECT_EQ(got, expected) << "line " << r.row->line << " (" << r.row->id << ") "
                             << (expected ? "missed urgent" : "false alarm from rule " + r.got.rule)
                             << ": " << shown(r.row->text);
  }
}

TEST(RoutingCorpus, HasAtLeastTwoHundredRows) {
  EXPECT_GE(corpus().size(), kMinRows);
}

TEST(RoutingCorpus, CoversEveryShippedDepartment) {
  std::set<std::string> seen;
  for (const auto& row : corpus()) seen.insert(row.department);
  for (const auto& department : shipped().departments())
    EXPECT_TRUE(seen.contains(department)) << "no corpus row expects " << department;
}

TEST(RoutingCorpus, KeepsItsLongAndEmptyMentions) {
  std::size_t longest = 0;
  std::size_t empty = 0;
  for (const auto& row : corpus()) {
    longest = std::max(longest, text::grapheme_count(row.text));
    empty += row.text.empty();
  }
  EXPECT_GT(longest, 2000u);
  EXPECT_GE(empty, 2u);  // one posted empty, one that was only our handle
}

// --- The corpus format ---

const std::string kHeader = "# comment\nid\tlang\tdepartment\tcategory\tpriority\ttext\n";

TEST(RoutingCorpusFormat, RowIsDecodedAndOurHandleRemoved) {
  std::istringstream in(kHeader + "a\tko\troads\tsidewalk\thigh\t@songpaOK 보도\\n블록 \\\\\n");
  auto rows = parse_corpus(in);
  ASSERT_TRUE(rows.ok()) << rows.error();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).text, "보도\n블록 \\");
  EXPECT_EQ(rows->at(0).priority, Priority::kHigh);
  EXPECT_EQ(rows->at(0).line, 3);
}

TEST(RoutingCorpusFormat, RepeatBuildsALongText) {
  std::istringstream in(kHeader + "a\ten\troads\tsidewalk\tnormal\t{repeat 3}ab\n");
  auto rows = parse_corpus(in);
  ASSERT_TRUE(rows.ok()) << rows.error();
  EXPECT_EQ(rows->at(0).text, "ab ab ab");
}

TEST(RoutingCorpusFormat, WrongColumnCountNamesTheLine) {
  EXPECT_EQ(parse_error(kHeader + "a\tko\troads\tsidewalk\tnormal\tok\nb\tko\troads\tnormal\tx\n"),
            "line 4: expected 6 tab-separated columns (id, lang, department, category, priority, "
            "text), found 5");
}

TEST(RoutingCorpusFormat, UnknownPriorityNamesTheLine) {
  EXPECT_EQ(parse_error(kHeader + "a\tko\troads\tsidewalk\turgnet\tx\n"),
            "line 3: unknown priority \"urgnet\" (known: urgent, high, normal, low)");
}

TEST(RoutingCorpusFormat, UnknownLanguageNamesTheLine) {
  EXPECT_EQ(parse_error(kHeader + "a\tkr\troads\tsidewalk\tnormal\tx\n"),
            "line 3: unknown lang \"kr\" (known: ko, en)");
}

TEST(RoutingCorpusFormat, DuplicateIdNamesTheLine) {
  EXPECT_EQ(parse_error(kHeader + "a\tko\troads\tx\tnormal\tx\na\tko\troads\tx\tnormal\ty\n"),
            "line 4: id \"a\" is used twice");
}

TEST(RoutingCorpusFormat, UnknownEscapeNamesTheLine) {
  EXPECT_EQ(parse_error(kHeader + "a\tko\troads\tx\tnormal\tC:\\temp\n"),
            "line 3: unknown escape (known: \\n, \\\\)");
}

}  // namespace
}  // namespace sotong
