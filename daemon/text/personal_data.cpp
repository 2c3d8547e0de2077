#include "daemon/text/personal_data.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <memory>

namespace sotong::text {
namespace {

// Digits may be split by a hyphen, a dot or a space, as people write them.
constexpr const char* kSep = R"([-. ]?)";

struct Pattern {
  PersonalDataKind kind;
  std::unique_ptr<RE2> re;
};

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d += c;
  return d;
}

bool luhn(const std::string& d) {
  int sum = 0;
  bool twice = false;
  for (auto it = d.rbegin(); it != d.rend(); ++it) {
    int v = *it - '0';
    if (twice) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// YYMMDD-G######: a real month and day, and a gender/century digit 1-8.
bool plausible_resident_number(const std::string& d) {
  if (d.size() != 13) return false;
  int month = (d[2] - '0') * 10 + (d[3] - '0');
  int day = (d[4] - '0') * 10 + (d[5] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && d[6] >= '1' && d[6] <= '8';
}

const std::vector<Pattern>& patterns() {
  static const std::vector<Pattern> kPatterns = [] {
    std::vector<Pattern> p;
    RE2::Options o;
    o.set_log_errors(false);
    auto add = [&](PersonalDataKind k, const std::string& re) {
      p.push_back({k, std::make_unique<RE2>(re, o)});
    };
    // Not preceded or followed by another digit, so parts of longer numbers do not match.
    const std::string s = kSep;
    add(PersonalDataKind::kResidentNumber,
        R"((?:^|[^0-9])([0-9]{6}[- ]?[1-8][0-9]{6})(?:[^0-9]|$))");
    add(PersonalDataKind::kCardNumber,
        R"((?:^|[^0-9])([0-9]{4}(?:[- ]?[0-9]{4}){2}[- ]?[0-9]{1,7})(?:[^0-9]|$))");
    add(PersonalDataKind::kPhone, R"((?:^|[^0-9+])((?:\+82[- ]?|0)1[016789])" + s +
                                      R"([0-9]{3,4})" + s + R"([0-9]{4})(?:[^0-9]|$))");
    add(PersonalDataKind::kPhone,
        R"((?:^|[^0-9+])((?:\+82[- ]?|0)(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70))" + s +
            R"([0-9]{3,4})" + s + R"([0-9]{4})(?:[^0-9]|$))");
    add(PersonalDataKind::kEmail,
        R"(([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}))");
    // 12가3456, 123가 4567, 서울12가3456: digits, one Hangul syllable, four digits.
    add(PersonalDataKind::kCarPlate,
        "(?:^|[^0-9])((?:(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|"
        "전남|경북|경남|제주) ?)?[0-9]{2,3} ?\\p{Hangul} ?[0-9]{4})(?:[^0-9]|$)");
    return p;
  }();
  return kPatterns;
}

}  // namespace

std::string_view to_string(PersonalDataKind k) {
  switch (k) {
    case PersonalDataKind::kPhone:
      return "phone";
    case PersonalDataKind::kResidentNumber:
      return "resident-number";
    case PersonalDataKind::kEmail:
      return "email";
    case PersonalDataKind::kCardNumber:
      return "card-number";
    case PersonalDataKind::kCarPlate:
      return "car-plate";
  }
  return "personal-data";
}

std::vector<PersonalDataSpan> find_personal_data(std::string_view text) {
  std::vector<PersonalDataSpan> found;
  for (const auto& p : patterns()) {
    re2::StringPiece input(text.data(), text.size());
    re2::StringPiece match;
    while (RE2::FindAndConsume(&input, *p.re, &match)) {
      const auto begin = static_cast<std::size_t>(match.data() - text.data());
      const std::string d = digits_of(std::string_view(match.data(), match.size()));
      bool keep = true;
      if (p.kind == PersonalDataKind::kResidentNumber) keep = plausible_resident_number(d);
      if (p.kind == PersonalDataKind::kCardNumber)
        keep = d.size() >= 13 && d.size() <= 19 && luhn(d);
      if (keep) found.push_back({p.kind, begin, begin + match.size()});
      // The trailing guard character was consumed; step back so adjacent numbers are seen.
      if (input.data() > text.data() + begin + match.size()) {
        const auto back = input.data() - (text.data() + begin + match.size());
        input = re2::StringPiece(input.data() - back, input.size() + back);
      }
      if (match.empty()) break;
    }
  }
  // Earlier patterns win where spans overlap (a resident number is not also a phone number).
  std::vector<PersonalDataSpan> out;
  for (const auto& f : found) {
    bool overlaps = std::any_of(out.begin(), out.end(), [&](const PersonalDataSpan& o) {
      return f.begin < o.end && o.begin < f.end;
    });
    if (!overlaps) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const PersonalDataSpan& a, const PersonalDataSpan& b) { return a.begin < b.begin; });
  return out;
}

std::string mask_personal_data(std::string_view text) {
  std::string out;
  std::size_t at = 0;
  for (const auto& s : find_personal_data(text)) {
    out.append(text.substr(at, s.begin - at));
    out += "[";
    out += to_string(s.kind);
    out += "]";
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

}  // namespace sotong::text
