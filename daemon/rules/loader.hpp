// Loader: reads rules files (in the order given) into the parts of a RuleSet, going on past a
// bad rule or a bad file so that one run reports every error an admin has to fix. Checks that
// need every file (the default block, neighbourhood list names) are made in finish().
// Single-threaded use; the Compiled result is immutable and shared by RuleSet.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/mention.hpp"
#include "daemon/rules/conditions.hpp"
#include "daemon/util/result.hpp"

namespace sotong::rules {

// The decision fields as a rule or the default block writes them; absent ones are taken from
// a later matching rule or the default when deciding.
struct Fields {
  std::optional<std::string> department;
  std::optional<std::string> category;
  std::optional<Priority> priority;
  std::optional<std::string> template_key;
};

struct Rule {
  std::string name;
  std::string where;  // file:line:column, for messages and --explain
  Conditions match;
  Fields fields;
  std::vector<std::string> tags;
  std::optional<std::string> ignore;  // the reason, when the rule drops the mention
  bool hide = false;
  bool notify = false;
  bool keep_going = false;  // `continue: true`
};

// Rules are short lists of words; a megabyte is thousands of rules and keeps a hostile file
// from costing more than a moment to parse.
inline constexpr std::size_t kMaxRulesFileBytes = 1024 * 1024;

struct Compiled {
  std::vector<Rule> rules;
  Fields defaults;  // department always set after a successful load
  std::optional<Conditions> reopen;
  std::vector<std::shared_ptr<const NeighbourhoodList>> neighbourhoods;
};

class Loader {
 public:
  // `file` names the text in messages.
  void add_file(std::string_view yaml, std::string_view file);
  // A file that could not be read, or a folder that could not be listed.
  void add_unreadable(Error e);
  // The rules, or every error found, one per line (the first kMaxReportedErrors of them).
  // `set_name` (the folder) names errors that belong to no file, like a missing default.
  Result<Compiled> finish(std::string_view set_name);

 private:
  void add_rules(std::string_view file, const YAML::Node& node);
  bool first_block(std::optional<std::string>& seen_at, std::string_view file,
                   const YAML::Node& node, const std::string& block, std::string_view rule);
  void add_default(std::string_view file, const YAML::Node& node);
  void add_reopen(std::string_view file, const YAML::Node& node);
  void add_neighbourhoods(std::string_view file, const YAML::Node& node);
  bool resolve_neighbourhoods(Conditions& match);

  Compiled out_;
  std::vector<Rule> parsed_;     // every rule read, the bad ones too (for cross-file checks)
  std::vector<bool> parsed_ok_;  // parallel to parsed_
  std::size_t rule_count_ = 0;   // good rules seen, kept or not (kMaxRules)
  std::vector<Error> errors_;
  bool every_file_read_ = true;  // else a missing default or list may be in the unread file
  std::map<std::string, std::string, std::less<>> rule_wheres_;  // name -> file:line:column
  std::optional<std::string> default_where_;
  std::optional<std::string> reopen_where_;
  std::map<std::string, std::string, std::less<>> list_wheres_;  // every list, the bad ones too
  bool lists_complete_ = true;  // false when a neighbourhoods: block could not be read
  std::size_t pattern_count_ = 0;
};

}  // namespace sotong::rules
