// pgobo/databricks/workspace.hpp — talking to a Databricks workspace: its URL, the
// bearer token pgobo presents to it, and who that token belongs to.
//
// Lakebase database credentials are requested from the workspace with a
// workspace token. Which token depends on whose pool it is:
//
//   // given: pgobo::Secret client_secret; pgobo::UserContext context
//   namespace databricks = pgobo::databricks;
//   // the service principal (Databricks Apps: DATABRICKS_CLIENT_ID/SECRET)
//   databricks::ServicePrincipalOAuth::Options sp_options;
//   sp_options.workspace_url = "https://adb-123.azuredatabricks.net";
//   sp_options.client_id = "6f2c…";
//   sp_options.client_secret = client_secret;
//   auto sp = std::make_shared<databricks::ServicePrincipalOAuth>(std::move(sp_options));
//   // a personal access token (DATABRICKS_TOKEN), for local development
//   auto pat = std::make_shared<databricks::PersonalAccessToken>(pgobo::Secret{token});
//   // the user behind a request (x-forwarded-access-token), for user pools
//   auto user = std::make_shared<databricks::ForwardedUserToken>(context.access_token());
//
//   std::string role = databricks::fetch_current_user_name(  // SCIM Me userName
//       "https://adb-123.azuredatabricks.net", *sp, databricks::HttpOptions{});
//
// Workspace tokens are secrets: they are only ever sent in an Authorization
// header and never logged or put in an exception message.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "pgobo/credentials.hpp"
#include "pgobo/secret.hpp"

namespace pgobo::databricks {

// How pgobo's HTTP calls to the workspace behave. TLS certificates and host
// names are always verified; redirects are not followed (a bearer token is
// never sent to another host).
struct HttpOptions {
  // Time to establish the TCP and TLS connection, per attempt.
  std::chrono::milliseconds connect_timeout{5'000};
  // Time for the whole call, connection included, per attempt.
  std::chrono::milliseconds timeout{30'000};
  // A larger response body is an error (the APIs answer with a few hundred bytes).
  std::size_t max_response_bytes = std::size_t{1024} * 1024;
  // A PEM bundle of CA certificates to trust instead of the system's; empty
  // = the system default. (AppConfig::from_env fills it from
  // PGOBO_HTTP_CA_FILE, else CURL_CA_BUNDLE, else SSL_CERT_FILE.)
  std::string ca_file;
  // How long after a call's first attempt a new attempt may still start,
  // after HTTP 429 or 503 or a failed connection (refused, reset, name not
  // resolved), with jittered exponential backoff that honours Retry-After.
  // Also bounded by the deadline of the pool caller the call runs for. 0 (or
  // less): one attempt only. Kept well under a pool's acquire_timeout.
  std::chrono::milliseconds retry_timeout{5'000};
};

// Checks and normalises a workspace URL to scheme://host[:port], as the
// Databricks SDKs do: adds https:// when there is no scheme (DATABRICKS_HOST
// is often given as a bare host name) and drops any path, query and fragment
// (a URL copied from the browser, "https://adb-1.azuredatabricks.net/?o=1#",
// names the same workspace). The URL is parsed as libcurl parses it, and
// http:// is refused unless libcurl's host is loopback: localhost,
// 127.0.0.0/8 or ::1 (tests and local fakes). A user name or password
// ("user:pw@host") is refused, without repeating it. Throws ConfigError
// naming `what`.
[[nodiscard]] std::string normalize_workspace_url(std::string_view url, std::string_view what);

// A bearer token for the workspace API. Implementations are thread-safe.
class WorkspaceToken {
 public:
  virtual ~WorkspaceToken() = default;
  // The token to send now. May block (network) and throws CredentialError.
  [[nodiscard]] virtual Secret token() = 0;
};

// A personal access token (DATABRICKS_TOKEN): the same token every time.
class PersonalAccessToken final : public WorkspaceToken {
 public:
  // Throws ConfigError if `token` is empty.
  explicit PersonalAccessToken(Secret token);
  [[nodiscard]] Secret token() override { return token_; }

 private:
  Secret token_;
};

// The OAuth token the Databricks Apps proxy forwarded for the user of a
// request (x-forwarded-access-token). A user pool requests its database
// credentials with it, so Lakebase issues them for that user's role.
class ForwardedUserToken final : public WorkspaceToken {
 public:
  // A fixed token (a user pool is rebuilt when the user's token changes).
  // Throws ConfigError if `token` is empty.
  explicit ForwardedUserToken(Secret token);
  // A token read at each call, e.g. from the newest request context.
  explicit ForwardedUserToken(std::function<Secret()> source);
  [[nodiscard]] Secret token() override;

 private:
  std::function<Secret()> source_;
};

// OAuth machine-to-machine for a service principal: POST {workspace}/oidc/v1/token
// with grant_type=client_credentials, scope all-apis and HTTP basic auth with
// the client id and secret. The access token is cached and refreshed ahead of
// its expiry by a CachedCredentials (concurrent callers share one request).
class ServicePrincipalOAuth final : public WorkspaceToken {
 public:
  struct Options {
    std::string workspace_url;  // normalised with normalize_workspace_url
    std::string client_id;
    Secret client_secret;
    std::string scope = "all-apis";
    HttpOptions http;
    // Refresh, backoff and clock of the token cache (name defaults to "sp-oauth").
    CachedCredentials::Options cache;
  };

  // Throws ConfigError if the URL, client id or secret is missing or malformed.
  explicit ServicePrincipalOAuth(Options options);
  [[nodiscard]] Secret token() override;
  // Requests made to the token endpoint so far.
  [[nodiscard]] std::size_t fetch_count() const { return cache_->fetch_count(); }

 private:
  std::shared_ptr<CachedCredentials> cache_;
};

// GET {workspace}/api/2.0/preview/scim/v2/Me with `token`, returning its
// userName (for a service principal, its application id). Throws
// CredentialError on an HTTP error or a response without a userName.
[[nodiscard]] std::string fetch_current_user_name(const std::string& workspace_url,
                                                  WorkspaceToken& token, const HttpOptions& http);

}  // namespace pgobo::databricks
