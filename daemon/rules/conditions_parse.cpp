// The parsing half of conditions.hpp: YAML `match:` blocks into Conditions, every error kept.
#include <algorithm>
#include <utility>

#include "daemon/rules/conditions.hpp"
#include "daemon/rules/text.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong::rules {
namespace {

// Account names and similar end up in logs: one line, bounded.
constexpr std::size_t kMaxNameBytes = 100;

struct ListSpec {
  std::string field;    // "match.any"
  std::string plural;   // "keywords"
  std::string example;  // "[육교, footbridge]"
  bool one_allowed;     // a single value may stand for a one-item list
};

// The value of a field that is there and not empty (field_problems reports an empty one).
std::optional<YAML::Node> present(const YAML::Node& map, const char* field) {
  const YAML::Node n = map[field];
  if (!n || n.IsNull()) return std::nullopt;
  return n;
}

struct Item {
  std::string text;
  YAML::Node node;
};

std::vector<Item> items(std::string_view file, const YAML::Node& node, const ListSpec& spec,
                        std::vector<Error>& errors) {
  std::vector<YAML::Node> nodes;
  if (node.IsSequence()) {
    if (node.size() == 0) {
      errors.push_back(yaml_file::error_at(file, node, spec.field + " is an empty list"));
      return {};
    }
    if (node.size() > kMaxListItems) {
      errors.push_back(yaml_file::error_at(file, node,
                                           spec.field + " has more than " +
                                               std::to_string(kMaxListItems) + " " + spec.plural +
                                               "; split the rule"));
      return {};
    }
    for (const auto& n : node) nodes.push_back(n);
  } else if (spec.one_allowed && node.IsScalar()) {
    nodes.push_back(node);
  } else {
    errors.push_back(yaml_file::error_at(
        file, node, spec.field + " must be a list of " + spec.plural + ", e.g. " + spec.example));
    return {};
  }
  std::vector<Item> out;
  for (const auto& n : nodes) {
    auto v = yaml_file::text(file, n, "an item of " + spec.field);
    if (!v) {
      errors.push_back(Error{v.error()});
      continue;
    }
    out.push_back({std::move(*v), n});
  }
  return out;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (!contains(v, s)) v.push_back(std::move(s));
}

std::vector<Pattern> parse_patterns(std::string_view file, const YAML::Node& node,
                                    std::vector<Error>& errors) {
  std::vector<Pattern> out;
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);  // the admin gets the error in our message instead
  options.set_max_mem(kPatternMaxMem);
  const ListSpec spec{"match.patterns", "patterns", "[\"씨\\\\s*발\", \"(?i)\\\\bf+u+c+k\"]",
                      false};
  for (auto& item : items(file, node, spec, errors)) {
    if (item.text.size() > kMaxPatternBytes) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "pattern longer than " + std::to_string(kMaxPatternBytes) + " bytes; split it"));
      continue;
    }
    // The text is matched in NFC, so the pattern is too: a decomposed 한 in the file still
    // finds a composed 한 in a mention.
    std::string written = text::nfc(item.text);
    auto re = std::make_unique<const RE2>(written, options);
    if (!re->ok()) {
      errors.push_back(yaml_file::error_at(
          file, item.node, "pattern \"" + item.text + "\" is not valid RE2: " + re->error()));
    } else if (RE2::PartialMatch("", *re)) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "pattern \"" + item.text + "\" matches an empty text, so it would match every mention"));
    } else {
      out.push_back({std::move(written), std::move(re)});
    }
  }
  return out;
}

// The text conditions, taken by rules and the reopen block alike.
void parse_text_conditions(std::string_view file, const YAML::Node& node, Conditions& c,
                           std::vector<Error>& errors) {
  std::pair<const char*, std::vector<Keyword>*> lists[] = {
      {"any", &c.any}, {"all", &c.all}, {"none", &c.none}};
  for (auto& [field, target] : lists) {
    if (auto n = present(node, field)) {
      *target = parse_keywords(file, *n, std::string("match.") + field, errors);
    }
  }
  if (auto n = present(node, "patterns")) c.patterns = parse_patterns(file, *n, errors);
}

