// src/sha256.hpp (private) — SHA-256 (FIPS 180-4), for token fingerprints.
//
//   std::array<std::uint8_t, 32> digest = pgobo::detail::sha256("abc");
//
// pgobo's core computes one digest per new user context (per request):
// its own implementation keeps OpenSSL out of the core's link line (libcurl
// brings its own TLS library to pgobo::databricks). On x86-64 CPUs with the
// SHA extensions it uses them (about 3× faster on a 1 KB token), else
// portable code. The unit tests check both against OpenSSL on random inputs
// of every length up to several blocks.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace pgobo::detail {

[[nodiscard]] std::array<std::uint8_t, 32> sha256(std::string_view data) noexcept;

// The portable code whatever the CPU, and whether sha256() uses the CPU's
// SHA instructions instead: for tests, so both paths are checked.
[[nodiscard]] std::array<std::uint8_t, 32> sha256_portable(std::string_view data) noexcept;
[[nodiscard]] bool sha256_uses_cpu_extensions() noexcept;

}  // namespace pgobo::detail
