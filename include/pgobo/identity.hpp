// pgobo/identity.hpp — who a request is for: the user's id, email and token.
//
// A UserContext names the user a request acts for. pgobo keys that user's
// connection pool by `key()` (the email, else the user id) and rebuilds the
// pool when `token_fingerprint()` changes. Behind the Databricks Apps proxy,
// build it from the forwarded headers of the request:
//
//   // given: std::optional<std::string_view> header_of_request(std::string_view name)
//   std::optional<pgobo::UserContext> user = pgobo::user_context_from_headers(
//       [&](std::string_view name) { return header_of_request(name); });
//   pgobo::UserScope scope{std::move(user)};   // context.hpp; nullopt: the service
//
// or directly:
//
//   auto alice = pgobo::make_user_context("1234", "alice@example.com", token);
//   alice.key();                 // "alice@example.com"
//   alice.token_fingerprint();   // first 16 hex digits of SHA-256(token)
//
// A UserContext is immutable: every field is read through an accessor, and a
// constructed context is always valid (a token, and a user id or an email).
// Printing one shows its key and fingerprint, never the token.
#pragma once

#include <fmt/format.h>

#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include <ostream>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "pgobo/errors.hpp"
#include "pgobo/secret.hpp"

namespace pgobo {

class UserContext {
 public:
  // Throws AuthenticationError when the token is empty, when both the user
  // id and the email are empty, or when any field holds a control character
  // (CR, LF, NUL, ESC…; a tab is allowed, as in HTTP field values). Any other
  // bytes, including invalid UTF-8, are kept as given. Prefer
  // make_user_context() at call sites.
  UserContext(std::string user_id, std::string email, Secret access_token,
              std::optional<std::string> preferred_username = std::nullopt);

  // x-forwarded-user. May be empty when an email is given.
  [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }
  // x-forwarded-email. May be empty when a user id is given.
  [[nodiscard]] const std::string& email() const noexcept { return email_; }
  // x-forwarded-preferred-username, when the proxy sent one. Informational
  // only: it never selects a pool or a role.
  [[nodiscard]] const std::optional<std::string>& preferred_username() const noexcept {
    return preferred_username_;
  }
  // x-forwarded-access-token: the user's OAuth token, used as their database
  // password.
  [[nodiscard]] const Secret& access_token() const noexcept { return access_token_; }
  // Lowercase hex, the first 16 characters of SHA-256(access token). Safe to
  // log and compare; tells two tokens of one user apart without keeping them.
  [[nodiscard]] const std::string& token_fingerprint() const noexcept { return token_fingerprint_; }
  // The pool key and default PostgreSQL role: the email if non-empty, else the
  // user id. A reference to one of the fields, so reading it never allocates.
  [[nodiscard]] const std::string& key() const noexcept {
    return email_.empty() ? user_id_ : email_;
  }

  friend bool operator==(const UserContext&, const UserContext&) = default;

