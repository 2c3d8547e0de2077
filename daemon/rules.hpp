// RuleSet: the admin's routing rules (rules/*.yaml) turned into a Decision for each Mention.
// Rules are tried in order (files by name, rules in file order); the first match wins; a
// `default` block decides when none matches. Matching is on NFC-normalised, case-folded text
// by substring, so Korean needs no word boundaries.
// Immutable after load: decide() is const and safe to call from any thread.
// Errors: load_* return a message naming file:line:column.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/mention.hpp"
#include "daemon/util/result.hpp"

namespace sotong {

struct Decision {
  enum class Action { kOpen, kIgnore };
  Action action = Action::kOpen;
  std::string ignore_reason;  // set when action == kIgnore, logged
  std::string rule;           // name of the rule that decided ("default" for the default)
  std::string department;     // department id, e.g. "roads"
  std::string category;       // e.g. "footbridge"
  Priority priority = Priority::kNormal;
  std::string template_key = "ack";  // template key for the acknowledgement
};

class RuleSet {
 public:
  RuleSet() = default;
  static Result<RuleSet> load_dir(const std::filesystem::path& dir);
  // `name` stands for the file name in error messages.
  static Result<RuleSet> load_string(std::string_view yaml, std::string_view name);

  Decision decide(const Mention& m) const;

  // Every department id a rule or the default routes to (for checking against the config).
  std::vector<std::string> departments() const;
  // Every template key a rule or the default names (for checking against the templates).
  std::vector<std::string> template_keys() const;
  std::size_t size() const { return rules_.size(); }

  struct Rule {
    std::string name;
    std::vector<std::string> any;   // folded keywords; matches if one is a substring
    std::vector<std::string> all;   // folded keywords; all must be substrings
    std::vector<std::string> none;  // folded keywords; none may be a substring
    Decision decision;
  };

 private:
  std::vector<Rule> rules_;
  Decision default_;
};

}  // namespace sotong
