// pgobo/config.hpp — a pool's settings from the environment or from JSON.
//
//   // PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGOBO_MAX_SIZE…
//   pgobo::PoolConfig config = pgobo::PoolConfig::from_env();
//   pgobo::Pool pool(config.make_pool_options());   // a StaticPassword for PGPASSWORD
//
//   auto from_file = pgobo::PoolConfig::from_json_text(R"({
//       "host": "db.internal", "database": "app", "user": "svc",
//       "password": "s3cret", "max_size": 20, "idle_timeout_ms": 60000})");
//
// Every setting, its environment variable, JSON key and default is listed in
// docs/configuration.md. A missing or malformed value throws ConfigError
// naming the variable or key and what is expected; a secret value (the
// password) is never repeated in a message. Lakebase OAuth and the rest of a
// Databricks App's environment: pgobo/databricks/config.hpp.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgobo/pool_options.hpp"
#include "pgobo/secret.hpp"

namespace pgobo {

// Reads one environment variable; nullopt when unset. from_env() uses
// std::getenv; tests and embedders may pass their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct PoolConfig {
  // Sizes, timeouts and the connection (host, port, dbname, user, sslmode,
  // sslrootcert, application name, connect timeout, server settings).
  // sslmode stays unset unless PGSSLMODE / "sslmode" is given, so a layer
  // above can tell the user's choice from the default. Set
  // `pool.credentials` in code for a password source other than `password`
  // (e.g. pgobo::databricks for Lakebase OAuth, or your own provider).
  PoolOptions pool;

  // A static password (PGPASSWORD / "password"). Wins over pool.credentials.
  std::optional<Secret> password;

  // From the process environment. Empty variables count as unset.
  [[nodiscard]] static PoolConfig from_env();
  [[nodiscard]] static PoolConfig from_env(const EnvLookup& lookup);
  // From a JSON object (keys in docs/configuration.md; unknown keys are an
  // error, null counts as absent). Reads no environment variable.
  [[nodiscard]] static PoolConfig from_json(const nlohmann::json& json);
  // As from_json; a syntax error is a ConfigError too.
  [[nodiscard]] static PoolConfig from_json_text(std::string_view text);

  // Checks what from_env/from_json check, for a config built in code: a
  // host and a database, sizes and timeouts in range. A password source is
  // checked by make_pool_options().
  void validate() const;

  // validate(), then `pool` with its credentials: a StaticPassword when
  // `password` is set, else pool.credentials. Throws ConfigError when
  // neither is set.
  [[nodiscard]] PoolOptions make_pool_options() const;
};

}  // namespace pgobo
