// Turns the HTML that Mastodon-compatible servers put in a status's `content` into plain
// text: <br> and paragraph ends become newlines, other tags are dropped, entities decoded.
// Not a general HTML parser: statuses use a small, known subset. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sotong::text {

std::string html_to_text(std::string_view html);
// Escapes &, <, >, " for putting plain text into HTML (the sandbox renders content this way).
std::string html_escape(std::string_view s);

}  // namespace sotong::text
