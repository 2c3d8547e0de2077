#include "daemon/rules.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "daemon/calendar.hpp"
#include "daemon/rules/conditions.hpp"
#include "daemon/rules/loader.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;

// Admins order files by prefix (10-, 20-, ...); hundreds of files is already a mistake.
constexpr std::size_t kMaxRuleFiles = 256;

constexpr std::string_view kDefaultRuleName = "default";
constexpr std::string_view kDefaultCategory = "general";
constexpr std::string_view kAckTemplate = "ack";
constexpr std::string_view kUrgentAckTemplate = "ack_urgent";

// A later rule's written field replaces an earlier one's; unwritten fields are left alone.
void overlay(rules::Fields& into, const rules::Fields& from) {
  if (from.department) into.department = from.department;
  if (from.category) into.category = from.category;
  if (from.priority) into.priority = from.priority;
  if (from.template_key) into.template_key = from.template_key;
}

}  // namespace

struct RuleSet::Impl {
  rules::Compiled set;
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;

Result<RuleSet> RuleSet::load_string(std::string_view yaml, std::string_view name) {
  rules::Loader loader;
  loader.add_file(yaml, name);
  auto compiled = loader.finish(name);
  if (!compiled) return Error{compiled.error()};
  RuleSet set;
  set.impl_->set = std::move(*compiled);
  return set;
}

Result<RuleSet> RuleSet::load_dir(const fs::path& dir) {
  auto files = yaml_file::list(dir, kMaxRuleFiles);
  if (!files) return Error{files.error()};
  rules::Loader loader;
  for (const auto& path : *files) {
    auto data = yaml_file::read(path, rules::kMaxRulesFileBytes);
    if (data) {
      loader.add_file(*data, path.string());
    } else {
      loader.add_unreadable(Error{data.error()});
    }
  }
  auto compiled = loader.finish(dir.string());
  if (!compiled) return Error{compiled.error()};
  RuleSet set;
  set.impl_->set = std::move(*compiled);
  return set;
}

// Own posts and bots are filtered out before this, by the pipeline.
Decision RuleSet::decide(const Mention& m) const {
  return decide(m, Calendar::seoul_without_holidays());
}

Decision RuleSet::decide(const Mention& m, const Calendar& cal, RuleTrace* trace) const {
  const rules::Subject subject(m, &cal);
  Decision d;
  rules::Fields written;
  const rules::Rule* decider = nullptr;
  for (const rules::Rule& r : impl_->set.rules) {
    std::string why, place;
    const bool hit = rules::test(r.match, subject, trace ? &why : nullptr, &place);
    if (trace) trace->steps.push_back({r.name, r.where, hit, std::move(why)});
    if (!hit) continue;
    d.matched.push_back(r.name);
    overlay(written, r.fields);
    if (!place.empty()) d.neighbourhood = std::move(place);
    for (const auto& tag : r.tags) {
      if (std::find(d.tags.begin(), d.tags.end(), tag) == d.tags.end()) d.tags.push_back(tag);
    }
    d.hide = d.hide || r.hide;
    d.notify = d.notify || r.notify;
    if (r.ignore) {
      d.action = Decision::Action::kIgnore;
      d.ignore_reason = *r.ignore;
    }
    if (r.ignore || !r.keep_going) {
      decider = &r;
      break;
    }
  }
  const rules::Fields& base = impl_->set.defaults;
  d.rule = decider ? decider->name : std::string(kDefaultRuleName);
  d.department = written.department.value_or(base.department.value_or(""));
  d.category = written.category.value_or(base.category.value_or(std::string(kDefaultCategory)));
  d.priority = written.priority.value_or(base.priority.value_or(Priority::kNormal));
  d.template_explicit = written.template_key.has_value();
  if (written.template_key) {
    d.template_key = *written.template_key;
  } else if (d.priority == Priority::kUrgent) {
    d.template_key = std::string(kUrgentAckTemplate);
  } else {
    d.template_key = base.template_key.value_or(std::string(kAckTemplate));
  }
  return d;
}

bool RuleSet::reopens(const Mention& m, std::string* why) const {
  if (!impl_->set.reopen) {
    if (why) *why = "no reopen: block in the rules";
    return false;
  }
  const rules::Subject subject(m, nullptr);
  return rules::test(*impl_->set.reopen, subject, why, nullptr);
}

std::vector<std::string> RuleSet::departments() const {
  std::set<std::string> ids{impl_->set.defaults.department.value_or("")};
  for (const auto& r : impl_->set.rules) ids.insert(r.fields.department.value_or(""));
  ids.erase("");
  return {ids.begin(), ids.end()};
}

std::vector<std::string> RuleSet::categories() const {
  std::set<std::string> ids{impl_->set.defaults.category.value_or(std::string(kDefaultCategory))};
  for (const auto& r : impl_->set.rules)
    if (r.fields.category) ids.insert(*r.fields.category);
  return {ids.begin(), ids.end()};
}

std::vector<std::string> RuleSet::template_keys() const {
  const rules::Fields& base = impl_->set.defaults;
  std::set<std::string> keys{base.template_key.value_or(std::string(kAckTemplate))};
  // ack_urgent is used when the final priority is urgent and no matching rule named a
  // template: possible if the default is urgent or some urgent rule names none (a `continue`
  // one may be followed by rules that name none either).
  bool urgent_possible = base.priority == Priority::kUrgent;
  for (const auto& r : impl_->set.rules) {
    if (r.fields.template_key) keys.insert(*r.fields.template_key);
    if (r.fields.priority == Priority::kUrgent && !r.fields.template_key) {
      urgent_possible = true;
    }
  }
  if (urgent_possible) keys.insert(std::string(kUrgentAckTemplate));
  return {keys.begin(), keys.end()};
}

std::vector<std::string> RuleSet::accounts() const {
  std::set<std::string> names;
  for (const auto& r : impl_->set.rules)
    names.insert(r.match.accounts.begin(), r.match.accounts.end());
  return {names.begin(), names.end()};
}

std::size_t RuleSet::size() const {
  return impl_->set.rules.size();
}

std::size_t RuleSet::neighbourhood_list_count() const {
  return impl_->set.neighbourhoods.size();
}

}  // namespace sotong
