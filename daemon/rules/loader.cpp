#include "daemon/rules/loader.hpp"

#include <algorithm>
#include <utility>

#include "daemon/rules/text.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong::rules {
namespace {

// decide() is linear in rules x conditions x text; this bounds the work per mention.
constexpr std::size_t kMaxRules = 5000;
// Categories are shown to citizens ({{category}}) and stored with the ticket; names are logged.
constexpr std::size_t kMaxCategoryBytes = 100;
constexpr std::size_t kMaxRuleNameBytes = 100;
constexpr std::size_t kMaxReasonBytes = 200;
constexpr std::size_t kMaxTagsPerRule = 20;
// A city has a few districts; a list per district or two is the intended use.
constexpr std::size_t kMaxNeighbourhoodLists = 100;
// Past this many an admin fixes the first ones and runs the check again; a hostile file must
// not turn into a megabyte of messages.
constexpr std::size_t kMaxReportedErrors = 100;

constexpr std::string_view kDefaultRuleName = "default";

void append(std::vector<Error>& to, std::vector<Error> from) {
  for (auto& e : from) to.push_back(std::move(e));
}

std::optional<YAML::Node> present(const YAML::Node& map, const char* field) {
  const YAML::Node n = map[field];
  if (!n || n.IsNull()) return std::nullopt;
  return n;
}

void parse_fields(std::string_view file, const YAML::Node& map, Fields& f,
                  std::vector<Error>& errors) {
  auto keep = [&](auto result, auto& target) {
    if (result) {
      target = std::move(*result);
    } else {
      errors.push_back(Error{result.error()});
    }
  };
  if (auto n = present(map, "department")) {
    keep(yaml_file::identifier(file, *n, "department", "roads"), f.department);
  }
  if (auto n = present(map, "category")) {
    auto v = yaml_file::text(file, *n, "category");
    if (v && !is_one_line(*v, kMaxCategoryBytes)) {
      v = yaml_file::error_at(
          file, *n,
          "category must be one line of at most " + std::to_string(kMaxCategoryBytes) + " bytes");
    }
    if (v) *v = text::nfc(*v);
    keep(std::move(v), f.category);
  }
  if (auto n = present(map, "priority")) {
    auto v = yaml_file::text(file, *n, "priority");
    if (!v) {
      errors.push_back(Error{v.error()});
    } else if (auto p = parse_priority(*v)) {
      f.priority = *p;
    } else {
      errors.push_back(yaml_file::error_at(
          file, *n, "unknown priority \"" + *v + "\" (known: urgent, high, normal, low)"));
    }
  }
  if (auto n = present(map, "template")) {
    keep(yaml_file::identifier(file, *n, "template", "ack"), f.template_key);
  }
}

// `hide: true` and the like; nullopt (and an error) for anything but true or false.
std::optional<bool> flag(std::string_view file, const YAML::Node& node, std::string_view field,
                         std::vector<Error>& errors) {
  if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
    return node.Scalar() == "true";
  }
  errors.push_back(yaml_file::error_at(file, node, std::string(field) + " must be true or false"));
  return std::nullopt;
}

void parse_actions(std::string_view file, const YAML::Node& node, Rule& r,
                   std::vector<Error>& errors) {
  parse_fields(file, node, r.fields, errors);
  if (auto n = present(node, "tags")) {
    if (!n->IsSequence() || n->size() == 0 || n->size() > kMaxTagsPerRule) {
      errors.push_back(yaml_file::error_at(file, *n,
                                           "tags must be a list of 1 to " +
                                               std::to_string(kMaxTagsPerRule) +
                                               " ids, e.g. [night, songpa]"));
    } else {
      for (const auto& t : *n) {
        auto tag = yaml_file::identifier(file, t, "tag", "night");
        if (!tag) {
          errors.push_back(Error{tag.error()});
        } else if (std::find(r.tags.begin(), r.tags.end(), *tag) == r.tags.end()) {
          r.tags.push_back(std::move(*tag));
        }
      }
    }
  }
  if (auto n = present(node, "ignore")) {
    auto v = yaml_file::text(file, *n, "ignore");
    if (v && (*v == "true" || *v == "false" || !is_one_line(*v, kMaxReasonBytes))) {
      v = yaml_file::error_at(file, *n,
                              "ignore takes the reason, one line of at most " +
                                  std::to_string(kMaxReasonBytes) +
                                  " bytes, e.g. ignore: \"blocked author\"");
    }
    if (v) {
      r.ignore = text::nfc(*v);
    } else {
      errors.push_back(Error{v.error()});
    }
  }
  if (auto n = present(node, "hide")) r.hide = flag(file, *n, "hide", errors).value_or(false);
  if (auto n = present(node, "notify")) r.notify = flag(file, *n, "notify", errors).value_or(false);
  if (auto n = present(node, "continue")) {
    r.keep_going = flag(file, *n, "continue", errors).value_or(false);
    if (r.keep_going && r.ignore) {
      errors.push_back(yaml_file::error_at(
          file, *n, "continue: true does not go with ignore (an ignore rule stops matching)"));
    }
  }
}