 private:
  std::string user_id_;
  std::string email_;
  std::optional<std::string> preferred_username_;
  Secret access_token_;
  std::string token_fingerprint_;
};

// Builds a context; throws AuthenticationError on an empty token, on an
// empty user id together with an empty email, or on a control character in
// any field. The messages name the field, never a value.
[[nodiscard]] UserContext make_user_context(
    std::string user_id, std::string email, Secret access_token,
    std::optional<std::string> preferred_username = std::nullopt);
[[nodiscard]] UserContext make_user_context(
    std::string user_id, std::string email, std::string access_token,
    std::optional<std::string> preferred_username = std::nullopt);

// Lowercase hex, the first 16 characters of SHA-256(token), as AppKit
// computes it. What UserContext::token_fingerprint() holds.
[[nodiscard]] std::string token_fingerprint_of(const Secret& token);

// "UserContext{key=alice@example.com, fingerprint=ba7816bf8f01cfea}".
std::ostream& operator<<(std::ostream& out, const UserContext& user);

// ---------------------------------------------------------------------------
// The Databricks Apps forwarded headers.

namespace headers {
inline constexpr std::string_view kAccessToken = "x-forwarded-access-token";
inline constexpr std::string_view kUser = "x-forwarded-user";
inline constexpr std::string_view kEmail = "x-forwarded-email";
inline constexpr std::string_view kPreferredUsername = "x-forwarded-preferred-username";
}  // namespace headers

struct HeaderOptions {
  // When the token header is missing or empty: false (production) throws
  // AuthenticationError("missing user token"); true logs one warning and
  // returns no context, so the request runs as the service principal. Turn it
  // on only for local development, where no proxy adds the headers.
  bool allow_development_fallback = false;
  // When x-forwarded-user is missing or empty but a token is there: true
  // (the default, AppKit's rule) throws AuthenticationError; false accepts
  // x-forwarded-email alone. The Databricks Apps proxy sends the user id with
  // every request it authenticates, so a request without one did not come
  // through that proxy as configured: another proxy or a client is setting
  // the headers. Relax it only behind a proxy of your own that sends the
  // email and token but no user id.
  bool require_user_id = true;
};

// The four header values as the lookup returned them: nullopt when absent.
struct ForwardedHeaders {
  std::optional<std::string_view> access_token;
  std::optional<std::string_view> user;
  std::optional<std::string_view> email;
  std::optional<std::string_view> preferred_username;
};

// The compiled core of user_context_from_headers(): trims each value (spaces
// and tabs), treats an empty value as absent, rejects values holding control
// characters (CR, LF, NUL…) and applies the token and identity rules.
[[nodiscard]] std::optional<UserContext> user_context_from_forwarded(
    const ForwardedHeaders& values, const HeaderOptions& options = {});

namespace detail {

// What a header lookup may return: an optional string-like value, a pointer
// to one (null when absent), or the value itself (empty when absent).
template <class R>
std::optional<std::string_view> header_value_view(const R& value) {
  if constexpr (std::is_pointer_v<R> &&
                std::is_same_v<std::remove_cv_t<std::remove_pointer_t<R>>, char>) {
    if (value == nullptr) return std::nullopt;
    return std::string_view(value);
  } else if constexpr (std::is_pointer_v<R>) {
    if (value == nullptr) return std::nullopt;
    return std::string_view(*value);
  } else if constexpr (requires {
                         value.has_value();
                         *value;
                       }) {
    if (!value.has_value()) return std::nullopt;
    return std::string_view(*value);
  } else {
    return std::string_view(value);
  }
}

inline bool header_name_equals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace detail

// A callable from a header name to its value: std::optional<std::string>,
// std::optional<std::string_view>, const std::string*, const char* or a plain
// string (empty meaning absent). pgobo asks for the lowercase names above; a
// lookup must match them case-insensitively, as HTTP requires.
template <class F>
concept HeaderLookup = std::invocable<F&, std::string_view> &&
    requires(const std::invoke_result_t<F&, std::string_view>& r) {
  detail::header_value_view(r);
};

// A range of (name, value) pairs: std::map, std::multimap, std::vector of
// pairs, httplib::Headers… Names are matched case-insensitively.
template <class R>
concept HeaderRange = std::ranges::input_range<const R&> &&
    requires(std::ranges::range_reference_t<const R&> header) {
  {std::string_view(header.first)};
  {std::string_view(header.second)};
};

// Builds the request's UserContext from the Databricks Apps forwarded
// headers, through a lookup callable. Returns nullopt only under the
// development fallback (no token); otherwise a context or AuthenticationError.
// The lookup's results are read before it returns, so it may return views into
// the request.
template <HeaderLookup Lookup>
[[nodiscard]] std::optional<UserContext> user_context_from_headers(
    Lookup&& lookup, const HeaderOptions& options = {}) {
  // Each result is kept alive until parsing is done: a lookup may return
  // owning strings, and the views below point into them.
  const auto token = lookup(headers::kAccessToken);
  const auto user = lookup(headers::kUser);
  const auto email = lookup(headers::kEmail);
  const auto preferred = lookup(headers::kPreferredUsername);
  return user_context_from_forwarded(
      ForwardedHeaders{detail::header_value_view(token), detail::header_value_view(user),
                       detail::header_value_view(email), detail::header_value_view(preferred)},
      options);
}

// The same over a whole header collection. A header repeated with different
// values is ambiguous and rejected with AuthenticationError.
template <HeaderRange Headers>
requires(!HeaderLookup<const Headers&>)
    [[nodiscard]] std::optional<UserContext> user_context_from_headers(
        const Headers& all, const HeaderOptions& options = {}) {
  ForwardedHeaders found;
  auto take = [](std::optional<std::string_view>& field, std::string_view name,
                 std::string_view value) {
    if (field.has_value() && *field != value) {
      throw AuthenticationError("header " + std::string(name) +
                                " is repeated with different values");
    }
    field = value;
  };
  for (const auto& header : all) {
    const std::string_view name(header.first);
    const std::string_view value(header.second);
    if (detail::header_name_equals(name, headers::kAccessToken)) {
      take(found.access_token, headers::kAccessToken, value);
    } else if (detail::header_name_equals(name, headers::kUser)) {
      take(found.user, headers::kUser, value);
    } else if (detail::header_name_equals(name, headers::kEmail)) {
      take(found.email, headers::kEmail, value);
    } else if (detail::header_name_equals(name, headers::kPreferredUsername)) {
      take(found.preferred_username, headers::kPreferredUsername, value);
    }
  }
  return user_context_from_forwarded(found, options);
}

}  // namespace pgobo

// fmt and spdlog print a UserContext as operator<< does: key and fingerprint.
template <>
struct fmt::formatter<pgobo::UserContext> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const pgobo::UserContext& user, FormatContext& ctx) const {
    const std::string text =
        fmt::format("UserContext{{key={}, fingerprint={}}}", user.key(), user.token_fingerprint());
    return fmt::formatter<std::string_view>::format(text, ctx);
  }
};
