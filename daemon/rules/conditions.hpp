// Conditions: a rule's `match:` block (and the `reopen:` block) compiled at load, and its test
// against a mention. Every condition present must hold. Keywords and neighbourhood names match
// the folded text by substring; patterns are RE2 on the NFC text, linear in its length
// whatever the pattern, so hostile text cannot stall the daemon. rules/README.md describes
// each condition for admins.
// Compiled conditions are immutable and safe to test from any thread. Parse errors are
// appended to a list ("file:line:column: message") so a loader can report them all at once.
#pragma once

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/mention.hpp"
#include "daemon/rules/time_window.hpp"
#include "daemon/util/result.hpp"

namespace sotong {

class Calendar;

namespace rules {

// Rules are short lists of words; these bound the work per mention and per file.
inline constexpr std::size_t kMaxListItems = 500;
inline constexpr std::size_t kMaxKeywordBytes = 200;
// A pattern a person writes is a line or two; longer is generated and belongs elsewhere.
inline constexpr std::size_t kMaxPatternBytes = 1000;
// RE2's memory for one compiled pattern (program and DFA cache). A person's pattern needs a few
// KiB; this refuses huge repetitions ("\p{L}{1000}") and, with kMaxPatterns, caps the total.
inline constexpr int64_t kPatternMaxMem = 512 * 1024;
// Across all files: 256 x kPatternMaxMem is the worst case the daemon can be made to hold.
inline constexpr std::size_t kMaxPatterns = 256;

struct Keyword {
  std::string written;  // as the admin wrote it (NFC), for messages
  std::string folded;   // normalize()d, as matched
};

struct Pattern {
  std::string written;
  std::unique_ptr<const RE2> re;
};

// A `neighbourhoods:` list: a name like "songpa" and the places (동) in it.
struct NeighbourhoodList {
  std::string name;
  std::vector<Keyword> places;
};

struct Conditions {
  std::vector<Keyword> any, all, none;
  std::vector<Pattern> patterns;
  std::vector<std::string> hashtags;      // folded, without '#'
  std::vector<std::string> languages;     // primary subtags, lower case
  std::vector<std::string> visibilities;  // as to_string(Visibility) names them
  std::vector<std::string> platforms;
  std::vector<std::string> accounts;
  std::vector<std::string> authors;  // folded, without the leading '@'
  // `neighbourhood:` list names and where each was written (file:line:column). The lists are
  // looked up once every file is read, since they may come from a later file.
  std::vector<std::string> neighbourhood_names;
  std::vector<std::string> neighbourhood_wheres;
  std::vector<std::shared_ptr<const NeighbourhoodList>> neighbourhoods;
  std::optional<TimeWindow> time;
};

// A mention prepared once for every rule: its text in the forms conditions compare.
struct Subject {
  // `cal` may be null when no condition asks for the time (the reopen block).
  Subject(const Mention& m, const Calendar* cal);

  const Mention& mention;
  const Calendar* calendar;
  int64_t at_ms;                      // created_at_ms, or now when the platform gave none
  std::string keywords;               // rules::keyword_form of the text
  std::string nfc;                    // NFC of the matched part, for patterns
  std::vector<std::string> hashtags;  // sorted
  std::string language;               // primary subtag, lower case
  std::string author, author_acct;    // folded, without '@'
};

// The `match:` of a rule takes every condition; the `reopen:` block only the text ones.
enum class Scope { kRule, kReopen };

// Parses a match block into `out`, appending every error found; false if there was one.
// What could be read is in `out` even then, so later checks (list names) still see it.
bool parse_conditions(std::string_view file, const YAML::Node& node, Scope scope, Conditions& out,
                      std::vector<Error>& errors);

// A list of keywords (any/all/none, a neighbourhood list's places), folded and without
// repeats; errors are appended and the bad keywords left out.
std::vector<Keyword> parse_keywords(std::string_view file, const YAML::Node& node,
                                    const std::string& field, std::vector<Error>& errors);

// Whether every condition holds. `why` (when given) gets what matched, or the first condition
// that failed ("platform: x is not in [mastodon]"); `neighbourhood` gets the place found.
bool test(const Conditions& c, const Subject& s, std::string* why, std::string* neighbourhood);

// "[a, b, c]", cut after a few items: for messages.
std::string list_text(const std::vector<std::string>& items);

}  // namespace rules
}  // namespace sotong
