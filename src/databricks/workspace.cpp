#include "pgobo/databricks/workspace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "databricks/http.hpp"
#include "databricks/url.hpp"
#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo::databricks {
namespace {

// A workspace token is sent as "Authorization: Bearer <token>"; libcurl
// sends header lines verbatim, so a CR or LF in it would add header lines of
// the token's choosing. NUL would cut it short.
using pgobo::detail::has_control_character;  // text.hpp

constexpr std::string_view kControlCharacters = "a control character (CR, LF, NUL...)";

// The raw OAuth call; CachedCredentials in front of it does the caching.
class OAuthTokenFetcher final : public CredentialProvider {
 public:
  OAuthTokenFetcher(std::string url, std::string client_id, Secret client_secret, std::string scope,
                    HttpOptions http, WallClock clock)
      : url_(std::move(url)),
        client_id_(std::move(client_id)),
        client_secret_(std::move(client_secret)),
        scope_(std::move(scope)),
        http_(std::move(http)),
        clock_(std::move(clock)) {}

  [[nodiscard]] Credential get() override {
    detail::HttpRequest request;
    request.call = "service principal OAuth token request";
    request.method = "POST";
    request.url = url_;
    request.basic_user = client_id_;
    request.basic_password = &client_secret_;
    request.form = {{"grant_type", "client_credentials"}, {"scope", scope_}};
    const auto issued_at = clock_ ? clock_() : std::chrono::system_clock::now();
    const nlohmann::json body = detail::send_for_json(request, http_);

    Secret token(detail::required_text(request, body, "access_token"));
    const auto expires_in = body.find("expires_in");
    if (expires_in == body.end() || !expires_in->is_number_integer() || *expires_in < 0) {
      throw CredentialError(detail::describe_call(request) +
                            " returned no expires_in (expected a whole number of seconds)");
    }
    return Credential{std::move(token),
                      issued_at + std::chrono::seconds{expires_in->get<std::int64_t>()}};
  }

 private:
  std::string url_;
  std::string client_id_;
  Secret client_secret_;
  std::string scope_;
  HttpOptions http_;
  WallClock clock_;
};

}  // namespace

std::string normalize_workspace_url(std::string_view url, std::string_view what) {
  if (url.empty()) {
    throw ConfigError(fmt::format(
        "{} is empty: expected the workspace URL, e.g. https://adb-123.azuredatabricks.net", what));
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      throw ConfigError(
          fmt::format("{}: a workspace URL must not contain spaces or control characters", what));
    }
  }
  // A bare host name (DATABRICKS_HOST is often given so) means https.
  const auto scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string scheme(url.substr(0, scheme_end));
    for (char& c : scheme) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (scheme != "https" && scheme != "http") {
      // Quoted as printable ASCII: the message may end up in JSON or a log.
      std::string shown(url.substr(0, std::min<std::size_t>(scheme_end, 20)));
      for (char& c : shown) {
        if (static_cast<unsigned char>(c) >= 0x7f) c = '?';
      }
      if (scheme_end > 20) shown += "...";
      throw ConfigError(fmt::format("{}: expected an https:// URL (got scheme '{}')", what, shown));
    }
  }
  const detail::ParsedUrl parsed(
      scheme_end != std::string_view::npos ? std::string(url) : "https://" + std::string(url));
  if (!parsed.ok()) {
    if (parsed.no_host()) {
      throw ConfigError(fmt::format("{}: the workspace URL has no host name", what));
    }
    // libcurl's reason, never the text: it may hold a password.
    throw ConfigError(
        fmt::format("{}: not a valid URL ({}); expected e.g. https://adb-123.azuredatabricks.net",
                    what, parsed.error()));
  }
  if (parsed.scheme() != "https" && parsed.scheme() != "http") {
    throw ConfigError(fmt::format("{}: expected an https:// URL", what));
  }
  // Never echoed: the part before '@' may be a password. libcurl would send
  // it as HTTP basic credentials, and it is how "http://localhost:1@evil"
  // reads like a loopback URL while naming the host "evil".
  if (parsed.has_userinfo()) {
    throw ConfigError(fmt::format(
        "{}: a workspace URL must not contain a user name or password (the part before '@'); "
        "remove it: pgobo authenticates with tokens",
        what));
  }
  if (parsed.scheme() == "http" && !parsed.loopback()) {
    throw ConfigError(fmt::format(
        "{}: http:// is only allowed for localhost, 127.0.0.0/8 or [::1] (by the host libcurl "
        "connects to); use https://",
        what));
  }
  // scheme://host[:port], as the Databricks SDKs reduce a host: a URL copied
  // from the browser ("…/?o=123#", "…/login.html") names the workspace by its
  // host alone, and API paths are appended to what is returned here.
  std::string normalized = parsed.scheme() + "://" + parsed.host();
  if (!parsed.port().empty()) normalized += ":" + parsed.port();
  return normalized;
}

