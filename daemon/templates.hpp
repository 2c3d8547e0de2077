// TemplateSet: the reply texts (templates/<lang>.yaml), per key and language, each key with
// one or more variants. A variant is picked deterministically from a seed (the ticket number)
// so a burst of tickets does not post identical texts. Variables are {{name}}; an unknown
// variable, a missing required key or an empty variant list is a load error, never a blank at
// run time; every error found is reported, one per line. Immutable after load: render() is const
// and thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong {

using TemplateVars = std::map<std::string, std::string, std::less<>>;

class TemplateSet {
 public:
  // Variables a template may use.
  static const std::vector<std::string>& known_variables();
  // Keys every language must define.
  static const std::vector<std::string>& required_keys();

  TemplateSet() = default;
  // Loads every <lang>.yaml in dir. `fallback_language` must be among them.
  static Result<TemplateSet> load_dir(const std::filesystem::path& dir,
                                      std::string_view fallback_language);

  // The language actually used for `language` (itself if loaded, else the fallback).
  std::string resolve_language(std::string_view language) const;
  bool has_key(std::string_view key) const;

  // Renders `key` in `language` (with fallback), choosing the variant by `seed`. Variables
  // missing from `vars` render as an error (a bug in the caller, reported, not hidden).
  Result<std::string> render(std::string_view key, std::string_view language,
                             const TemplateVars& vars, std::string_view seed) const;

  // file:line:column of a variant, for messages about it.
  std::string where(std::string_view key, std::string_view language, std::size_t index) const;
  // "file:line:column: template \"key\"" of every variant using {{variable}}.
  std::vector<std::string> uses(std::string_view variable) const;

  std::vector<std::string> languages() const;
  // The keys a language defines itself (not through the fallback).
  std::vector<std::string> keys(std::string_view language) const;
  std::size_t variant_count(std::string_view key, std::string_view language) const;
  // Renders variant number `index` (modulo the count): for checking every variant at load.
  Result<std::string> render_variant(std::string_view key, std::string_view language,
                                     const TemplateVars& vars, std::size_t index) const;

 private:
  // language -> key -> variants
  std::map<std::string, std::map<std::string, std::vector<std::string>, std::less<>>, std::less<>>
      texts_;
  std::map<std::string, std::map<std::string, std::vector<std::string>, std::less<>>, std::less<>>
      wheres_;
  std::string fallback_;
};

}  // namespace sotong
