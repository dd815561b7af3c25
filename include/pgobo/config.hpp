// pgobo/config.hpp — a pool's settings from the environment or from JSON.
//
//   // Databricks Apps sets PGHOST, PGDATABASE, PGUSER, LAKEBASE_ENDPOINT,
//   // DATABRICKS_HOST, DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET:
//   pgobo::PoolConfig config = pgobo::PoolConfig::from_env();
//   pgobo::PoolOptions options = config.make_pool_options();  // credentials wired, user resolved
//
//   auto from_file = pgobo::PoolConfig::from_json_text(R"({
//       "host": "db.internal", "database": "app", "user": "svc",
//       "password": "s3cret", "max_size": 20, "idle_timeout_ms": 60000})");
//
// Every setting, its environment variable, JSON key and default is listed in
// docs/configuration.md. A missing or malformed value throws ConfigError
// naming the variable or key and what is expected; secret values (password,
// client secret, token) are never repeated in a message.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgobo/credentials.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/secret.hpp"
#include "pgobo/workspace.hpp"

namespace pgobo {

// Reads one environment variable; nullopt when unset. from_env() uses
// std::getenv; tests and embedders may pass their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct PoolConfig {
  // Sizes, timeouts and the connection (host, port, dbname, user, sslmode,
  // application name, connect timeout, server settings). `pool.credentials`
  // stays null here; make_pool_options() fills it in.
  PoolOptions pool;

  // A static password (PGPASSWORD / "password"). Wins over Lakebase OAuth.
  std::optional<Secret> password;

  // Lakebase OAuth: projects/{p}/branches/{b}/endpoints/{e} (LAKEBASE_ENDPOINT).
  std::string lakebase_endpoint;
  // The workspace (DATABRICKS_HOST), normalised by normalize_workspace_url.
  std::string workspace_url;
  // The service principal's OAuth client (DATABRICKS_CLIENT_ID / _SECRET).
  std::string client_id;
  Secret client_secret;
  // A personal access token (DATABRICKS_TOKEN). Wins over the client id and
  // secret, as in the Databricks SDKs' default chain.
  Secret workspace_token;

  // Database credentials and OAuth tokens are refreshed this long before they expire.
  std::chrono::milliseconds credential_refresh_ahead{std::chrono::minutes{2}};
  HttpOptions http;

  // From the process environment. Empty variables count as unset.
  [[nodiscard]] static PoolConfig from_env();
  [[nodiscard]] static PoolConfig from_env(const EnvLookup& lookup);
  // From a JSON object (keys in docs/configuration.md; unknown keys are an
  // error, null counts as absent). Reads no environment variable.
  [[nodiscard]] static PoolConfig from_json(const nlohmann::json& json);
  // As from_json; a syntax error is a ConfigError too.
  [[nodiscard]] static PoolConfig from_json_text(std::string_view text);

  // True when connections log in with Lakebase OAuth database credentials.
  [[nodiscard]] bool uses_lakebase() const noexcept {
    return !password.has_value() && !lakebase_endpoint.empty();
  }

  // Checks what from_env/from_json check, for a config built in code.
  void validate() const;

  // The workspace token of the service principal: the PAT if set, else OAuth
  // M2M with the client id and secret. Throws ConfigError if neither is set.
  [[nodiscard]] std::shared_ptr<WorkspaceToken> make_workspace_token(
      const WallClock& clock = {}) const;

  // The PostgreSQL user of the service principal's pool: pool.connection.user
  // (PGUSER / "user"), else client_id, else the workspace's SCIM Me userName
  // fetched with `token` (which may be null when no lookup is wanted).
  [[nodiscard]] std::string resolve_user(WorkspaceToken* token) const;

  // The service principal's credential provider: a StaticPassword, or cached
  // Lakebase credentials requested with make_workspace_token().
  [[nodiscard]] std::shared_ptr<CredentialProvider> make_credentials(
      const WallClock& clock = {}) const;

  // A user pool's credential provider: cached Lakebase credentials requested
  // with the user's forwarded token. Throws ConfigError unless uses_lakebase().
  [[nodiscard]] std::shared_ptr<CredentialProvider> make_user_credentials(
      Secret user_token, const WallClock& clock = {}) const;

  // validate(), then `pool` with the user resolved and credentials set: ready
  // for the service principal's Pool. May call the workspace (OAuth, SCIM).
  [[nodiscard]] PoolOptions make_pool_options(const WallClock& clock = {}) const;
};

}  // namespace pgobo
