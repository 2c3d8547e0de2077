#include "daemon/mention.hpp"

#include <array>
#include <utility>

namespace sotong {
namespace {

constexpr std::array<std::pair<Visibility, std::string_view>, 4> kVisibilityNames{{
    {Visibility::kPublic, "public"},
    {Visibility::kUnlisted, "unlisted"},
    {Visibility::kPrivate, "private"},
    {Visibility::kDirect, "direct"},
}};

constexpr std::array<std::pair<Priority, std::string_view>, 4> kPriorityNames{{
    {Priority::kUrgent, "urgent"},
    {Priority::kHigh, "high"},
    {Priority::kNormal, "normal"},
    {Priority::kLow, "low"},
}};

}  // namespace

std::string_view to_string(Visibility v) {
  for (const auto& [value, name] : kVisibilityNames) {
    if (value == v) return name;
  }
  return "direct";  // out-of-range values are treated as the narrowest audience
}

std::optional<Visibility> parse_visibility(std::string_view s) {
  for (const auto& [value, name] : kVisibilityNames) {
    if (name == s) return value;
  }
  return std::nullopt;
}

Visibility narrower(Visibility a, Visibility b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

std::string_view to_string(Priority p) {
  for (const auto& [value, name] : kPriorityNames) {
    if (value == p) return name;
  }
  return "normal";
}

std::optional<Priority> parse_priority(std::string_view s) {
  for (const auto& [value, name] : kPriorityNames) {
    if (name == s) return value;
  }
  return std::nullopt;
}

Visibility reply_visibility(Visibility mention) {
  return mention == Visibility::kPrivate ? Visibility::kDirect : mention;
}

}  // namespace sotong
