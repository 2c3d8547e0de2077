// `sotongd --explain`: what the desk would do with a mention, without a store or network:
// the rules tried and why each did or did not match, the decision, and the reply as the
// citizen would see it with its length as the platform counts it. For admins editing rules.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/pipeline.hpp"

namespace sotong {

struct ExplainInput {
  std::string text;
  std::string language;  // empty: none given (the fallback language answers)
  std::string author = "citizen";
  std::string platform;  // empty: the first account's
  std::string account;   // empty: the first account on `platform`
  std::string visibility = "public";
  std::string at;  // "YYYY-MM-DD HH:MM" in the desk's time zone; empty: now
};

// The report, or an error for bad input (unknown platform, account, visibility or time).
Result<std::string> explain(const Runtime& rt, const ExplainInput& in, int64_t now_ms);

}  // namespace sotong
