#include "daemon/store/db.hpp"

namespace sotong::db {

const char* to_string(Fault f) {
  switch (f) {
    case Fault::kNone:
      return "none";
    case Fault::kFull:
      return "full";
    case Fault::kReadOnly:
      return "read-only";
    case Fault::kIo:
      return "i/o error";
    case Fault::kUnavailable:
      return "unavailable";
    case Fault::kBusy:
      return "busy";
    case Fault::kConstraint:
      return "constraint";
    case Fault::kOther:
      return "other";
  }
  return "unknown";
}

bool is_environmental(Fault f) {
  switch (f) {
    case Fault::kFull:
    case Fault::kReadOnly:
    case Fault::kIo:
    case Fault::kUnavailable:
      return true;
    case Fault::kNone:
    case Fault::kBusy:
    case Fault::kConstraint:
    case Fault::kOther:
      return false;
  }
  return false;
}

}  // namespace sotong::db
