// pgobo/databricks/lakebase.hpp — OAuth database credentials for Databricks Lakebase.
//
// Lakebase accepts a short-lived OAuth token (about an hour) as the
// PostgreSQL password. It is requested from the workspace with a workspace
// token, and is issued for whoever that workspace token belongs to. Two kinds
// of Lakebase database answer to it, each with its own API:
//
//   // given: std::shared_ptr<pgobo::databricks::WorkspaceToken> sp_token
//   pgobo::PoolOptions options;
//   options.connection.user = "6f2c…";                 // the SP's application id
//   options.credentials = pgobo::databricks::make_lakebase_credentials({
//       .workspace_url = "https://adb-123.azuredatabricks.net",
//       .endpoint = "projects/app/branches/main/endpoints/primary",  // Autoscaling
//       .workspace_token = sp_token});
//   // or a Lakebase Provisioned database instance instead of an endpoint:
//   options.credentials = pgobo::databricks::make_lakebase_credentials({
//       .workspace_url = "https://adb-123.azuredatabricks.net",
//       .workspace_token = sp_token,
//       .instance_name = "notes-db"});
//
// make_lakebase_credentials() caches the token (CachedCredentials: refreshed
// two minutes before expiry, one request for many concurrent connections).
// LakebaseCredentials alone makes one HTTP call per get().
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pgobo/credentials.hpp"
#include "pgobo/databricks/workspace.hpp"

namespace pgobo::databricks {

// One database credential per get(), with bearer auth, for the one database
// that Options names:
//   an Autoscaling endpoint:  POST {workspace}/api/2.0/postgres/credentials
//                             {"endpoint": …} → {"token", "expire_time"}
//   a Provisioned instance:   POST {workspace}/api/2.0/database/credentials
//                             {"instance_names": [name], "request_id": <UUID v4>}
//                             → {"token", "expiration_time"}
// Both times are RFC 3339. An HTTP error, a timeout or an answer of any other
// shape is a CredentialError that says which, with the HTTP status and the
// API's error text (secrets scrubbed).
class LakebaseCredentials final : public CredentialProvider {
 public:
  struct Options {
    std::string workspace_url;  // normalised with normalize_workspace_url
    // projects/{project}/branches/{branch}/endpoints/{endpoint} (LAKEBASE_ENDPOINT)
    std::string endpoint;
    // Whose credential: the service principal's, a PAT's or a user's token.
    std::shared_ptr<WorkspaceToken> workspace_token;
    HttpOptions http;
    // A Lakebase Provisioned database instance (LAKEBASE_INSTANCE_NAME).
    // Exactly one of endpoint and instance_name is set. Last and with a
    // default initialiser, so that aggregate initialisers written before it
    // keep their meaning and compile without a missing-initialiser warning.
    std::string instance_name{};
  };

  // Throws ConfigError on a malformed URL, endpoint or instance name, on both
  // or neither of endpoint and instance_name, or on a null token source.
  explicit LakebaseCredentials(Options options);

  [[nodiscard]] Credential get() override;

 private:
  Options options_;
  std::string url_;
};

// Throws ConfigError naming `what` unless `endpoint` has the form
// projects/{project}/branches/{branch}/endpoints/{endpoint} with non-empty,
// slash-free parts.
void validate_lakebase_endpoint(std::string_view endpoint, std::string_view what);

// Throws ConfigError naming `what` unless `instance_name` is a database
// instance name as Databricks creates them: 1 to 63 ASCII letters, digits
// and hyphens.
void validate_lakebase_instance_name(std::string_view instance_name, std::string_view what);

// LakebaseCredentials behind a CachedCredentials: what a pool should use.
// cache.name defaults to "lakebase".
[[nodiscard]] std::shared_ptr<CachedCredentials> make_lakebase_credentials(
    LakebaseCredentials::Options options, CachedCredentials::Options cache = {});

}  // namespace pgobo::databricks
