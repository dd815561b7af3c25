// src/json_limits.hpp (internal) — reading JSON pgobo did not write.
//
// nlohmann's parser is iterative, but dump() and other walks recurse: a value
// nested 300,000 arrays deep (600 KB) overflows the stack when printed. So
// every JSON text pgobo reads (configuration, workspace answers) is parsed
// with a depth bound, and messages quote a value by its type and a short
// excerpt, never by dumping it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgobo::detail {

// Deeper than any JSON pgobo reads (configuration: 2 levels; workspace
// answers: 1-2).
inline constexpr int kMaxJsonDepth = 64;

// Thrown by parse_json_bounded; the message names the bound, never the text.
class JsonTooDeep final : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// nlohmann::json::parse(text), but stops with JsonTooDeep as soon as arrays
// and objects nest more than max_depth levels (a top-level object is level 1).
// Invalid JSON throws nlohmann::json::parse_error as parse() does.
[[nodiscard]] nlohmann::json parse_json_bounded(std::string_view text,
                                                int max_depth = kMaxJsonDepth);

// As above, without exceptions: a discarded value (is_discarded()) for
// invalid or too deeply nested JSON; `too_deep` says which.
[[nodiscard]] nlohmann::json parse_json_bounded_or_discarded(std::string_view text,
                                                             bool* too_deep = nullptr,
                                                             int max_depth = kMaxJsonDepth);

// A value for a message, of bounded size whatever the value: a string as at
// most `limit` bytes of printable ASCII in double quotes (other bytes '?'), a
// number, boolean or null as JSON, an array or object by its type and size.
[[nodiscard]] std::string describe_json_value(const nlohmann::json& value, std::size_t limit = 60);

}  // namespace pgobo::detail