void parse_mention_conditions(std::string_view file, const YAML::Node& node, Conditions& c,
                              std::vector<Error>& errors) {
  auto each = [&](const char* field, const char* plural, const char* example, auto&& f) {
    if (auto n = present(node, field)) {
      for (auto& item :
           items(file, *n, {std::string("match.") + field, plural, example, true}, errors)) {
        f(item);
      }
    }
  };
  each("hashtags", "hashtags", "[송파, 민원]", [&](Item& item) {
    std::string_view body = item.text;
    if (body.starts_with("#")) body.remove_prefix(1);
    if (body.starts_with("\uFF03")) body.remove_prefix(3);
    std::string tag = text::fold(body);
    if (!is_hashtag_body(tag)) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "hashtag \"" + item.text + "\" may hold only letters, digits and _ (no spaces)"));
      return;
    }
    add_unique(c.hashtags, std::move(tag));
  });
  each("language", "language tags", "[ko, en]", [&](Item& item) {
    std::string tag = lower_ascii(item.text);
    const bool letters =
        std::all_of(tag.begin(), tag.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
    if (!letters || tag.size() < 2 || tag.size() > 3) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "language \"" + item.text +
              "\" is not a primary language tag (two or three letters, e.g. ko or en)"));
      return;
    }
    add_unique(c.languages, std::move(tag));
  });
  each("visibility", "visibilities", "[public, unlisted]", [&](Item& item) {
    if (!parse_visibility(item.text)) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "unknown visibility \"" + item.text + "\" (known: public, unlisted, private, direct)"));
      return;
    }
    add_unique(c.visibilities, item.text);
  });
  each("platform", "platforms", "[mastodon, x]", [&](Item& item) {
    if (item.text != "mastodon" && item.text != "x") {
      errors.push_back(yaml_file::error_at(
          file, item.node, "unknown platform \"" + item.text + "\" (known: mastodon, x)"));
      return;
    }
    add_unique(c.platforms, item.text);
  });
  each("account", "account names", "[songpa]", [&](Item& item) {
    if (!is_one_line(item.text, kMaxNameBytes)) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "an account name is one line of at most " + std::to_string(kMaxNameBytes) + " bytes"));
      return;
    }
    add_unique(c.accounts, item.text);
  });
  each("authors", "handles", "[spammer@example.org]", [&](Item& item) {
    std::string_view h = item.text;
    if (h.starts_with("@")) h.remove_prefix(1);
    std::string handle = text::fold(h);
    const bool ok = is_one_line(handle, kMaxNameBytes) && handle.find(' ') == std::string::npos &&
                    handle.front() != '@' && std::count(handle.begin(), handle.end(), '@') <= 1;
    if (!ok) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "author \"" + item.text + "\" is not a handle (e.g. spammer or spammer@example.org)"));
      return;
    }
    add_unique(c.authors, std::move(handle));
  });
  each("neighbourhood", "list names", "songpa", [&](Item& item) {
    if (!yaml_file::is_identifier(item.text)) {
      errors.push_back(yaml_file::error_at(
          file, item.node,
          "neighbourhood \"" + item.text +
              "\" is not a list name: lower-case letters, digits, \"-\" and \"_\", e.g. songpa"));
      return;
    }
    if (!contains(c.neighbourhood_names, item.text)) {
      c.neighbourhood_names.push_back(item.text);
      c.neighbourhood_wheres.push_back(yaml_file::where(file, item.node.Mark()));
    }
  });
  if (auto n = present(node, "time")) c.time = parse_time_window(file, *n, errors);
}

bool has_positive_condition(const Conditions& c) {
  return !c.any.empty() || !c.all.empty() || !c.patterns.empty() || !c.hashtags.empty() ||
         !c.languages.empty() || !c.visibilities.empty() || !c.platforms.empty() ||
         !c.accounts.empty() || !c.authors.empty() || !c.neighbourhood_names.empty() ||
         c.time.has_value();
}

}  // namespace

std::vector<Keyword> parse_keywords(std::string_view file, const YAML::Node& node,
                                    const std::string& field, std::vector<Error>& errors) {
  std::vector<Keyword> out;
  for (auto& item : items(file, node, {field, "keywords", "[육교, footbridge]", false}, errors)) {
    if (item.text.size() > kMaxKeywordBytes) {
      errors.push_back(yaml_file::error_at(file, item.node,
                                           "keyword longer than " +
                                               std::to_string(kMaxKeywordBytes) +
                                               " bytes; use a shorter phrase"));
      continue;
    }
    std::string folded = normalize(item.text);
    if (folded.find_first_not_of(' ') == std::string::npos) {
      errors.push_back(yaml_file::error_at(file, item.node,
                                           "keyword \"" + item.text +
                                               "\" has no letters or digits (it would match "
                                               "every mention)"));
      continue;
    }
    const bool seen =
        std::any_of(out.begin(), out.end(), [&](const Keyword& k) { return k.folded == folded; });
    if (!seen) out.push_back({text::nfc(item.text), std::move(folded)});
  }
  return out;
}

bool parse_conditions(std::string_view file, const YAML::Node& node, Scope scope, Conditions& out,
                      std::vector<Error>& errors) {
  if (!node.IsMap()) {
    errors.push_back(yaml_file::error_at(
        file, node, "match must be a map of conditions, e.g. match: {any: [육교, footbridge]}"));
    return false;
  }
  const std::size_t errors_before = errors.size();
  auto problems = scope == Scope::kRule
                      ? yaml_file::field_problems(
                            file, node,
                            {"any", "all", "none", "patterns", "hashtags", "language", "visibility",
                             "platform", "account", "authors", "neighbourhood", "time"})
                      : yaml_file::field_problems(file, node, {"any", "all", "none", "patterns"});
  for (auto& e : problems) errors.push_back(std::move(e));
  parse_text_conditions(file, node, out, errors);
  if (scope == Scope::kRule) parse_mention_conditions(file, node, out, errors);
  if (errors.size() != errors_before) return false;
  if (!has_positive_condition(out)) {
    errors.push_back(yaml_file::error_at(
        file, node,
        "match needs any or all, or another condition than none (none alone would match "
        "almost every mention; the default block is for that)"));
    return false;
  }
  return true;
}

}  // namespace sotong::rules
