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
  return "other";
}

bool is_environmental(Fault f) {
  return f == Fault::kFull || f == Fault::kReadOnly || f == Fault::kIo || f == Fault::kUnavailable;
}

}  // namespace sotong::db

// Until the libpq connection lands.
namespace sotong::db {
Result<std::unique_ptr<Connection>> open_postgres(const std::string&) {
  return Error{"this sotongd was built without PostgreSQL"};
}
}  // namespace sotong::db
