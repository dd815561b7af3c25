// pgobo/databricks/config.hpp — a Databricks App's database settings: the
// core settings plus Lakebase OAuth, from the environment or from JSON.
//
//   // Databricks Apps sets PGHOST, PGDATABASE, PGUSER, DATABRICKS_HOST,
//   // DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET; add LAKEBASE_ENDPOINT
//   // (Lakebase Autoscaling) or LAKEBASE_INSTANCE_NAME (Lakebase Provisioned):
//   auto db = pgobo::databricks::make_routing_pool();     // from the process environment
//
//   // or step by step:
//   auto app = pgobo::databricks::AppConfig::from_env();
//   app.routing.max_total_connections = 400;
//   auto db2 = pgobo::databricks::make_routing_pool(std::move(app));
//
//   // one pool of the service principal:
//   pgobo::Pool pool(pgobo::databricks::AppConfig::from_env().make_service_pool_options());
//
// Every setting, its environment variable, JSON key and default is listed in
// docs/configuration.md. A missing or malformed value throws ConfigError
// naming the variable or key; secrets (password, client secret, workspace
// token) are never repeated in a message.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pgobo/config.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/secret.hpp"

namespace pgobo::databricks {

// How connections get Lakebase OAuth database credentials. The database is
// an Autoscaling endpoint or a Provisioned database instance: at most one of
// the two is set (both: ConfigError); neither: no Lakebase OAuth.
struct LakebaseConfig {
  // projects/{p}/branches/{b}/endpoints/{e} (LAKEBASE_ENDPOINT).
  std::string endpoint;
  // A database instance's name (LAKEBASE_INSTANCE_NAME): 1-63 letters, digits, hyphens.
  std::string instance_name;
  // The workspace (DATABRICKS_HOST), normalised by normalize_workspace_url.
  std::string workspace_url;
  // The service principal's OAuth client (DATABRICKS_CLIENT_ID / _SECRET).
  std::string client_id;
  Secret client_secret;
  // A personal access token (DATABRICKS_TOKEN). Wins over the client id and
  // secret, as in the Databricks SDKs' default chain.
  Secret workspace_token;
  // Which workspace credential: empty = the first configured of a personal
  // access token, OAuth M2M, the Databricks CLI (the SDKs' order); or one of
  // "pat", "oauth-m2m", "databricks-cli" (DATABRICKS_AUTH_TYPE, auth_type).
  std::string auth_type;
  // The Databricks configuration profile and file (DATABRICKS_CONFIG_PROFILE,
  // DATABRICKS_CONFIG_FILE; databricks/profile.hpp). from_env/from_json read
  // the profile into the fields above that the environment (or JSON) leaves
  // unset, and leave here the profile and file actually read (empty: none).
  // The CLI is run with --profile config_profile when it is set.
  std::string config_profile;
  std::string config_file;
  // The `databricks` executable for the CLI credential (DATABRICKS_CLI_PATH):
  // a path, or a name looked up in PATH; empty = "databricks".
  std::string databricks_cli_path;
  // Database credentials and OAuth tokens are refreshed this long before they expire.
  std::chrono::milliseconds credential_refresh_ahead{std::chrono::minutes{2}};
  HttpOptions http;
};

// The core RoutingConfig (service pool, user pools, limits) and Lakebase.
struct AppConfig {
  RoutingConfig routing;
  LakebaseConfig lakebase;

  // From the process environment. Empty variables count as unset. With
  // Lakebase, a profile of ~/.databrickscfg (HOME) fills the workspace
  // settings the environment leaves unset (databricks/profile.hpp).
  [[nodiscard]] static AppConfig from_env();
  [[nodiscard]] static AppConfig from_env(const EnvLookup& lookup);
  // From one JSON object: RoutingConfig's keys and lakebase_endpoint,
  // lakebase_instance_name, workspace_url, client_id, client_secret,
  // workspace_token, auth_type, config_file, config_profile,
  // databricks_cli_path, credential_refresh_ahead_ms and the http_* keys. A
  // profile is read only from a config_file named in the JSON (no HOME, no
  // default file).
  [[nodiscard]] static AppConfig from_json(const nlohmann::json& json);
  [[nodiscard]] static AppConfig from_json_text(std::string_view text);

  // True when connections log in with Lakebase OAuth database credentials:
  // an endpoint or an instance name is set and no static password.
  // from_env() follows AppKit: with LAKEBASE_ENDPOINT or
  // LAKEBASE_INSTANCE_NAME set it drops PGPASSWORD (and logs so); a password
  // set in JSON or in code is explicit and wins.
  [[nodiscard]] bool uses_lakebase() const noexcept {
    return !routing.service.password.has_value() &&
           (!lakebase.endpoint.empty() || !lakebase.instance_name.empty());
  }

  // Checks what from_env/from_json check, for a config built in code: not
  // both an endpoint and an instance name; a database credential (a
  // password, a Lakebase endpoint or instance name, or a provider in
  // routing.service.pool.credentials), and for Lakebase a workspace and a
  // workspace credential.
  void validate() const;

  // The workspace token of the service principal (locally: the developer):
  // lakebase.auth_type's, else the PAT if set, else OAuth M2M with the client
  // id and secret, else the Databricks CLI's token (DatabricksCliToken,
  // databricks/profile.hpp) if the `databricks` executable is found. Throws
  // ConfigError if none applies.
  [[nodiscard]] std::shared_ptr<WorkspaceToken> make_workspace_token(
      const WallClock& clock = {}) const;

  // The PostgreSQL user of the service principal's pool: PGUSER ("user"),
  // else client_id, else the workspace's SCIM Me userName fetched with
  // `token` (which may be null when no lookup is wanted).
  [[nodiscard]] std::string resolve_user(WorkspaceToken* token) const;

  // A user pool's credential provider: cached Lakebase credentials (for the
  // endpoint or the instance) requested with the user's forwarded token.
  // Throws ConfigError unless uses_lakebase().
  [[nodiscard]] std::shared_ptr<CredentialProvider> make_user_credentials(
      Secret user_token, const WallClock& clock = {}) const;

  // validate(), then the service principal's PoolOptions with the user
  // resolved and credentials set: the static password, else a provider set
  // in routing.service.pool.credentials, else cached Lakebase credentials.
  // May call the workspace (OAuth, SCIM).
  [[nodiscard]] PoolOptions make_service_pool_options(const WallClock& clock = {}) const;

  // validate(), then `routing` ready for RoutingPool::create: the service
  // pool's user and credentials set as make_service_pool_options() does, and
  // (unless set already) user_credentials = make_user_credentials with each
  // user's forwarded token. May call the workspace.
  [[nodiscard]] RoutingConfig make_routing_config(const WallClock& clock = {}) const;
};

// RoutingPool::create(config.make_routing_config()).
[[nodiscard]] std::unique_ptr<RoutingPool> make_routing_pool(AppConfig config);
// make_routing_pool(AppConfig::from_env()).
[[nodiscard]] std::unique_ptr<RoutingPool> make_routing_pool();

}  // namespace pgobo::databricks
