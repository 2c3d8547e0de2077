#include "daemon/util/yaml_file.hpp"

#include <utf8proc.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace sotong::yaml_file {
namespace {

// Thrown by the checking pass to stop the parser at the first problem; caught in parse().
struct Rejected {
  YAML::Mark mark;
  std::string message;
};

// Sees the document as events before any node is built: aliases and depth are rejected here,
// where nothing has been expanded yet.
class Checker final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) throw Rejected{mark, "only one YAML document per file (found \"---\")"};
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw Rejected{mark, "aliases (*name) are not allowed: write the value out in full"};
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void enter(const YAML::Mark& mark) {
    if (++depth_ > kMaxDepth) {
      throw Rejected{mark, "nested more than " + std::to_string(kMaxDepth) + " levels deep"};
    }
  }

  int documents_ = 0;
  int depth_ = 0;
};

// The position of the first byte that is not valid UTF-8 or is NUL, if any.
std::optional<YAML::Mark> first_bad_byte(std::string_view text) {
  YAML::Mark mark;
  mark.pos = 0;
  mark.line = 0;
  mark.column = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp == 0) return mark;
    mark.pos += static_cast<int>(n);
    if (cp == '\n') {
      ++mark.line;
      mark.column = 0;
    } else {
      mark.column += static_cast<int>(n);  // bytes, as yaml-cpp counts them
    }
    p += n;
    left -= n;
  }
  return std::nullopt;
}

std::string too_big(std::string_view name, std::size_t max_bytes) {
  return std::string(name) + ": file is larger than " + std::to_string(max_bytes / 1024) +
         " KiB; split it into several files";
}

}  // namespace

Result<std::string> read(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Error{path.string() + ": not a regular file" + (ec ? " (" + ec.message() + ")" : "")};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path.string() + ": cannot open for reading"};
  // One byte more than allowed tells "exactly at the cap" from "over it" without trusting
  // the size the file system reports (the file may change while we read).
  std::string data(max_bytes + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return Error{path.string() + ": read error"};
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > max_bytes) return Error{too_big(path.string(), max_bytes)};
  return data;
}

Result<YAML::Node> parse(std::string_view text, std::string_view name, std::size_t max_bytes) {
  if (text.size() > max_bytes) return Error{too_big(name, max_bytes)};
  if (auto bad = first_bad_byte(text)) {
    return Error{where(name, *bad) + ": not valid UTF-8 text (save the file as UTF-8)"};
  }
  const std::string owned(text);
  try {
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    Checker checker;
    while (parser.HandleNextDocument(checker)) {
    }
    return YAML::Load(owned);
  } catch (const Rejected& r) {
    return Error{where(name, r.mark) + ": " + r.message};
  } catch (const YAML::Exception& e) {
    return Error{where(name, e.mark) + ": " + e.msg};
  }
}

std::string where(std::string_view name, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return std::string(name);
  return std::string(name) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

Error error_at(std::string_view name, const YAML::Node& node, std::string_view message) {
  return Error{where(name, node.Mark()) + ": " + std::string(message)};
}

Status check_fields(std::string_view name, const YAML::Node& map,
                    std::initializer_list<std::string_view> known) {
  auto problems = field_problems(name, map, known);
  if (problems.empty()) return Status::Ok();
  return std::move(problems.front());
}

std::vector<Error> field_problems(std::string_view name, const YAML::Node& map,
                                  std::initializer_list<std::string_view> known) {
  std::vector<Error> problems;
  std::map<std::string, YAML::Mark, std::less<>> seen;
  for (const auto& kv : map) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      problems.push_back(error_at(name, key, "a field name must be plain text"));
      continue;
    }
    const std::string& field = key.Scalar();
    bool is_known = false;
    for (auto k : known) is_known = is_known || k == field;
    if (!is_known) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      problems.push_back(
          error_at(name, key, "unknown field \"" + field + "\" (known: " + list + ")"));
      continue;
    }
    // An absent value's own mark points past the line; the key's is where the admin looks.
    if (kv.second.IsNull()) {
      problems.push_back(error_at(name, key, "field \"" + field + "\" has no value"));
      continue;
    }
    auto [it, inserted] = seen.emplace(field, key.Mark());
    if (!inserted) {
      problems.push_back(error_at(name, key,
                                  "field \"" + field + "\" given twice (first at line " +
                                      std::to_string(it->second.line + 1) + ")"));
    }
  }
  return problems;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifierBytes) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

Result<std::string> text(std::string_view name, const YAML::Node& node, std::string_view field) {
  const std::string f(field);
  if (node.IsSequence()) return error_at(name, node, f + " must be text, not a list");
  if (node.IsMap()) return error_at(name, node, f + " must be text, not a map");
  if (!node.IsScalar() || node.Scalar().empty()) return error_at(name, node, f + " is empty");
  return node.Scalar();
}

Result<std::string> identifier(std::string_view name, const YAML::Node& node,
                               std::string_view field, std::string_view example) {
  auto v = text(name, node, field);
  if (!v) return v;
  if (!is_identifier(*v)) {
    return error_at(name, node,
                    std::string(field) + " \"" + *v +
                        "\" is not an id: lower-case letters, digits, \"-\" and \"_\", e.g. " +
                        std::string(example));
  }
  return v;
}

Result<std::vector<std::filesystem::path>> list(const std::filesystem::path& dir,
                                                std::size_t max_files) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".yaml" && !p.filename().string().starts_with('.')) files.push_back(p);
  }
  if (ec) return Error{dir.string() + ": cannot list the folder: " + ec.message()};
  if (files.size() > max_files) {
    return Error{dir.string() + ": more than " + std::to_string(max_files) + " *.yaml files"};
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
  return files;
}

}  // namespace sotong::yaml_file
