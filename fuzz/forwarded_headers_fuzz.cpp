// Fuzzes forwarded-header parsing (identity.hpp): user_context_from_headers
// over a lookup and over a header collection with repeated, mixed-case names.
//
// Input: header lines separated by '\0', each "name\x01value" (a line without
// \x01 is a value for the next of the four forwarded names). The first byte
// chooses the development fallback.
//
// Properties:
// - Only AuthenticationError is thrown, and its message is one of the fixed
//   texts (it never depends on a header's value, so it cannot leak a token).
// - An accepted context holds non-empty token and key without control
//   characters (tab aside), no surrounding blanks, a fingerprint equal to
//   token_fingerprint_of(token), and printing it never shows the token.
// - The lookup and the collection forms agree when no name repeats.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "forwarded_headers_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size() > 300 ? 300 : detail.size()), detail.data());
  std::abort();
}

constexpr std::array<std::string_view, 4> kNames{pgobo::headers::kAccessToken,
                                                 pgobo::headers::kUser, pgobo::headers::kEmail,
                                                 pgobo::headers::kPreferredUsername};

bool has_control(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

bool blank_edges(std::string_view value) {
  return !value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                            value.back() == '\t');
}

bool known_message(std::string_view message) {
  if (message == "missing user token (header x-forwarded-access-token)") return true;
  if (message == "access token contains a tab") return true;
  if (message == "missing user identity (headers x-forwarded-user, x-forwarded-email)") {
    return true;
  }
  if (message.starts_with("missing user id (header x-forwarded-user): ")) return true;
  for (const auto name : kNames) {
    if (message == fmt::format("header {} contains a control character (CR, LF, NUL…)", name) ||
        message == fmt::format("header {} is repeated with different values", name)) {
      return true;
    }
  }
  return false;
}

void check_context(const pgobo::UserContext& user) {
  const std::string& token = user.access_token().reveal();
  if (token.empty() || user.key().empty()) fail("accepted an empty token or key");
  if (token.find('\t') != std::string::npos) fail("accepted a tab inside a token", token);
  for (const std::string* field : {&token, &user.user_id(), &user.email()}) {
    if (has_control(*field)) fail("accepted a control character", *field);
    if (blank_edges(*field)) fail("kept surrounding blanks", *field);
  }
  if (user.token_fingerprint() != pgobo::token_fingerprint_of(user.access_token())) {
    fail("fingerprint differs from token_fingerprint_of");
  }
  // Printing shows the key and the fingerprint and nothing else.
  std::ostringstream printed;
  printed << user << ' ' << user.access_token();
  const std::string expected =
      "UserContext{key=" + user.key() + ", fingerprint=" + user.token_fingerprint() + "} ***";
  if (printed.str() != expected) fail("operator<< printed more than key and fingerprint");
  if (fmt::format("{} {}", user, user.access_token()) != expected) {
    fail("fmt printed more than key and fingerprint");
  }
}

using Outcome = std::pair<std::optional<pgobo::UserContext>, std::string>;  // context or error

template <class F>
Outcome run(F&& parse) {
  try {
    return {parse(), {}};
  } catch (const pgobo::AuthenticationError& e) {
    if (!known_message(e.what())) fail("unexpected message", e.what());
    return {std::nullopt, e.what()};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  pgobo::HeaderOptions options;
  options.allow_development_fallback = (data[0] & 1U) != 0;
  options.require_user_id = (data[0] & 2U) == 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t next_default = 0;
  std::size_t at = 0;
  while (at <= input.size()) {
    const std::size_t end = std::min(input.find('\0', at), input.size());
    const std::string_view line = input.substr(at, end - at);
    if (const auto split = line.find('\x01'); split != std::string_view::npos) {
      headers.emplace_back(line.substr(0, split), line.substr(split + 1));
    } else {
      headers.emplace_back(kNames[next_default++ % kNames.size()], line);
    }
    at = end + 1;
  }

  const Outcome from_range =
      run([&] { return pgobo::user_context_from_headers(headers, options); });
  if (from_range.first) check_context(*from_range.first);
  if (from_range.first && options.require_user_id && from_range.first->user_id().empty()) {
    fail("accepted a request without a user id", from_range.first->email());
  }

  // A lookup sees the first value of each name (case-insensitive).
  bool repeated = false;
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    std::optional<std::string> found;
    for (const auto& [n, v] : headers) {
      if (pgobo::detail::header_name_equals(n, name)) {
        if (found) {
          repeated = true;
        } else {
          found = v;
        }
      }
    }
    return found;
  };
  const Outcome from_lookup =
      run([&] { return pgobo::user_context_from_headers(lookup, options); });
  if (from_lookup.first) check_context(*from_lookup.first);

  if (!repeated && from_range != from_lookup) fail("lookup and range forms disagree");
  return 0;
}
