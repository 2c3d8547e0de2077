// Reading YAML that an admin wrote (rules, templates) without trusting it: a size cap, valid
// UTF-8, one document, no anchors or aliases (an alias bomb expands without limit when walked),
// and a nesting limit far below the parser's own recursion guard. Every error names
// file:line:column with 1-based numbers, so an admin can jump to it in an editor.
// Stateless free functions; thread-safe. Errors are values; yaml-cpp exceptions never escape.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace sotong::yaml_file {

// Deeper than any file we ship needs (rules: 5 levels); small enough that a hostile file is
// rejected long before yaml-cpp's recursion guard (2000) would be reached.
inline constexpr int kMaxDepth = 16;

// Reads a whole file, failing if it is larger than max_bytes or not a regular file.
Result<std::string> read(const std::filesystem::path& path, std::size_t max_bytes);

// Parses one document. `name` stands for the file in messages. An empty document gives a Null
// node.
Result<YAML::Node> parse(std::string_view text, std::string_view name, std::size_t max_bytes);

// "name:line:column" for a mark (1-based).
std::string where(std::string_view name, const YAML::Mark& mark);
// An Error "name:line:column: message" at the node's position.
Error error_at(std::string_view name, const YAML::Node& node, std::string_view message);

// Fails on a key that is not in `known` (listing the known ones), on a repeated key and on a
// key that is not a plain string, and on a field without a value. `map` must be a map.
Status check_fields(std::string_view name, const YAML::Node& map,
                    std::initializer_list<std::string_view> known);
// The same checks, every problem in document order: for loaders that report all errors at once.
std::vector<Error> field_problems(std::string_view name, const YAML::Node& map,
                                  std::initializer_list<std::string_view> known);

// Ids that admins write and code compares (department ids, template keys): lower-case ASCII
// letters and digits, then also "-" and "_"; at most kMaxIdentifierBytes.
inline constexpr std::size_t kMaxIdentifierBytes = 64;  // ids end up in logs and URLs
bool is_identifier(std::string_view s);

// The text of a scalar field that must be an id (is_identifier); `example` completes the
// message ("e.g. roads").
Result<std::string> identifier(std::string_view name, const YAML::Node& node,
                               std::string_view field, std::string_view example);

// The *.yaml files in dir, sorted by file name (admins order them by prefix: 10-, 20-).
// Hidden files (editors' locks and backups) are skipped; more than max_files is an error.
Result<std::vector<std::filesystem::path>> list(const std::filesystem::path& dir,
                                                std::size_t max_files);

// The text of a scalar field; an error (naming `field`) for a list, a map or an empty value.
Result<std::string> text(std::string_view name, const YAML::Node& node, std::string_view field);

}  // namespace sotong::yaml_file
