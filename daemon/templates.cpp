#include "daemon/templates.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>

#include "daemon/text/unicode.hpp"
#include "daemon/util/yaml_file.hpp"

namespace sotong {
namespace {

namespace fs = std::filesystem;

// A language file holds a handful of short replies; 256 KiB is a hundred times that.
constexpr std::size_t kMaxTemplateFileBytes = 256 * 1024;
// One file per language; more than this is a mistake in the folder, not a real need.
constexpr std::size_t kMaxLanguages = 64;
// Variants exist so a burst of tickets does not post identical texts; a few suffice.
constexpr std::size_t kMaxVariants = 32;
// Far above any platform's post length (X 280, Mastodon 500 characters by default).
constexpr std::size_t kMaxVariantBytes = 4096;

constexpr std::string_view kBlanks = " \t";

// A template split into literal text and variable names (views into the template).
struct Piece {
  bool is_variable = false;
  std::string_view text;
};

std::string_view trim(std::string_view s, std::string_view chars) {
  const auto b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(chars) - b + 1);
}

std::string known_list() {
  std::string out;
  for (const auto& v : TemplateSet::known_variables()) out += (out.empty() ? "" : ", ") + v;
  return out;
}

// A department's resolution exists only once it closed the ticket: anywhere else it would be a
// blank in a posted reply.
bool variable_allowed(std::string_view variable, std::string_view key) {
  return variable != "resolution" || key.rfind("followup", 0) == 0;
}

// Splits `tpl`; the error message says what is wrong (the caller adds the position).
Result<std::vector<Piece>> split(std::string_view tpl) {
  std::vector<Piece> pieces;
  std::size_t literal_start = 0;
  auto flush = [&](std::size_t end) {
    if (end > literal_start)
      pieces.push_back({false, tpl.substr(literal_start, end - literal_start)});
  };
  for (std::size_t i = 0; i < tpl.size();) {
    if (tpl.compare(i, 2, "}}") == 0) {
      return Error{"\"}}\" without a matching \"{{\" (a variable is written {{ name }})"};
    }
    if (tpl.compare(i, 2, "{{") != 0) {
      ++i;
      continue;
    }
    const auto close = tpl.find("}}", i + 2);
    if (close == std::string_view::npos) {
      return Error{"\"{{\" is never closed (a variable is written {{ name }})"};
    }
    const std::string_view name = trim(tpl.substr(i + 2, close - i - 2), kBlanks);
    if (name.find('{') != std::string_view::npos) {
      return Error{"\"{{\" is never closed before the next \"{{\""};
    }
    const auto& known = TemplateSet::known_variables();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Error{"unknown variable {{" + std::string(name) + "}} (known: " + known_list() + ")"};
    }
    flush(i);
    pieces.push_back({true, name});
    i = close + 2;
    literal_start = i;
  }
  flush(tpl.size());
  return pieces;
}

