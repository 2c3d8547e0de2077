#include "daemon/config_parse.hpp"

#include <cstdlib>
#include <fstream>

namespace sotong::config_parse {

namespace fs = std::filesystem;

namespace {
// A token file holds one token; anything larger is not one.
constexpr std::uintmax_t kMaxSecretBytes = std::uintmax_t{16} * 1024;
}  // namespace

std::string Ctx::where(const YAML::Node& n) const {
  const auto m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

Error Ctx::err(const YAML::Node& n, const std::string& msg) const {
  return Error{where(n) + ": " + msg};
}

Status check_keys(const Ctx& c, const YAML::Node& map, const std::set<std::string>& known,
                  const std::string& what) {
  if (!map.IsMap()) return c.err(map, what + " must be a mapping");
  for (const auto& kv : map) {
    auto key = kv.first.as<std::string>();
    if (!known.contains(key)) {
      std::string list;
      for (const auto& k : known) {
        if (!list.empty()) list += ", ";
        list += k;
      }
      return c.err(kv.first, "unknown field \"" + key + "\" in " + what + " (known: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> scalar(const Ctx& c, const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) return c.err(n, field + " must be a string");
  return n.as<std::string>();
}

Result<int64_t> integer(const Ctx& c, const YAML::Node& n, const std::string& field, int64_t lo,
                        int64_t hi) {
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v))
    return c.err(n, field + " must be an integer");
  if (v < lo || v > hi)
    return c.err(n,
                 field + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

Result<bool> boolean(const Ctx& c, const YAML::Node& n, const std::string& field) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
    return c.err(n, field + " must be true or false");
  return v;
}

namespace {
Result<std::string> read_secret_file(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) return Error{"cannot read secret file " + p.string() + ": " + ec.message()};
  if (size > kMaxSecretBytes) return Error{"secret file " + p.string() + " is too large"};
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return Error{"secret file " + p.string() + " is empty"};
  return s;
}
}  // namespace

bool valid_prefix(const std::string& p) {
  bool good = !p.empty() && p.size() <= 8;
  for (char ch : p) good = good && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'));
  return good;
}

Result<std::string> resolve_secret(const Ctx& c, const YAML::Node& acc, const fs::path& base,
                                   const std::string& name, bool required) {
  const std::string file = name + "_file", env = name + "_env", cred = name + "_credential";
  int given = (acc[file] ? 1 : 0) + (acc[env] ? 1 : 0) + (acc[cred] ? 1 : 0);
  if (given == 0 && !required) return std::string();
  if (given != 1)
    return c.err(acc, "the account needs exactly one of " + file + ", " + env + ", " + cred);
  if (acc[file]) {
    auto f = scalar(c, acc[file], file);
    if (!f) return Error{f.error()};
    auto r = read_secret_file(base / *f);
    if (!r) return c.err(acc[file], r.error());
    return r;
  }
  if (acc[env]) {
    auto var = scalar(c, acc[env], env);
    if (!var) return Error{var.error()};
    // Config loads on one thread and nothing in sotongd calls setenv.
    const char* v = std::getenv(var->c_str());  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr || *v == '\0')
      return c.err(acc[env], "environment variable " + *var + " is not set");
    return std::string(v);
  }
  auto credential = scalar(c, acc[cred], cred);
  if (!credential) return Error{credential.error()};
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");  // NOLINT(concurrency-mt-unsafe)
  if (dir == nullptr) return c.err(acc[cred], "$CREDENTIALS_DIRECTORY is not set");
  auto r = read_secret_file(fs::path(dir) / *credential);
  if (!r) return c.err(acc[cred], r.error());
  return r;
}

std::set<std::string> secret_fields(std::initializer_list<const char*> names) {
  std::set<std::string> out;
  for (const char* n : names)
    for (const char* suffix : {"_file", "_env", "_credential"}) out.insert(std::string(n) + suffix);
  return out;
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

// Department names are shown to citizens ({{department}}) and ETAs too: one line each.
Result<std::map<std::string, std::string>> per_language(const Ctx& c, const YAML::Node& n,
                                                        const std::string& field,
                                                        const std::string& default_language) {
  std::map<std::string, std::string> out;
  auto one = [&](const YAML::Node& v, const std::string& lang) -> Status {
    auto text = scalar(c, v, field);
    if (!text) return Error{text.error()};
    if (text->empty() || text->size() > 200 || text->find('\n') != std::string::npos)
      return c.err(v, field + " must be one line of 1 to 200 bytes");
    out[lang] = *text;
    return Status::Ok();
  };
  if (n.IsScalar()) {
    if (auto s = one(n, default_language); !s) return Error{s.error()};
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      const auto lang = kv.first.as<std::string>();
      if (lang.size() < 2 || lang.size() > 3 ||
          lang.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos)
        return c.err(kv.first, "\"" + lang + "\" is not a language (a primary tag like ko or en)");
      if (auto s = one(kv.second, lang); !s) return Error{s.error()};
    }
  } else {
    return c.err(n, field + " must be a string or a map of language to text");
  }
  return out;
}

}  // namespace sotong::config_parse
