// Finds personal data in Korean and English mention text, so it can be masked wherever text
// leaves the store for a log or a public place: mobile and landline numbers in Korean
// formats, resident registration numbers, e-mail addresses, card numbers (Luhn-checked) and
// car plate numbers. Patterns are RE2: linear time on hostile text. Thread-safe after the
// first call (the compiled patterns are immutable statics).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sotong::text {

enum class PersonalDataKind { kPhone, kResidentNumber, kEmail, kCardNumber, kCarPlate };
std::string_view to_string(PersonalDataKind k);

struct PersonalDataSpan {
  PersonalDataKind kind;
  std::size_t begin = 0;  // byte offsets into the text
  std::size_t end = 0;
};

// Non-overlapping spans, in text order.
std::vector<PersonalDataSpan> find_personal_data(std::string_view text);
// The text with each span replaced by "[kind]", e.g. "[phone]".
std::string mask_personal_data(std::string_view text);

}  // namespace sotong::text
