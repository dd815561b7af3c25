// src/rfc3339.hpp (private) — reads the RFC 3339 times Databricks APIs return.
//
//   auto t = pgobo::detail::parse_rfc3339("2026-11-26T21:17:26.123456Z", "expire_time");
//   auto u = pgobo::detail::parse_rfc3339("2026-11-26T22:17:26+01:00", "expire_time");  // same day
//
// The Lakebase credential API answers with `expire_time` in RFC 3339, with or
// without fractional seconds, in UTC (Z) or with a numeric offset. Anything
// else is a CredentialError: a credential whose expiry cannot be read must not
// be cached as if it never expired.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace pgobo::detail {

// Parses `text` as an RFC 3339 date-time (section 5.6). Fractional seconds
// beyond nanoseconds are truncated; a leap second (:60) counts as :59.
// Throws CredentialError naming `what` and quoting at most 40 characters of
// the text (these are times, not secrets).
[[nodiscard]] std::chrono::system_clock::time_point parse_rfc3339(std::string_view text,
                                                                  std::string_view what);

// Formats `t` as RFC 3339 in UTC with millisecond precision, e.g.
// "2026-11-26T21:17:26.123Z". For logs, and for the fake workspace in tests.
[[nodiscard]] std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace pgobo::detail