// FNV-1a, 64 bit: stable across runs, builds and machines, unlike std::hash, so a ticket's
// variant never changes when the daemon restarts.
uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool is_language_tag(std::string_view s) {
  return s.size() >= 2 && s.size() <= 3 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Reads one template text: sanitised, NFC, surrounding blank lines removed, variables checked.
Result<std::string> variant(std::string_view name, const YAML::Node& node, const std::string& key) {
  auto raw = yaml_file::text(name, node, "template \"" + key + "\"");
  if (!raw) return Error{raw.error()};
  std::string tpl = text::nfc(trim(*raw, " \t\n"));
  if (tpl.empty()) return yaml_file::error_at(name, node, "template \"" + key + "\" is blank");
  if (tpl.size() > kMaxVariantBytes) {
    return yaml_file::error_at(
        name, node,
        "template \"" + key + "\" is longer than " + std::to_string(kMaxVariantBytes) + " bytes");
  }
  auto pieces = split(tpl);
  if (!pieces) {
    return yaml_file::error_at(name, node, "template \"" + key + "\": " + pieces.error());
  }
  for (const Piece& p : *pieces) {
    if (p.is_variable && !variable_allowed(p.text, key)) {
      return yaml_file::error_at(name, node,
                                 "template \"" + key + "\": {{" + std::string(p.text) +
                                     "}} has a value only in followup templates");
    }
  }
  return tpl;
}

using Texts = std::map<std::string, std::vector<std::string>, std::less<>>;
using Wheres = std::map<std::string, std::vector<std::string>, std::less<>>;

struct Variants {
  std::vector<std::string> texts;
  std::vector<std::string> wheres;  // file:line:column of each
};

Result<Variants> variants(std::string_view name, const YAML::Node& node, const std::string& key) {
  Variants out;
  if (!node.IsSequence()) {
    auto one = variant(name, node, key);
    if (!one) return Error{one.error()};
    out.texts.push_back(std::move(*one));
    out.wheres.push_back(yaml_file::where(name, node.Mark()));
    return out;
  }
  if (node.size() == 0) {
    return yaml_file::error_at(name, node, "template \"" + key + "\" has no variants");
  }
  if (node.size() > kMaxVariants) {
    return yaml_file::error_at(
        name, node,
        "template \"" + key + "\" has more than " + std::to_string(kMaxVariants) + " variants");
  }
  std::string errors;
  for (const auto& item : node) {
    auto one = variant(name, item, key);
    if (!one) {
      errors += (errors.empty() ? "" : "\n") + one.error();
      continue;
    }
    out.texts.push_back(std::move(*one));
    out.wheres.push_back(yaml_file::where(name, item.Mark()));
  }
  if (!errors.empty()) return Error{errors};
  return out;
}

struct LanguageFile {
  std::string language;
  Texts texts;
  Wheres wheres;
};

// Parses one <lang>.yaml; `stem` is the language its file name promises.
Result<LanguageFile> load_file(std::string_view yaml, std::string_view name,
                               std::string_view stem) {
  auto doc = yaml_file::parse(yaml, name, kMaxTemplateFileBytes);
  if (!doc) return Error{doc.error()};
  const YAML::Node& root = *doc;
  if (!root.IsMap()) {
    return yaml_file::error_at(name, root, "expected a map with language: and templates:");
  }
  if (auto st = yaml_file::check_fields(name, root, {"language", "templates"}); !st) {
    return Error{st.error()};
  }
  if (!root["language"]) return yaml_file::error_at(name, root, "no language: field");
  auto lang = yaml_file::text(name, root["language"], "language");
  if (!lang) return Error{lang.error()};
  if (!is_language_tag(*lang) || *lang != stem) {
    return yaml_file::error_at(name, root["language"],
                               "language \"" + *lang +
                                   "\" must be a lower-case primary tag "
                                   "(like ko or en) equal to the file name \"" +
                                   std::string(stem) + ".yaml\"");
  }
  const YAML::Node map = root["templates"];
  if (!map || !map.IsMap()) {
    return yaml_file::error_at(name, map ? map : root,
                               "templates: must be a map from key to text or list of texts");
  }
  LanguageFile out;
  std::string errors;
  auto fail = [&](const std::string& e) { errors += (errors.empty() ? "" : "\n") + e; };
  for (const auto& kv : map) {
    auto key = yaml_file::identifier(name, kv.first, "template key", "ack_roads");
    if (!key) {
      fail(key.error());
      continue;
    }
    if (out.texts.contains(*key)) {
      fail(yaml_file::error_at(name, kv.first, "template \"" + *key + "\" given twice").message);
      continue;
    }
    if (kv.second.IsNull()) {
      fail(yaml_file::error_at(name, kv.first, "template \"" + *key + "\" has no text").message);
      continue;
    }
    auto v = variants(name, kv.second, *key);
    if (!v) {
      fail(v.error());
      continue;
    }
    out.wheres.emplace(*key, std::move(v->wheres));
    out.texts.emplace(std::move(*key), std::move(v->texts));
  }
  for (const auto& required : TemplateSet::required_keys()) {
    if (!out.texts.contains(required) && errors.find('"' + required + '"') == std::string::npos) {
      fail(yaml_file::error_at(name, map, "missing the required template \"" + required + "\"")
               .message);
    }
  }
  if (!errors.empty()) return Error{errors};
  out.language = std::move(*lang);
  return out;
}

}  // namespace

const std::vector<std::string>& TemplateSet::known_variables() {
  static const std::vector<std::string> kVariables{
      "author",     "ticket",     "department",         "category", "eta",
      "status_url", "resolution", "next_business_time", "comment"};
  return kVariables;
}

const std::vector<std::string>& TemplateSet::required_keys() {
  static const std::vector<std::string> kKeys{"ack", "ack_urgent", "followup"};
  return kKeys;
}

