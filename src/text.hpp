// src/text.hpp (private) — quoting untrusted text in messages.
//
//   throw ConfigError("unknown key '" + pgobo::detail::printable_excerpt(key) + "'");
//
// Values pgobo reports come from requests, files and remote servers: a
// message must neither be flooded by a megabyte value, nor split a log line
// with CR/LF, nor turn into invalid UTF-8. These are the one home of those
// rules; every message that quotes a value goes through them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pgobo::detail {

// At most `limit` bytes of `text`, every byte outside printable ASCII shown
// as '?', and "..." when something was cut.
[[nodiscard]] std::string printable_excerpt(std::string_view text, std::size_t limit = 60);

// True if `text` holds a C0 control character (NUL, CR, LF…) or DEL, other
// than those listed in `allowed` (e.g. "\t" for HTTP field values).
[[nodiscard]] bool has_control_character(std::string_view text,
                                         std::string_view allowed = {}) noexcept;

// A decimal number in the C locale, as std::from_chars(…, double) reads it:
// an optional '-', digits with an optional '.', an optional exponent
// ("0.25", "-1", ".5", "1e3"); no sign '+', no spaces, no hex, no inf or
// nan. nullopt for anything else or a value out of double's range. (Not
// std::from_chars itself: libc++ 19 has none for floating point.)
[[nodiscard]] std::optional<double> parse_decimal(std::string_view text);

}  // namespace pgobo::detail
