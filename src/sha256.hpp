// src/sha256.hpp (private) — SHA-256 (FIPS 180-4), for token fingerprints.
//
//   std::array<std::uint8_t, 32> digest = pgobo::detail::sha256("abc");
//
// pgobo's core computes one digest per new user context; a portable
// implementation keeps OpenSSL out of the core's link line (libcurl brings
// its own TLS library to pgobo::databricks). The unit tests check it against
// OpenSSL on random inputs of every length up to several blocks.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace pgobo::detail {

[[nodiscard]] std::array<std::uint8_t, 32> sha256(std::string_view data) noexcept;

}  // namespace pgobo::detail
