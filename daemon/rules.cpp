#include "daemon/rules.hpp"

#include <utf8proc.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "daemon/text/unicode.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;

// Rules are short lists of words; a megabyte is thousands of rules and keeps a hostile file
// from costing more than a moment to parse.
constexpr std::size_t kMaxRulesFileBytes = 1024 * 1024;
// Admins order files by prefix (10-, 20-, ...); hundreds of files is already a mistake.
constexpr std::size_t kMaxRuleFiles = 256;
// decide() is linear in rules x keywords x text; these bound the work per mention.
constexpr std::size_t kMaxRules = 5000;
constexpr std::size_t kMaxKeywordsPerList = 500;
constexpr std::size_t kMaxKeywordBytes = 200;
// Longer than any platform's post (X: 25,000 characters); beyond it only the start is matched.
constexpr std::size_t kMaxMatchedTextBytes = 128 * 1024;
// Categories are shown to citizens ({{category}}) and stored with the ticket.
constexpr std::size_t kMaxCategoryBytes = 100;
constexpr std::size_t kMaxRuleNameBytes = 100;

constexpr std::string_view kDefaultRuleName = "default";
constexpr std::string_view kDefaultCategory = "general";
constexpr std::string_view kAckTemplate = "ack";
constexpr std::string_view kUrgentAckTemplate = "ack_urgent";

bool is_separator(char32_t c) {
  if (c < 0x80) {
    const auto a = static_cast<char>(c);
    return a == ' ' || a == '\t' || a == '\n' || a == '\r' || a == '\v' || a == '\f' ||
           (a >= '!' && a <= '/') || (a >= ':' && a <= '@') || (a >= '[' && a <= '`') ||
           (a >= '{' && a <= '~');
  }
  // No-break and ideographic spaces; curly quotes, so "can’t" and "can't" match alike.
  return c == 0xA0 || c == 0x3000 || (c >= 0x2018 && c <= 0x201F);
}

// The form both keywords and mention text are matched in: folded (NFC + case fold), with
// ASCII punctuation and whitespace turned into single spaces. Leading and trailing spaces are
// kept, so a keyword written " bus " only matches the whole word.
std::string normalize(std::string_view s) {
  const std::string folded = text::fold(s);
  std::string out;
  out.reserve(folded.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(folded.data());
  for (std::size_t i = 0; i < folded.size();) {
    utf8proc_int32_t c = 0;
    auto n = static_cast<std::size_t>(
        utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(folded.size() - i), &c));
    if (n == 0 || n > folded.size() - i) n = 1;  // cannot happen: fold() returns valid UTF-8
    if (is_separator(static_cast<char32_t>(c))) {
      if (out.empty() || out.back() != ' ') out.push_back(' ');
    } else {
      out.append(folded, i, n);
    }
    i += n;
  }
  return out;
}

// The text as matched: normalised, with one space at each end so word-edge keywords match at
// the start and end too.
std::string matchable(std::string_view raw) {
  std::string_view s = raw.substr(0, std::min(raw.size(), kMaxMatchedTextBytes));
  std::string n = normalize(s);
  if (n.empty() || n.front() != ' ') n.insert(n.begin(), ' ');
  if (n.back() != ' ') n.push_back(' ');
  return n;
}

bool contains(const std::string& text, const std::string& keyword) {
  return text.find(keyword) != std::string::npos;
}

bool matches(const RuleSet::Rule& r, const std::string& text) {
  auto found = [&](const std::string& k) { return contains(text, k); };
  if (!r.any.empty() && std::none_of(r.any.begin(), r.any.end(), found)) return false;
  if (!std::all_of(r.all.begin(), r.all.end(), found)) return false;
  return std::none_of(r.none.begin(), r.none.end(), found);
}

// The decision fields as written in a rule or the default block; absent ones are merged from
// the default block once every file is read.
struct Fields {
  std::optional<std::string> department;
  std::optional<std::string> category;
  std::optional<Priority> priority;
  std::optional<std::string> template_key;
};

struct Draft {
  RuleSet::Rule rule;  // name and keywords; the decision is filled in by Loader::finish
  Fields fields;
  std::string where;  // file:line:column of the rule, for messages
};

// Names and categories end up in logs and replies: one line, no control characters.
bool one_line(const std::string& s, std::size_t max_bytes) {
  return s.size() <= max_bytes && text::sanitize_utf8(s) == s &&
         s.find_first_of("\n\t") == std::string::npos;
}