// Reads a rule into r as far as it can; false if it had an error.
bool parse_rule(std::string_view file, const YAML::Node& node, Rule& r,
                std::vector<Error>& errors) {
  if (!node.IsMap()) {
    errors.push_back(yaml_file::error_at(file, node, "a rule must be a map with name and match"));
    return false;
  }
  const std::size_t errors_before = errors.size();
  r.where = yaml_file::where(file, node.Mark());
  append(errors,
         yaml_file::field_problems(file, node,
                                   {"name", "match", "department", "category", "priority",
                                    "template", "tags", "ignore", "hide", "notify", "continue"}));
  if (!node["name"]) {
    errors.push_back(yaml_file::error_at(file, node, "rule has no name"));
  } else if (auto n = present(node, "name")) {
    auto name = yaml_file::text(file, *n, "name");
    if (name && !is_one_line(*name, kMaxRuleNameBytes)) {
      name = yaml_file::error_at(
          file, *n,
          "a rule name is one line of at most " + std::to_string(kMaxRuleNameBytes) + " bytes");
    } else if (name && *name == kDefaultRuleName) {
      name = yaml_file::error_at(file, *n, "\"default\" is reserved for the default block");
    }
    if (name) {
      r.name = std::move(*name);
    } else {
      errors.push_back(Error{name.error()});
    }
  }
  if (!node["match"]) {
    errors.push_back(yaml_file::error_at(
        file, node, r.name.empty() ? "rule has no match" : "rule \"" + r.name + "\" has no match"));
  } else if (auto n = present(node, "match")) {
    parse_conditions(file, *n, Scope::kRule, r.match, errors);
  }
  parse_actions(file, node, r, errors);
  return errors.size() == errors_before;
}

}  // namespace

void Loader::add_unreadable(Error e) {
  errors_.push_back(std::move(e));
  every_file_read_ = false;
}

void Loader::add_file(std::string_view yaml, std::string_view file) {
  auto doc = yaml_file::parse(yaml, file, kMaxRulesFileBytes);
  if (!doc) return add_unreadable(Error{doc.error()});
  const YAML::Node& root = *doc;
  if (root.IsNull()) return;  // an empty file contributes nothing
  if (!root.IsMap()) {
    return add_unreadable(yaml_file::error_at(
        file, root, "expected a map with rules:, default:, reopen: and/or neighbourhoods:"));
  }
  append(errors_,
         yaml_file::field_problems(file, root, {"rules", "default", "reopen", "neighbourhoods"}));
  if (auto n = present(root, "neighbourhoods")) add_neighbourhoods(file, *n);
  if (auto n = present(root, "default")) add_default(file, *n);
  if (auto n = present(root, "reopen")) add_reopen(file, *n);
  if (auto n = present(root, "rules")) add_rules(file, *n);
}

void Loader::add_rules(std::string_view file, const YAML::Node& node) {
  if (!node.IsSequence()) {
    errors_.push_back(
        yaml_file::error_at(file, node, "rules must be a list of rules (- name: ...)"));
    return;
  }
  for (const auto& n : node) {
    Rule r;
    bool ok = parse_rule(file, n, r, errors_);
    if (!r.name.empty()) {
      if (auto [it, inserted] = rule_wheres_.emplace(r.name, r.where); !inserted) {
        errors_.push_back(
            Error{r.where + ": rule name \"" + r.name + "\" is already used at " + it->second});
        ok = false;
      }
    }
    if (ok && ++rule_count_ == kMaxRules + 1) {
      errors_.push_back(Error{r.where + ": more than " + std::to_string(kMaxRules) + " rules"});
    }
    const std::size_t patterns_before = pattern_count_;
    pattern_count_ += r.match.patterns.size();
    if (patterns_before <= kMaxPatterns && pattern_count_ > kMaxPatterns) {
      errors_.push_back(Error{r.where + ": more than " + std::to_string(kMaxPatterns) +
                              " patterns in all the rules; use keywords where they do"});
    }
    parsed_.push_back(std::move(r));
    parsed_ok_.push_back(ok);
  }
}

// Records where a block that may appear once is; false (and an error naming both places) if
// it was already seen. `rule` completes the message: "exactly one file may define default".
bool Loader::first_block(std::optional<std::string>& seen_at, std::string_view file,
                         const YAML::Node& node, const std::string& block, std::string_view rule) {
  if (seen_at) {
    errors_.push_back(yaml_file::error_at(
        file, node,
        "a second " + block + " block (the first is at " + *seen_at + "); " + std::string(rule)));
    return false;
  }
  seen_at = yaml_file::where(file, node.Mark());
  return true;
}

