// The JSON shapes of X API v2 answers and the parameter rules that select them, as X's OpenAPI
// documents (2.164 and 2.167) define them: problem details, the field lists a request may ask
// for (tweet.fields or post.fields, user.fields, expansions), Post and User objects showing
// only what was asked for, and opaque pagination tokens. Pure functions over values; XApi
// uses them. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "connectors/x/oauth1.hpp"
#include "sandbox/x_api.hpp"
#include "sandbox/x_state.hpp"

namespace sotong::sandbox {

// The field lists a request asked for, checked against X's enums.
struct XFields {
  std::set<std::string> post;  // tweet.fields and post.fields together
  std::set<std::string> user;
  std::set<std::string> expansions;

  bool post_field(std::string_view f) const { return post.count(std::string(f)) != 0; }
  bool expands(std::string_view e) const { return expansions.count(std::string(e)) != 0; }
};

// Whether `item` is one entry of a comma-separated list such as "a,b,c".
bool list_contains(std::string_view list, std::string_view item);

// A query string or form body (application/x-www-form-urlencoded: '+' is a space); nullopt
// when an escape is broken or there are more parameters than any endpoint takes.
std::optional<x::Params> decode_form(std::string_view raw);

// Refuses, as X does, parameters not in `allowed` (a comma-separated list), repeated ones and
// field names outside X's enums; otherwise fills `fields` and returns nullopt.
std::optional<XResponse> check_query(const x::Params& query, std::string_view allowed,
                                     XFields* fields);

XResponse json_answer(unsigned status, const boost::json::value& v);
// RFC 7807 problem details as X sends them for generic problems.
XResponse problem(unsigned status, std::string_view title, std::string_view detail,
                  std::string_view type = "about:blank");
// X's InvalidRequestProblem; `parameter` empty for a message about the request as a whole.
XResponse invalid_request(std::string_view parameter, std::string_view value,
                          const std::string& message);

boost::json::object user_json(const XUser& u, const XFields& f);
boost::json::object post_json(const XPost& p, const XFields& f);

// Opaque tokens that carry "older than this id".
std::string encode_pagination_token(uint64_t before_id);
std::optional<uint64_t> decode_pagination_token(std::string_view token);

}  // namespace sotong::sandbox
