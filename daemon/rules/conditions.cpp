// The testing half of conditions.hpp (parsing is in conditions_parse.cpp). Cheap conditions on
// the mention's fields come first; the text is searched only when they hold.
#include "daemon/rules/conditions.hpp"

#include <algorithm>

#include "daemon/rules/text.hpp"
#include "daemon/text/unicode.hpp"
#include "daemon/util/clock.hpp"

namespace sotong::rules {
namespace {

// Lists in messages are cut so an --explain line stays readable.
constexpr std::size_t kMaxListedItems = 6;
// Matched text quoted in a message: enough to recognise, short enough for one line.
constexpr std::size_t kMaxQuotedBytes = 60;

std::string without_at(std::string_view s) {
  if (s.starts_with("@")) s.remove_prefix(1);
  return text::fold(s);
}

std::string primary_language(std::string_view tag) {
  std::string out(tag.substr(0, tag.find_first_of("-_")));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string quoted(std::string_view s) {
  if (s.size() <= kMaxQuotedBytes) return "\"" + std::string(s) + "\"";
  std::size_t end = kMaxQuotedBytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return "\"" + std::string(s.substr(0, end)) + "…\"";
}

std::string shown(const std::string& value) {
  return value.empty() ? "(none)" : value;
}

template <class T, class F>
std::vector<std::string> names(const std::vector<T>& items, F f) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(f(i));
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The place named earliest in the text, the longest one at that position.
struct Place {
  std::size_t at = std::string::npos;
  const Keyword* place = nullptr;
  const NeighbourhoodList* list = nullptr;
};

Place find_place(const Conditions& c, const std::string& text) {
  Place best;
  for (const auto& list : c.neighbourhoods) {
    for (const auto& p : list->places) {
      const auto at = text.find(p.folded);
      if (at == std::string::npos) continue;
      if (at < best.at || (at == best.at && p.folded.size() > best.place->folded.size())) {
        best = {at, &p, list.get()};
      }
    }
  }
  return best;
}

}  // namespace

Subject::Subject(const Mention& m, const Calendar* cal)
    : mention(m),
      calendar(cal),
      at_ms(m.created_at_ms != 0 ? m.created_at_ms : now_ms()),
      keywords(keyword_form(m.text)),
      nfc(text::nfc(matched_part(m.text))),
      hashtags(rules::hashtags(nfc)),
      language(primary_language(m.language)),
      author(without_at(m.author)),
      author_acct(without_at(m.author_acct)) {}

std::string list_text(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size() && i < kMaxListedItems; ++i) {
    out += (i ? ", " : "") + items[i];
  }
  if (items.size() > kMaxListedItems) {
    out += ", … " + std::to_string(items.size() - kMaxListedItems) + " more";
  }
  return out + "]";
}

bool test(const Conditions& c, const Subject& s, std::string* why, std::string* neighbourhood) {
  const Mention& m = s.mention;
  std::string passed;
  // Messages are built only for a trace: decide() without one stays allocation-light.
  auto pass = [&](auto&& message) {
    if (why) passed += (passed.empty() ? "" : "; ") + message();
  };
  auto fail = [&](auto&& message) {
    if (why) *why = message();
    return false;
  };
  auto written = [](const Keyword& k) { return k.written; };

  // platform, account, visibility, language: the mention's value must be in the list.
  auto listed = [&](const char* field, const std::string& value,
                    const std::vector<std::string>& list) {
    if (list.empty()) return true;
    if (!contains(list, value)) {
      return fail([&] {
        return std::string(field) + ": " + shown(value) + " is not in " + list_text(list);
      });
    }
    pass([&] { return std::string(field) + ": " + value; });
    return true;
  };
  if (!listed("platform", m.platform, c.platforms) || !listed("account", m.account, c.accounts) ||
      !listed("visibility", std::string(to_string(m.visibility)), c.visibilities) ||
      !listed("language", s.language, c.languages)) {
    return false;
  }
  if (!c.authors.empty()) {
    const std::string who = "@" + (s.author_acct.empty() ? s.author : s.author_acct);
    if (!contains(c.authors, s.author_acct) && !contains(c.authors, s.author)) {
      return fail([&] { return "authors: " + who + " is not listed"; });
    }
    pass([&] { return "authors: " + who + " is listed"; });
  }
  if (c.time) {
    std::string w;
    const bool in = s.calendar && in_window(*c.time, *s.calendar, s.at_ms, why ? &w : nullptr);
    if (!in) return fail([&] { return "time: " + (s.calendar ? w : "no calendar"); });
    pass([&] { return "time: " + w; });
  }
  if (!c.hashtags.empty()) {
    const auto found = std::find_if(c.hashtags.begin(), c.hashtags.end(), [&](const auto& t) {
      return std::binary_search(s.hashtags.begin(), s.hashtags.end(), t);
    });
    auto hashed = [](const std::string& t) { return "#" + t; };
    if (found == c.hashtags.end()) {
      return fail([&] {
        return "hashtags: none of " + list_text(names(c.hashtags, hashed)) + " in the text" +
               (s.hashtags.empty() ? " (it has none)"
                                   : " (it has " + list_text(names(s.hashtags, hashed)) + ")");
      });
    }
    pass([&] { return "hashtags: found #" + *found; });
  }
  for (const auto& k : c.none) {
    if (s.keywords.find(k.folded) != std::string::npos) {
      return fail([&] { return "none: found " + quoted(k.written); });
    }
  }
  if (!c.all.empty()) {
    for (const auto& k : c.all) {
      if (s.keywords.find(k.folded) == std::string::npos) {
        return fail([&] { return "all: missing " + quoted(k.written); });
      }
    }
    pass([&] { return "all: found " + list_text(names(c.all, written)); });
  }
  if (!c.any.empty()) {
    const auto found = std::find_if(c.any.begin(), c.any.end(), [&](const Keyword& k) {
      return s.keywords.find(k.folded) != std::string::npos;
    });
    if (found == c.any.end()) {
      return fail([&] { return "any: none of " + list_text(names(c.any, written)) + " found"; });
    }
    pass([&] { return "any: found " + quoted(found->written); });
  }
  if (!c.neighbourhoods.empty()) {
    const Place p = find_place(c, s.keywords);
    if (!p.place) {
      return fail([&] {
        return "neighbourhood: no place from " + list_text(c.neighbourhood_names) + " found";
      });
    }
    if (neighbourhood) *neighbourhood = p.place->written;
    pass([&] {
      return "neighbourhood: found " + quoted(p.place->written) + " (" + p.list->name + ")";
    });
  }
  if (!c.patterns.empty()) {
    re2::StringPiece match;
    const auto found = std::find_if(c.patterns.begin(), c.patterns.end(), [&](const Pattern& p) {
      return p.re->Match(s.nfc, 0, s.nfc.size(), RE2::UNANCHORED, &match, 1);
    });
    auto slashed = [](const Pattern& p) { return "/" + p.written + "/"; };
    if (found == c.patterns.end()) {
      return fail(
          [&] { return "patterns: no match for " + list_text(names(c.patterns, slashed)); });
    }
    pass([&] {
      return "patterns: " + slashed(*found) + " matched " +
             quoted(std::string_view(match.data(), match.size()));
    });
  }
  if (why) *why = passed;
  return true;
}

}  // namespace sotong::rules