void Loader::add_default(std::string_view file, const YAML::Node& node) {
  if (!first_block(default_where_, file, node, "default", "exactly one file may define default")) {
    return;
  }
  if (!node.IsMap()) {
    errors_.push_back(yaml_file::error_at(
        file, node, "default must be a map with department, category, priority and template"));
    return;
  }
  append(errors_,
         yaml_file::field_problems(file, node, {"department", "category", "priority", "template"}));
  parse_fields(file, node, out_.defaults, errors_);
  if (!node["department"]) {
    errors_.push_back(yaml_file::error_at(
        file, node, "default has no department (it routes the mentions no rule matches)"));
  }
}

void Loader::add_reopen(std::string_view file, const YAML::Node& node) {
  if (!first_block(reopen_where_, file, node, "reopen", "at most one file may define reopen")) {
    return;
  }
  Conditions c;
  if (parse_conditions(file, node, Scope::kReopen, c, errors_)) out_.reopen = std::move(c);
}

void Loader::add_neighbourhoods(std::string_view file, const YAML::Node& node) {
  if (!node.IsMap()) {
    lists_complete_ = false;
    errors_.push_back(yaml_file::error_at(
        file, node,
        "neighbourhoods must be a map from list names to places, e.g. neighbourhoods: "
        "{songpa: [잠실동, 가락동]}"));
    return;
  }
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar() || !yaml_file::is_identifier(key.Scalar())) {
      lists_complete_ = false;
      errors_.push_back(yaml_file::error_at(
          file, key,
          "a neighbourhood list name is an id: lower-case letters, digits, \"-\" and \"_\", "
          "e.g. songpa"));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string where = yaml_file::where(file, key.Mark());
    if (auto [it, inserted] = list_wheres_.emplace(name, where); !inserted) {
      errors_.push_back(Error{where + ": neighbourhood list \"" + name +
                              "\" is already defined at " + it->second});
      continue;
    }
    if (list_wheres_.size() == kMaxNeighbourhoodLists + 1) {
      errors_.push_back(Error{where + ": more than " + std::to_string(kMaxNeighbourhoodLists) +
                              " neighbourhood lists"});
    }
    const std::size_t errors_before = errors_.size();
    auto places = parse_keywords(file, kv.second, "neighbourhoods." + name, errors_);
    if (errors_.size() != errors_before) continue;
    out_.neighbourhoods.push_back(
        std::make_shared<const NeighbourhoodList>(NeighbourhoodList{name, std::move(places)}));
  }
}

bool Loader::resolve_neighbourhoods(Conditions& match) {
  bool ok = true;
  for (std::size_t i = 0; i < match.neighbourhood_names.size(); ++i) {
    const std::string& name = match.neighbourhood_names[i];
    const auto it = std::find_if(out_.neighbourhoods.begin(), out_.neighbourhoods.end(),
                                 [&](const auto& l) { return l->name == name; });
    if (it != out_.neighbourhoods.end()) {
      match.neighbourhoods.push_back(*it);
      continue;
    }
    ok = false;
    // A list that had errors, or could be in a file that was not read, is not "unknown".
    if (list_wheres_.count(name) || !every_file_read_ || !lists_complete_) continue;
    std::string known;
    for (const auto& [n, where] : list_wheres_) known += (known.empty() ? "" : ", ") + n;
    errors_.push_back(
        Error{match.neighbourhood_wheres[i] + ": unknown neighbourhood list \"" + name + "\" (" +
              (known.empty() ? "no file has a neighbourhoods: block" : "known: " + known) + ")"});
  }
  return ok;
}

Result<Compiled> Loader::finish(std::string_view set_name) {
  for (std::size_t i = 0; i < parsed_.size(); ++i) {
    const bool resolved = resolve_neighbourhoods(parsed_[i].match);
    if (parsed_ok_[i] && resolved) out_.rules.push_back(std::move(parsed_[i]));
  }
  if (!default_where_ && every_file_read_) {
    errors_.push_back(Error{std::string(set_name) +
                            ": no default block; exactly one file must define default: with at "
                            "least a department (it routes the mentions no rule matches)"});
  }
  if (errors_.empty()) return std::move(out_);
  std::string message;
  for (std::size_t i = 0; i < errors_.size() && i < kMaxReportedErrors; ++i) {
    message += (i ? "\n" : "") + errors_[i].message;
  }
  if (errors_.size() > kMaxReportedErrors) {
    message += "\n… and " + std::to_string(errors_.size() - kMaxReportedErrors) + " more errors";
  }
  return Error{std::move(message)};
}

}  // namespace sotong::rules
