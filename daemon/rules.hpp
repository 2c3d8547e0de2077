// RuleSet: the admin's routing rules (rules/*.yaml) turned into a Decision for each Mention.
// Rules are tried in order (files by name, rules in file order); the first match wins unless
// the rule says `continue: true` (its actions apply and matching goes on); a `default` block
// fills in whatever no matching rule set. Keywords match on NFC-normalised, case-folded text
// by substring, so Korean needs no word boundaries; patterns are RE2 (linear time on hostile
// text). Syntax and semantics: rules/README.md.
// Immutable after load: decide() is const and safe to call from any thread.
// Errors: load_* return every error found, one per line, each "file:line:column: message".
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/mention.hpp"
#include "daemon/util/result.hpp"

namespace sotong {

class Calendar;

struct Decision {
  enum class Action { kOpen, kIgnore };
  Action action = Action::kOpen;
  std::string ignore_reason;         // set when action == kIgnore, logged
  std::string rule;                  // the rule that decided ("default" when none did, "builtin")
  std::vector<std::string> matched;  // every rule that matched, `continue` ones included
  std::string department;            // department id, e.g. "roads"
  std::string category;              // e.g. "footbridge"
  Priority priority = Priority::kNormal;
  std::string template_key = "ack";  // template key for the acknowledgement
  bool template_explicit = false;    // a rule named the template (no after-hours switch)
  std::vector<std::string> tags;     // from every matching rule, in order, no repeats
  bool hide = false;                 // no public reply (abusive text); the ticket is flagged
  bool notify = false;               // tell the department at once
  std::string neighbourhood;         // the 동 a matching rule found in the text, if any
};

// Why each rule did or did not match, for `sotongd --explain`.
struct RuleTrace {
  struct Step {
    std::string rule;
    std::string where;  // file:line:column of the rule
    bool matched = false;
    std::string why;  // e.g. "any: found \"육교\"" or "platform: x is not in [mastodon]"
  };
  std::vector<Step> steps;
};

class RuleSet {
 public:
  RuleSet();
  ~RuleSet();
  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  static Result<RuleSet> load_dir(const std::filesystem::path& dir);
  // `name` stands for the file name in error messages.
  static Result<RuleSet> load_string(std::string_view yaml, std::string_view name);

  // Time windows are judged at m.created_at_ms (now when 0) in `cal`'s zone and holidays.
  Decision decide(const Mention& m, const Calendar& cal, RuleTrace* trace = nullptr) const;
  // Asia/Seoul without holidays.
  Decision decide(const Mention& m) const;

  // Whether a citizen's reply under a closed ticket asks to reopen it (the `reopen:` block;
  // without one, nothing reopens). `why` gets the reason when given.
  bool reopens(const Mention& m, std::string* why = nullptr) const;

  // Every department id a rule or the default routes to (for checking against the config).
  std::vector<std::string> departments() const;
  // Every category a rule or the default gives a ticket (the Open311 services).
  std::vector<std::string> categories() const;
  // Every template key a rule or the default names (for checking against the templates).
  std::vector<std::string> template_keys() const;
  // Every account name a rule's `account:` condition names (checked against the config).
  std::vector<std::string> accounts() const;
  std::size_t size() const;
  std::size_t neighbourhood_list_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sotong