PersonalAccessToken::PersonalAccessToken(Secret token) : token_(std::move(token)) {
  if (token_.empty()) throw ConfigError("PersonalAccessToken: the token is empty");
  if (has_control_character(token_.reveal())) {
    throw ConfigError(
        fmt::format("PersonalAccessToken: the token contains {}", kControlCharacters));
  }
}

ForwardedUserToken::ForwardedUserToken(Secret token) {
  if (token.empty()) throw ConfigError("ForwardedUserToken: the user's token is empty");
  if (has_control_character(token.reveal())) {
    throw ConfigError(
        fmt::format("ForwardedUserToken: the user's token contains {}", kControlCharacters));
  }
  source_ = [fixed = std::move(token)] { return fixed; };
}

ForwardedUserToken::ForwardedUserToken(std::function<Secret()> source)
    : source_(std::move(source)) {
  if (!source_) throw ConfigError("ForwardedUserToken: the token source is empty");
}

Secret ForwardedUserToken::token() {
  Secret token = source_();
  if (token.empty()) throw CredentialError("the user's forwarded access token is empty");
  if (has_control_character(token.reveal())) {
    throw CredentialError(
        fmt::format("the user's forwarded access token contains {}", kControlCharacters));
  }
  return token;
}

ServicePrincipalOAuth::ServicePrincipalOAuth(Options options) {
  const std::string base = normalize_workspace_url(options.workspace_url, "workspace URL");
  if (options.client_id.empty()) {
    throw ConfigError("ServicePrincipalOAuth: the client id is empty (DATABRICKS_CLIENT_ID)");
  }
  if (options.client_secret.empty()) {
    throw ConfigError(
        "ServicePrincipalOAuth: the client secret is empty (DATABRICKS_CLIENT_SECRET)");
  }
  if (options.cache.name == CachedCredentials::Options{}.name) options.cache.name = "sp-oauth";
  auto fetcher = std::make_shared<OAuthTokenFetcher>(
      base + "/oidc/v1/token", std::move(options.client_id), std::move(options.client_secret),
      std::move(options.scope), std::move(options.http), options.cache.clock);
  cache_ = std::make_shared<CachedCredentials>(std::move(fetcher), std::move(options.cache));
}

Secret ServicePrincipalOAuth::token() { return cache_->get().secret; }

std::string fetch_current_user_name(const std::string& workspace_url, WorkspaceToken& token,
                                    const HttpOptions& http) {
  const Secret bearer = token.token();
  detail::HttpRequest request;
  request.call = "current user lookup";
  request.method = "GET";
  request.url =
      normalize_workspace_url(workspace_url, "workspace URL") + "/api/2.0/preview/scim/v2/Me";
  request.bearer = &bearer;
  // Any WorkspaceToken may be asked, including an application's own.
  if (has_control_character(bearer.reveal())) {
    throw CredentialError(fmt::format("{}: the workspace token contains {}",
                                      detail::describe_call(request), kControlCharacters));
  }
  const nlohmann::json body = detail::send_for_json(request, http);
  // The user name becomes the PostgreSQL role and a log field.
  return detail::required_text(request, body, "userName");
}

}  // namespace pgobo::databricks