Result<std::vector<std::string>> keywords(std::string_view file, const YAML::Node& node,
                                          const std::string& field) {
  if (!node.IsSequence()) {
    return yaml_file::error_at(file, node,
                               field + " must be a list of keywords, e.g. [육교, footbridge]");
  }
  if (node.size() == 0) return yaml_file::error_at(file, node, field + " is an empty list");
  if (node.size() > kMaxKeywordsPerList) {
    return yaml_file::error_at(file, node,
                               field + " has more than " + std::to_string(kMaxKeywordsPerList) +
                                   " keywords; split the rule");
  }
  std::vector<std::string> out;
  for (const auto& item : node) {
    auto word = yaml_file::text(file, item, "a keyword in " + field);
    if (!word) return Error{word.error()};
    if (word->size() > kMaxKeywordBytes) {
      return yaml_file::error_at(file, item,
                                 "keyword longer than " + std::to_string(kMaxKeywordBytes) +
                                     " bytes; use a shorter phrase");
    }
    std::string folded = normalize(*word);
    if (folded.find_first_not_of(' ') == std::string::npos) {
      return yaml_file::error_at(file, item,
                                 "keyword \"" + *word +
                                     "\" has no letters or digits (it would match "
                                     "every mention)");
    }
    if (std::find(out.begin(), out.end(), folded) == out.end()) out.push_back(std::move(folded));
  }
  return out;
}

Status parse_match(std::string_view file, const YAML::Node& node, RuleSet::Rule& rule) {
  if (!node.IsMap()) {
    return yaml_file::error_at(file, node,
                               "match must be a map with any, all and/or none, e.g. "
                               "match: {any: [육교, footbridge]}");
  }
  if (auto st = yaml_file::check_fields(file, node, {"any", "all", "none"}); !st) return st;
  std::pair<const char*, std::vector<std::string>*> lists[] = {
      {"any", &rule.any}, {"all", &rule.all}, {"none", &rule.none}};
  for (auto& [field, target] : lists) {
    if (!node[field]) continue;
    auto words = keywords(file, node[field], std::string("match.") + field);
    if (!words) return Error{words.error()};
    *target = std::move(*words);
  }
  if (rule.any.empty() && rule.all.empty()) {
    return yaml_file::error_at(file, node,
                               "match needs any or all (none alone would match almost every "
                               "mention; the default block is for that)");
  }
  return Status::Ok();
}

Status parse_fields(std::string_view file, const YAML::Node& map, Fields& f) {
  if (const YAML::Node n = map["department"]) {
    auto v = yaml_file::identifier(file, n, "department", "roads");
    if (!v) return Error{v.error()};
    f.department = std::move(*v);
  }
  if (const YAML::Node n = map["category"]) {
    auto v = yaml_file::text(file, n, "category");
    if (!v) return Error{v.error()};
    if (!one_line(*v, kMaxCategoryBytes)) {
      return yaml_file::error_at(
          file, n,
          "category must be one line of at most " + std::to_string(kMaxCategoryBytes) + " bytes");
    }
    f.category = text::nfc(*v);
  }
  if (const YAML::Node n = map["priority"]) {
    auto v = yaml_file::text(file, n, "priority");
    if (!v) return Error{v.error()};
    auto p = parse_priority(*v);
    if (!p) {
      return yaml_file::error_at(
          file, n, "unknown priority \"" + *v + "\" (known: urgent, high, normal, low)");
    }
    f.priority = *p;
  }
  if (const YAML::Node n = map["template"]) {
    auto v = yaml_file::identifier(file, n, "template", "ack");
    if (!v) return Error{v.error()};
    f.template_key = std::move(*v);
  }
  return Status::Ok();
}

Result<Draft> parse_rule(std::string_view file, const YAML::Node& node) {
  if (!node.IsMap()) {
    return yaml_file::error_at(file, node, "a rule must be a map with name, match and department");
  }
  auto st = yaml_file::check_fields(
      file, node, {"name", "match", "department", "category", "priority", "template"});
  if (!st) return Error{st.error()};
  Draft d;
  d.where = yaml_file::where(file, node.Mark());
  if (!node["name"]) return yaml_file::error_at(file, node, "rule has no name");
  auto rule_name = yaml_file::text(file, node["name"], "name");
  if (!rule_name) return Error{rule_name.error()};
  if (!one_line(*rule_name, kMaxRuleNameBytes)) {
    return yaml_file::error_at(
        file, node["name"],
        "a rule name is one line of at most " + std::to_string(kMaxRuleNameBytes) + " bytes");
  }
  if (*rule_name == kDefaultRuleName) {
    return yaml_file::error_at(file, node["name"], "\"default\" is reserved for the default block");
  }
  d.rule.name = std::move(*rule_name);
  if (!node["match"]) {
    return yaml_file::error_at(file, node, "rule \"" + d.rule.name + "\" has no match");
  }
  if (st = parse_match(file, node["match"], d.rule); !st) return Error{st.error()};
  if (st = parse_fields(file, node, d.fields); !st) return Error{st.error()};
  return d;
}

