#include "pgobo/databricks/config.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "config_reader.hpp"
#include "databricks/auth_config.hpp"
#include "databricks/http.hpp"
#include "databricks/lakebase_tls.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/profile.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo::databricks {
namespace {

using pgobo::detail::ConfigOrigin;
using Value = pgobo::detail::ConfigValue;
using Field = pgobo::detail::ConfigField<LakebaseConfig>;

// A CA bundle must be readable when configured, not at the first HTTP call.
std::string readable_ca_file(const Value& v) {
  std::string path = v.string();
  if (path.empty()) return path;  // the system default
  if (const auto problem = detail::ca_file_problem(path)) {
    v.reject("a readable file of PEM CA certificates (" + *problem + ")");
  }
  return path;
}

constexpr std::array<Field, 14> kFields{{
    {"LAKEBASE_ENDPOINT", "lakebase_endpoint", false,
     [](LakebaseConfig& c, const Value& v) {
       c.endpoint = v.string();
       validate_lakebase_endpoint(c.endpoint, v.name());
     }},
    {"LAKEBASE_INSTANCE_NAME", "lakebase_instance_name", false,
     [](LakebaseConfig& c, const Value& v) {
       c.instance_name = v.string();
       validate_lakebase_instance_name(c.instance_name, v.name());
     }},
    {"DATABRICKS_HOST", "workspace_url", false,
     [](LakebaseConfig& c, const Value& v) {
       c.workspace_url = normalize_workspace_url(v.string(), v.name());
     }},
    {"DATABRICKS_CLIENT_ID", "client_id", false,
     [](LakebaseConfig& c, const Value& v) { c.client_id = v.string(); }},
    {"DATABRICKS_CLIENT_SECRET", "client_secret", true,
     [](LakebaseConfig& c, const Value& v) { c.client_secret = Secret(v.string()); }},
    {"DATABRICKS_TOKEN", "workspace_token", true,
     [](LakebaseConfig& c, const Value& v) { c.workspace_token = Secret(v.header_safe_string()); }},
    {"PGOBO_CREDENTIAL_REFRESH_AHEAD_MS", "credential_refresh_ahead_ms", false,
     [](LakebaseConfig& c, const Value& v) { c.credential_refresh_ahead = v.milliseconds(); }},
    {"PGOBO_HTTP_CONNECT_TIMEOUT_MS", "http_connect_timeout_ms", false,
     [](LakebaseConfig& c, const Value& v) {
       c.http.connect_timeout = v.milliseconds();
       if (c.http.connect_timeout.count() == 0) v.reject("a positive number of milliseconds");
     }},
    {"PGOBO_HTTP_TIMEOUT_MS", "http_timeout_ms", false,
     [](LakebaseConfig& c, const Value& v) {
       c.http.timeout = v.milliseconds();
       if (c.http.timeout.count() == 0) v.reject("a positive number of milliseconds");
     }},
    {"PGOBO_HTTP_MAX_RESPONSE_BYTES", "http_max_response_bytes", false,
     [](LakebaseConfig& c, const Value& v) {
       c.http.max_response_bytes = static_cast<std::size_t>(
           v.integer(1024, 64LL * 1024 * 1024, "a whole number of bytes from 1024 to 67108864"));
     }},
    {"PGOBO_HTTP_CA_FILE", "http_ca_file", false,
     [](LakebaseConfig& c, const Value& v) { c.http.ca_file = readable_ca_file(v); }},
    // The usual CA overrides (corporate proxies), environment only, after
    // pgobo's own, which wins: the more specific name first, as curl does.
    {"CURL_CA_BUNDLE", "", false,
     [](LakebaseConfig& c, const Value& v) {
       if (c.http.ca_file.empty()) c.http.ca_file = readable_ca_file(v);
     }},
    {"SSL_CERT_FILE", "", false,
     [](LakebaseConfig& c, const Value& v) {
       if (c.http.ca_file.empty()) c.http.ca_file = readable_ca_file(v);
     }},
    {"PGOBO_HTTP_RETRY_TIMEOUT_MS", "http_retry_timeout_ms", false,
     [](LakebaseConfig& c, const Value& v) {
       c.http.retry_timeout = std::chrono::milliseconds{v.integer(
           0, 600'000, "a whole number of milliseconds from 0 to 600000 (0 = no retries)")};
     }},
}};

// How a message names a setting: Lakebase's own, or the core's password.
std::string label(ConfigOrigin origin, std::string_view json_key) {
  if (json_key == "password") return pgobo::detail::config_label(origin, "PGPASSWORD", "password");
  for (const auto& field : kFields) {
    if (field.json == json_key) return pgobo::detail::config_label(origin, field.env, field.json);
  }
  for (const auto& field : detail::kAuthFields) {
    if (field.json == json_key) return pgobo::detail::config_label(origin, field.env, field.json);
  }
  throw std::logic_error("pgobo: no Lakebase config field " + std::string(json_key));
}

void validate_app(const AppConfig& config, ConfigOrigin origin) {
  const auto missing = [origin](std::string_view key, std::string_view expected) {
    throw ConfigError(fmt::format("{} is not set: expected {}", label(origin, key), expected));
  };
  const LakebaseConfig& lakebase = config.lakebase;
  // One database per configuration: an endpoint and an instance are two
  // different databases, and a guess between them would log in to the wrong one.
  if (!lakebase.endpoint.empty() && !lakebase.instance_name.empty()) {
    throw ConfigError(fmt::format(
        "both {} and {} are set: set exactly one (an Autoscaling endpoint or a Provisioned "
        "database instance)",
        label(origin, "lakebase_endpoint"), label(origin, "lakebase_instance_name")));
  }
  if (!config.routing.service.password && lakebase.endpoint.empty() &&
      lakebase.instance_name.empty() && !config.routing.service.pool.credentials) {
    throw ConfigError(fmt::format(
        "no database credential: set {} for a static password, or {} or {} for Lakebase OAuth",
        label(origin, "password"), label(origin, "lakebase_endpoint"),
        label(origin, "lakebase_instance_name")));
  }
  if (config.uses_lakebase()) {
    const std::string hint = detail::profile_hint(lakebase, origin);
    if (lakebase.workspace_url.empty()) {
      missing("workspace_url", "the workspace URL Lakebase credentials are requested from" + hint);
    }
    const std::string_view auth = lakebase.auth_type;
    if (auth == "pat" && lakebase.workspace_token.empty()) {
      missing("workspace_token", fmt::format("a personal access token: {} is pat{}",
                                             label(origin, "auth_type"), hint));
    }
    // PAT, then OAuth M2M, then the Databricks CLI (when it is installed),
    // unless the auth type forces one.
    const bool m2m_needed =
        auth == "oauth-m2m" || (auth.empty() && lakebase.workspace_token.empty());
    if (auth.empty() && m2m_needed && lakebase.client_id.empty() &&
        lakebase.client_secret.empty()) {
      // Env/JSON: from_env/from_json resolved the CLI's path with their PATH.
      const auto path = origin == ConfigOrigin::code ? detail::process_path() : std::nullopt;
      if (detail::find_databricks_cli(lakebase, path).empty()) {
        throw ConfigError(fmt::format(
            "no workspace credential for Lakebase: set {}, or {} and {}{}, or install the "
            "Databricks CLI and run `databricks auth login --host <workspace>`",
            label(origin, "workspace_token"), label(origin, "client_id"),
            label(origin, "client_secret"), hint));
      }
    } else if (m2m_needed) {
      if (lakebase.client_id.empty()) {
        missing("client_id", "the OAuth client id of the client secret");
      }
      if (lakebase.client_secret.empty()) {
        missing("client_secret", "the OAuth client secret of the client id");
      }
    }
  }
}

std::shared_ptr<CredentialProvider> lakebase_provider(const LakebaseConfig& config,
                                                      std::shared_ptr<WorkspaceToken> token,
                                                      const WallClock& clock, std::string name) {
  CachedCredentials::Options cache;
  cache.name = std::move(name);
  cache.refresh_ahead = config.credential_refresh_ahead;
  cache.clock = clock;
  return make_lakebase_credentials(
      LakebaseCredentials::Options{config.workspace_url, config.endpoint, std::move(token),
                                   config.http, config.instance_name},
      std::move(cache));
}

std::optional<std::string> process_env(std::string_view name) {
  // std::getenv is safe as long as nobody calls setenv concurrently, which
  // is the caller's contract for any environment read.
  const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

AppConfig AppConfig::from_env() { return from_env(process_env); }

AppConfig AppConfig::from_env(const EnvLookup& lookup) {
  AppConfig config;
  config.routing = RoutingConfig::from_env(lookup);
  pgobo::detail::read_env(kFields, config.lakebase, lookup);
  pgobo::detail::read_env(detail::kAuthFields, config.lakebase, lookup);
  // AppKit's rule for the environment: a Lakebase database wins over
  // PGPASSWORD, which a Databricks App may carry for other tools. A password
  // given in JSON or in code is explicit and still wins (uses_lakebase()).
  const std::string_view lakebase_variable = !config.lakebase.endpoint.empty() ? "LAKEBASE_ENDPOINT"
                                             : !config.lakebase.instance_name.empty()
                                                 ? "LAKEBASE_INSTANCE_NAME"
                                                 : "";
  const bool password_ignored =
      config.routing.service.password.has_value() && !lakebase_variable.empty();
  if (password_ignored) config.routing.service.password.reset();
  try {
    if (config.uses_lakebase()) {
      const auto home = lookup("HOME");
      detail::apply_profile(config.lakebase, ConfigOrigin::env,
                            home && !home->empty() ? home : std::nullopt, lookup("PATH"));
    }
    validate_app(config, ConfigOrigin::env);
  } catch (const ConfigError& e) {
    if (!password_ignored) throw;
    throw ConfigError(fmt::format(
        "{} (PGPASSWORD is set but not used: with {}, connections log in with Lakebase OAuth "
        "database credentials, as in AppKit; unset {} to log in with PGPASSWORD)",
        e.what(), lakebase_variable, lakebase_variable));
  }
  if (password_ignored) {
    logger()->info(
        "database credential: Lakebase OAuth ({}); PGPASSWORD is set and ignored, as in AppKit",
        lakebase_variable);
  }
  return config;
}

AppConfig AppConfig::from_json(const nlohmann::json& json) {
  std::vector<std::string_view> keys;
  pgobo::detail::append_json_keys(kFields, keys);
  pgobo::detail::append_json_keys(detail::kAuthFields, keys);
  AppConfig config;
  config.routing = pgobo::detail::routing_config_from_json(json, keys);
  pgobo::detail::read_json(kFields, config.lakebase, json, nullptr);
  pgobo::detail::read_json(detail::kAuthFields, config.lakebase, json, nullptr);
  if (config.uses_lakebase()) {
    detail::apply_profile(config.lakebase, ConfigOrigin::json, std::nullopt, std::nullopt);
  }
  validate_app(config, ConfigOrigin::json);
  if (config.routing.service.password &&
      (!config.lakebase.endpoint.empty() || !config.lakebase.instance_name.empty())) {
    logger()->info(
        "database credential: the JSON key 'password' (a static password); '{}' is set and not "
        "used",
        config.lakebase.endpoint.empty() ? "lakebase_instance_name" : "lakebase_endpoint");
  }
  return config;
}

AppConfig AppConfig::from_json_text(std::string_view text) {
  return from_json(pgobo::detail::parse_config_json_text(text));
}

void AppConfig::validate() const {
  routing.service.validate();
  validate_app(*this, ConfigOrigin::code);
}

std::shared_ptr<WorkspaceToken> AppConfig::make_workspace_token(const WallClock& clock) const {
  const std::string_view auth = detail::effective_auth_type(
      lakebase, !detail::find_databricks_cli(lakebase, detail::process_path()).empty());
  if (auth == "databricks-cli") {
    DatabricksCliToken::Options options;
    options.workspace_url = lakebase.workspace_url;
    options.profile = lakebase.config_profile;
    options.config_file = lakebase.config_file;
    if (!lakebase.databricks_cli_path.empty()) options.executable = lakebase.databricks_cli_path;
    options.timeout = lakebase.http.timeout;  // the CLI may refresh its token over HTTP
    options.cache.refresh_ahead = lakebase.credential_refresh_ahead;
    options.cache.clock = clock;
    return std::make_shared<DatabricksCliToken>(std::move(options));
  }
  if (auth == "pat" && !lakebase.workspace_token.empty()) {
    return std::make_shared<PersonalAccessToken>(lakebase.workspace_token);
  }
  if (auth == "oauth-m2m" && !lakebase.client_id.empty() && !lakebase.client_secret.empty()) {
    ServicePrincipalOAuth::Options options;
    options.workspace_url = lakebase.workspace_url;
    options.client_id = lakebase.client_id;
    options.client_secret = lakebase.client_secret;
    options.http = lakebase.http;
    options.cache.refresh_ahead = lakebase.credential_refresh_ahead;
    options.cache.clock = clock;
    return std::make_shared<ServicePrincipalOAuth>(std::move(options));
  }
  throw ConfigError(fmt::format(
      "no workspace credential{}: set {}, or {} and {}, or install the Databricks CLI and run "
      "`databricks auth login --host <workspace>`",
      auth.empty() ? std::string() : fmt::format(" for auth type {}", auth),
      label(ConfigOrigin::code, "workspace_token"), label(ConfigOrigin::code, "client_id"),
      label(ConfigOrigin::code, "client_secret")));
}

std::string AppConfig::resolve_user(WorkspaceToken* token) const {
  const std::string& user = routing.service.pool.connection.user;
  if (!user.empty()) return user;
  if (!lakebase.client_id.empty()) return lakebase.client_id;
  if (token != nullptr && !lakebase.workspace_url.empty()) {
    return fetch_current_user_name(lakebase.workspace_url, *token, lakebase.http);
  }
  return {};
}

namespace {

// A user pool's credentials: Lakebase's, bought with the user's own token.
std::shared_ptr<CredentialProvider> user_lakebase_credentials(const LakebaseConfig& lakebase,
                                                              Secret user_token,
                                                              const WallClock& clock) {
  return lakebase_provider(lakebase, std::make_shared<ForwardedUserToken>(std::move(user_token)),
                           clock, "lakebase-user");
}

}  // namespace

std::shared_ptr<CredentialProvider> AppConfig::make_user_credentials(Secret user_token,
                                                                     const WallClock& clock) const {
  if (!uses_lakebase()) {
    throw ConfigError(
        "user credentials need Lakebase OAuth: set the Lakebase endpoint or instance name, and no "
        "static password");
  }
  return user_lakebase_credentials(lakebase, std::move(user_token), clock);
}

PoolOptions AppConfig::make_service_pool_options(const WallClock& clock) const {
  validate();
  // Lakebase's TLS default (verify-full against the system's CAs), before
  // any call to the workspace: a missing CA bundle is a configuration error.
  // User pools copy the service pool's connection, TLS included.
  ConnectionParams tls = routing.service.pool.connection;
  if (uses_lakebase()) detail::apply_lakebase_tls(tls, detail::SystemTrust::of_this_machine());
  // A static password, or a provider set in code, wins over Lakebase for the
  // service principal (the user pools may still use Lakebase).
  if (!uses_lakebase() || routing.service.pool.credentials) {
    PoolOptions options = routing.service.make_pool_options();
    if (options.connection.user.empty()) options.connection.user = lakebase.client_id;
    options.connection.sslmode = tls.sslmode;
    options.connection.sslrootcert = tls.sslrootcert;
    return options;
  }
  PoolOptions options = routing.service.pool;
  options.connection.sslmode = tls.sslmode;
  options.connection.sslrootcert = tls.sslrootcert;
  std::shared_ptr<WorkspaceToken> token = make_workspace_token(clock);
  options.connection.user = resolve_user(token.get());
  options.credentials = lakebase_provider(lakebase, std::move(token), clock, "lakebase");
  return options;
}

RoutingConfig AppConfig::make_routing_config(const WallClock& clock) const {
  RoutingConfig ready = routing;
  const PoolOptions service = make_service_pool_options(clock);
  ready.service.pool = service;
  ready.service.password.reset();  // its StaticPassword is in service.credentials
  if (!ready.user_credentials) {
    if (!uses_lakebase()) {
      throw ConfigError(
          "RoutingConfig: user pools need a password source: set user_credentials, or "
          "LAKEBASE_ENDPOINT or LAKEBASE_INSTANCE_NAME (with DATABRICKS_HOST) for Lakebase OAuth "
          "credentials bought with each user's token");
    }
    // What a user's Lakebase credential needs, without the service
    // principal's own secrets: they stay out of a copy that lives as long as
    // the router.
    LakebaseConfig for_users = lakebase;
    for_users.client_secret = Secret();
    for_users.workspace_token = Secret();
    ready.user_credentials = [for_users = std::move(for_users), clock](const UserContext& user) {
      return user_lakebase_credentials(for_users, user.access_token(), clock);
    };
  }
  return ready;
}

std::unique_ptr<RoutingPool> make_routing_pool(AppConfig config) {
  return RoutingPool::create(config.make_routing_config());
}

std::unique_ptr<RoutingPool> make_routing_pool() {
  return make_routing_pool(AppConfig::from_env());
}

}  // namespace pgobo::databricks