Result<TemplateSet> TemplateSet::load_dir(const fs::path& dir, std::string_view fallback_language) {
  auto files = yaml_file::list(dir, kMaxLanguages);
  if (!files) return Error{files.error()};
  TemplateSet set;
  std::string errors;
  for (const auto& path : *files) {
    auto data = yaml_file::read(path, kMaxTemplateFileBytes);
    if (!data) {
      errors += (errors.empty() ? "" : "\n") + data.error();
      continue;
    }
    auto lang = load_file(*data, path.string(), path.stem().string());
    if (!lang) {
      errors += (errors.empty() ? "" : "\n") + lang.error();
      continue;
    }
    set.wheres_.emplace(lang->language, std::move(lang->wheres));
    set.texts_.emplace(std::move(lang->language), std::move(lang->texts));
  }
  if (!errors.empty()) return Error{errors};
  if (!set.texts_.contains(fallback_language)) {
    return Error{dir.string() + ": no template file for the fallback language \"" +
                 std::string(fallback_language) + "\" (expected " + std::string(fallback_language) +
                 ".yaml)"};
  }
  set.fallback_ = std::string(fallback_language);
  return set;
}

std::string TemplateSet::resolve_language(std::string_view language) const {
  std::string primary(language.substr(0, std::min(language.find_first_of("-_"), language.size())));
  std::transform(primary.begin(), primary.end(), primary.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return texts_.contains(primary) ? primary : fallback_;
}

// A key counts as present when the fallback language has it: then every language can render
// it (falling back where it lacks its own text).
bool TemplateSet::has_key(std::string_view key) const {
  const auto lang = texts_.find(fallback_);
  return lang != texts_.end() && lang->second.contains(key);
}

Result<std::string> TemplateSet::render(std::string_view key, std::string_view language,
                                        const TemplateVars& vars, std::string_view seed) const {
  return render_variant(key, language, vars, static_cast<std::size_t>(fnv1a64(seed)));
}

std::vector<std::string> TemplateSet::keys(std::string_view language) const {
  std::vector<std::string> out;
  if (const auto l = texts_.find(language); l != texts_.end())
    for (const auto& [k, v] : l->second) out.push_back(k);
  return out;
}

std::size_t TemplateSet::variant_count(std::string_view key, std::string_view language) const {
  for (const std::string& lang : {resolve_language(language), fallback_}) {
    const auto l = texts_.find(lang);
    if (l == texts_.end()) continue;
    if (const auto k = l->second.find(key); k != l->second.end()) return k->second.size();
  }
  return 0;
}

Result<std::string> TemplateSet::render_variant(std::string_view key, std::string_view language,
                                                const TemplateVars& vars, std::size_t index) const {
  const std::vector<std::string>* found = nullptr;
  std::string used;
  for (const std::string& lang : {resolve_language(language), fallback_}) {
    const auto l = texts_.find(lang);
    if (l == texts_.end()) continue;
    if (const auto k = l->second.find(key); k != l->second.end()) {
      found = &k->second;
      used = lang;
      break;
    }
  }
  if (found == nullptr || found->empty()) {
    return Error{"no template \"" + std::string(key) + "\" for language \"" +
                 std::string(language) + "\" or the fallback \"" + fallback_ + "\""};
  }
  const std::string& tpl = (*found)[index % found->size()];
  auto pieces = split(tpl);
  if (!pieces) return Error{"template \"" + std::string(key) + "\": " + pieces.error()};
  std::string out;
  out.reserve(tpl.size() + 64);
  for (const Piece& p : *pieces) {
    if (!p.is_variable) {
      out += p.text;
      continue;
    }
    const auto v = vars.find(p.text);
    if (v == vars.end()) {
      return Error{"template \"" + std::string(key) + "\" (" + used + ") uses {{" +
                   std::string(p.text) + "}} but no value was given for it"};
    }
    out += v->second;
  }
  // Values come from platforms and departments: normalise them like everything we post.
  return text::nfc(out);
}

std::string TemplateSet::where(std::string_view key, std::string_view language,
                               std::size_t index) const {
  const auto l = wheres_.find(language);
  if (l == wheres_.end()) return std::string(language);
  const auto k = l->second.find(key);
  if (k == l->second.end() || k->second.empty()) return std::string(language);
  return k->second[index % k->second.size()];
}

std::vector<std::string> TemplateSet::uses(std::string_view variable) const {
  std::vector<std::string> out;
  for (const auto& [lang, keys] : texts_) {
    for (const auto& [key, texts] : keys) {
      for (std::size_t i = 0; i < texts.size(); ++i) {
        auto pieces = split(texts[i]);
        if (!pieces) continue;
        for (const Piece& p : *pieces) {
          if (p.is_variable && p.text == variable) {
            out.push_back(where(key, lang, i) + ": template \"" + key + "\"");
            break;
          }
        }
      }
    }
  }
  return out;
}

std::vector<std::string> TemplateSet::languages() const {
  std::vector<std::string> out;
  for (const auto& [lang, keys] : texts_) out.push_back(lang);
  return out;
}

}  // namespace sotong