// Collects rules and the default block across files, then merges them into a RuleSet.
class Loader {
 public:
  Status add_file(std::string_view yaml, std::string_view file) {
    auto doc = yaml_file::parse(yaml, file, kMaxRulesFileBytes);
    if (!doc) return Error{doc.error()};
    const YAML::Node& root = *doc;
    if (root.IsNull()) return Status::Ok();  // an empty file contributes nothing
    if (!root.IsMap()) {
      return yaml_file::error_at(file, root, "expected a map with rules: and/or default:");
    }
    if (auto st = yaml_file::check_fields(file, root, {"rules", "default"}); !st) return st;
    if (const YAML::Node def = root["default"]) {
      if (auto st = add_default(file, def); !st) return st;
    }
    if (const YAML::Node rules = root["rules"]) {
      if (!rules.IsSequence()) {
        return yaml_file::error_at(file, rules, "rules must be a list of rules (- name: ...)");
      }
      for (const auto& node : rules) {
        auto d = parse_rule(file, node);
        if (!d) return Error{d.error()};
        if (auto [it, inserted] = names_.emplace(d->rule.name, d->where); !inserted) {
          return Error{d->where + ": rule name \"" + d->rule.name + "\" is already used at " +
                       it->second};
        }
        if (drafts_.size() >= kMaxRules) {
          return Error{d->where + ": more than " + std::to_string(kMaxRules) + " rules"};
        }
        drafts_.push_back(std::move(*d));
      }
    }
    return Status::Ok();
  }

  // The merge: a rule's missing department, category and priority come from the default
  // block; a missing template is ack_urgent for an urgent rule, else the default's template.
  Status finish(std::string_view set_name, std::vector<RuleSet::Rule>& rules, Decision& def) {
    if (!default_) {
      return Error{std::string(set_name) +
                   ": no default block; exactly one file must define default: with at least "
                   "a department (it routes the mentions no rule matches)"};
    }
    def = decision(kDefaultRuleName, *default_, Fields{});
    rules.clear();
    for (auto& d : drafts_) {
      d.rule.decision = decision(d.rule.name, d.fields, *default_);
      rules.push_back(std::move(d.rule));
    }
    return Status::Ok();
  }

 private:
  Status add_default(std::string_view file, const YAML::Node& node) {
    if (default_) {
      return yaml_file::error_at(file, node,
                                 "a second default block (the first is at " + default_where_ +
                                     "); exactly one file may define default");
    }
    if (!node.IsMap()) {
      return yaml_file::error_at(file, node,
                                 "default must be a map with department, category, priority "
                                 "and template");
    }
    auto st =
        yaml_file::check_fields(file, node, {"department", "category", "priority", "template"});
    if (!st) return st;
    Fields f;
    if (st = parse_fields(file, node, f); !st) return st;
    if (!f.department) {
      return yaml_file::error_at(file, node,
                                 "default has no department (it routes the mentions no rule "
                                 "matches)");
    }
    default_ = std::move(f);
    default_where_ = yaml_file::where(file, node.Mark());
    return Status::Ok();
  }

  static Decision decision(std::string_view rule_name, const Fields& own, const Fields& base) {
    Decision d;
    d.rule = std::string(rule_name);
    d.department = own.department.value_or(base.department.value_or(""));
    d.category = own.category.value_or(base.category.value_or(std::string(kDefaultCategory)));
    d.priority = own.priority.value_or(base.priority.value_or(Priority::kNormal));
    if (own.template_key) {
      d.template_key = *own.template_key;
    } else if (d.priority == Priority::kUrgent) {
      d.template_key = std::string(kUrgentAckTemplate);
    } else {
      d.template_key = base.template_key.value_or(std::string(kAckTemplate));
    }
    return d;
  }

  std::vector<Draft> drafts_;
  std::map<std::string, std::string, std::less<>> names_;  // rule name -> where defined
  std::optional<Fields> default_;
  std::string default_where_;
};

}  // namespace

Result<RuleSet> RuleSet::load_string(std::string_view yaml, std::string_view file) {
  Loader loader;
  if (auto st = loader.add_file(yaml, file); !st) return Error{st.error()};
  RuleSet set;
  if (auto st = loader.finish(file, set.rules_, set.default_); !st) return Error{st.error()};
  return set;
}

Result<RuleSet> RuleSet::load_dir(const fs::path& dir) {
  auto files = yaml_file::list(dir, kMaxRuleFiles);
  if (!files) return Error{files.error()};
  Loader loader;
  for (const auto& path : *files) {
    auto data = yaml_file::read(path, kMaxRulesFileBytes);
    if (!data) return Error{data.error()};
    if (auto st = loader.add_file(*data, path.string()); !st) return Error{st.error()};
  }
  RuleSet set;
  if (auto st = loader.finish(dir.string(), set.rules_, set.default_); !st) {
    return Error{st.error()};
  }
  return set;
}

// Own posts and bots are filtered out before this, by the pipeline.
Decision RuleSet::decide(const Mention& m) const {
  const std::string text = matchable(m.text);
  for (const Rule& r : rules_) {
    if (matches(r, text)) return r.decision;
  }
  return default_;
}

std::vector<std::string> RuleSet::departments() const {
  std::set<std::string> ids{default_.department};
  for (const Rule& r : rules_) ids.insert(r.decision.department);
  ids.erase("");
  return {ids.begin(), ids.end()};
}

std::vector<std::string> RuleSet::template_keys() const {
  std::set<std::string> keys{default_.template_key};
  for (const Rule& r : rules_) keys.insert(r.decision.template_key);
  return {keys.begin(), keys.end()};
}

}  // namespace sotong
