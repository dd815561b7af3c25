#include "pgobo/identity.hpp"

#include <array>
#include <memory>

#include "pgobo/log.hpp"
#include "sha256.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

// How many hex digits of the digest the fingerprint keeps (as AppKit does).
constexpr std::size_t kFingerprintLength = 16;

std::string sha256_hex_prefix(std::string_view data, std::size_t hex_digits) {
  std::array<std::uint8_t, 32> digest = detail::sha256(data);
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (const std::uint8_t byte : digest) {
    hex.push_back(kDigits[byte >> 4U]);
    hex.push_back(kDigits[byte & 0x0FU]);
  }
  // The digest of a token is not secret, but it need not linger either.
  detail::secure_wipe(digest.data(), digest.size());
  if (hex.size() > hex_digits) hex.resize(hex_digits);
  return hex;
}

// RFC 9110 optional whitespace around a field value.
std::string_view trim(std::string_view value) noexcept {
  constexpr std::string_view kWhitespace = " \t";
  const auto first = value.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = value.find_last_not_of(kWhitespace);
  return value.substr(first, last - first + 1);
}

// CR and LF would let a value smuggle extra header lines or log lines, NUL
// would truncate it in C APIs (libpq); no other control character belongs in a
// user id, an email or a token either. Tabs inside a value are legal HTTP.
bool has_control_character(std::string_view value) noexcept {
  return detail::has_control_character(value, "\t");
}

// The trimmed value, or nullopt when absent or blank. The message names the
// header, never its value: the value may be (or contain) a token.
std::optional<std::string_view> clean(std::optional<std::string_view> raw,
                                      std::string_view header_name) {
  if (!raw.has_value()) return std::nullopt;
  if (has_control_character(*raw)) {
    throw AuthenticationError("header " + std::string(header_name) +
                              " contains a control character (CR, LF, NUL…)");
  }
  const std::string_view value = trim(*raw);
  if (value.empty()) return std::nullopt;
  return value;
}

}  // namespace

UserContext::UserContext(std::string user_id, std::string email, Secret access_token,
                         std::optional<std::string> preferred_username)
    : user_id_(std::move(user_id)),
      email_(std::move(email)),
      preferred_username_(std::move(preferred_username)),
      access_token_(std::move(access_token)) {
  if (access_token_.empty()) throw AuthenticationError("missing user token");
  if (user_id_.empty() && email_.empty()) {
    throw AuthenticationError("missing user identity: both user id and email are empty");
  }
  // The same rule as for the forwarded headers: the token travels in an HTTP
  // header (Lakebase credential requests) and the key becomes a role name and
  // a log field, where CR/LF would inject lines and NUL would truncate.
  const auto refuse_control = [](std::string_view value, std::string_view field) {
    if (has_control_character(value)) {
      throw AuthenticationError(std::string(field) +
                                " contains a control character (CR, LF, NUL…)");
    }
  };
  refuse_control(user_id_, "user id");
  refuse_control(email_, "email");
  // A token is one word (a JWT, a PAT): a tab inside one is no token either,
  // and the workspace clients refuse to send it, so refuse it here, as the
  // request arrives, rather than when its pool first needs a credential. One
  // pass over the token (about 1 KB, on every request); a second only to say
  // which it was.
  const std::string_view token = access_token_.reveal();
  if (detail::has_control_character(token, "")) {
    if (!has_control_character(token)) throw AuthenticationError("access token contains a tab");
    throw AuthenticationError("access token contains a control character (CR, LF, NUL…)");
  }
  if (preferred_username_) refuse_control(*preferred_username_, "preferred username");
  token_fingerprint_ = token_fingerprint_of(access_token_);
}

UserContext make_user_context(std::string user_id, std::string email, Secret access_token,
                              std::optional<std::string> preferred_username) {
  return UserContext(std::move(user_id), std::move(email), std::move(access_token),
                     std::move(preferred_username));
}

UserContext make_user_context(std::string user_id, std::string email, std::string access_token,
                              std::optional<std::string> preferred_username) {
  return UserContext(std::move(user_id), std::move(email), Secret(std::move(access_token)),
                     std::move(preferred_username));
}

std::string token_fingerprint_of(const Secret& token) {
  return sha256_hex_prefix(token.reveal(), kFingerprintLength);
}

std::ostream& operator<<(std::ostream& out, const UserContext& user) {
  return out << "UserContext{key=" << user.key() << ", fingerprint=" << user.token_fingerprint()
             << '}';
}

std::optional<UserContext> user_context_from_forwarded(const ForwardedHeaders& values,
                                                       const HeaderOptions& options) {
  // Every header is validated before any decision, so a smuggling attempt is
  // rejected even on the development fallback path.
  const auto token = clean(values.access_token, headers::kAccessToken);
  const auto user = clean(values.user, headers::kUser);
  const auto email = clean(values.email, headers::kEmail);
  const auto preferred = clean(values.preferred_username, headers::kPreferredUsername);

  if (!token.has_value()) {
    if (!options.allow_development_fallback) {
      throw AuthenticationError("missing user token (header " + std::string(headers::kAccessToken) +
                                ")");
    }
    logger()->warn(
        "no {} header: running the request as the service principal (development fallback)",
        headers::kAccessToken);
    return std::nullopt;
  }
  if (!user.has_value() && !email.has_value()) {
    throw AuthenticationError("missing user identity (headers " + std::string(headers::kUser) +
                              ", " + std::string(headers::kEmail) + ")");
  }
  if (!user.has_value() && options.require_user_id) {
    throw AuthenticationError(
        "missing user id (header " + std::string(headers::kUser) +
        "): the Databricks Apps proxy sends it with every request; set "
        "HeaderOptions::require_user_id = false only behind a proxy that sends the email alone");
  }
  return UserContext(
      std::string(user.value_or(std::string_view{})),
      std::string(email.value_or(std::string_view{})), Secret(*token),
      preferred ? std::optional<std::string>(std::string(*preferred)) : std::nullopt);
}

}  // namespace pgobo
