#include "pgobo/config.hpp"
#include "pgobo/connection_params.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "json_limits.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/lakebase.hpp"

namespace pgobo {
namespace {

enum class Origin { env, json, code };

constexpr std::int64_t kMaxMilliseconds = 31LL * 24 * 60 * 60 * 1000;  // 31 days
constexpr std::int64_t kMaxPoolSize = 100'000;

// An excerpt of a value for a message: at most 60 bytes of printable ASCII
// (anything else shown as '?'), so a hostile value can neither flood nor
// split a log line, nor make the message invalid UTF-8.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 60)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (text.size() > 60) out += "...";
  return out;
}

// One configured value, from an environment variable or a JSON key.
class Value {
 public:
  Value(std::string name, std::string text, bool secret)
      : name_(std::move(name)), text_(std::move(text)), secret_(secret) {}
  Value(std::string name, const nlohmann::json* json, bool secret)
      : name_(std::move(name)), json_(json), secret_(secret) {}

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  [[noreturn]] void reject(std::string_view expected) const {
    if (secret_) throw ConfigError(fmt::format("{}: expected {}", name_, expected));
    // Never dump() the value: it may be nested deep enough to overflow the
    // stack (a JSON value built in code is not bounded by from_json_text),
    // or be megabytes long. Its type and a short excerpt say enough.
    const std::string got =
        json_ ? detail::describe_json_value(*json_) : "'" + printable(text_) + "'";
    throw ConfigError(fmt::format("{}: expected {}, got {}", name_, expected, got));
  }

  // Every string setting ends up in a C string (libpq's conninfo, libcurl's
  // options), where a NUL byte would silently cut it short.
  [[nodiscard]] std::string string() const {
    if (json_ && !json_->is_string()) reject("a string");
    std::string value = json_ ? json_->get<std::string>() : text_;
    if (value.find('\0') != std::string::npos) {
      throw ConfigError(fmt::format("{}: must not contain a NUL byte", name_));
    }
    return value;
  }

  // A string sent in an HTTP header: no control characters either.
  [[nodiscard]] std::string header_safe_string() const {
    std::string value = string();
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        throw ConfigError(fmt::format(
            "{}: must not contain control characters (CR, LF...): it is sent in an HTTP header",
            name_));
      }
    }
    return value;
  }

  [[nodiscard]] std::string non_empty_string(std::string_view expected) const {
    std::string value = string();
    if (value.empty()) reject(expected);
    return value;
  }

  // A role or database name. PostgreSQL cuts names past 63 bytes without a
  // word, so two longer names would meet as one.
  [[nodiscard]] std::string postgres_name(std::string_view expected, bool required) const {
    std::string value = required ? non_empty_string(expected) : string();
    constexpr std::size_t kMaxNameBytes = 63;
    if (value.size() > kMaxNameBytes) {
      throw ConfigError(fmt::format("{}: {} is {} bytes; PostgreSQL cuts names at 63 bytes", name_,
                                    expected, value.size()));
    }
    return value;
  }

  [[nodiscard]] std::int64_t integer(std::int64_t min, std::int64_t max,
                                     std::string_view expected) const {
    std::int64_t value = 0;
    if (json_) {
      if (json_->is_number_unsigned()) {
        if (json_->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) reject(expected);
        value = static_cast<std::int64_t>(json_->get<std::uint64_t>());
      } else if (json_->is_number_integer()) {
        value = json_->get<std::int64_t>();
      } else {
        reject(expected);
      }
    } else {
      const char* first = text_.data();
      const char* last = first + text_.size();
      const auto [end, error] = std::from_chars(first, last, value);
      if (error != std::errc() || end != last) reject(expected);
    }
    if (value < min || value > max) reject(expected);
    return value;
  }

  [[nodiscard]] std::chrono::milliseconds milliseconds() const {
    return std::chrono::milliseconds{integer(
        0, kMaxMilliseconds,
        fmt::format("a whole number of milliseconds from 0 to {} (31 days)", kMaxMilliseconds))};
  }

  [[nodiscard]] double number(std::string_view expected) const {
    double value = 0;
    if (json_) {
      if (!json_->is_number()) reject(expected);
      value = json_->get<double>();
    } else {
      const char* first = text_.data();
      const char* last = first + text_.size();
      const auto [end, error] = std::from_chars(first, last, value);
      if (error != std::errc() || end != last) reject(expected);
    }
    if (!std::isfinite(value)) reject(expected);
    return value;
  }

  [[nodiscard]] const nlohmann::json* json() const noexcept { return json_; }

 private:
  std::string name_;
  std::string text_;
  const nlohmann::json* json_ = nullptr;
  bool secret_ = false;
};

void set_setting(PoolConfig& config, const std::string& name, std::string value) {
  auto& settings = config.pool.connection.settings;
  for (auto& [existing, existing_value] : settings) {
    if (existing == name) {
      existing_value = std::move(value);
      return;
    }
  }
  settings.emplace_back(name, std::move(value));
}

std::size_t pool_size(const Value& v, std::int64_t min) {
  return static_cast<std::size_t>(
      v.integer(min, kMaxPoolSize, fmt::format("a whole number from {} to {}", min, kMaxPoolSize)));
}

struct Field {
  std::string_view env;   // the environment variable
  std::string_view json;  // the JSON key
  bool secret;            // never echoed in messages
  void (*apply)(PoolConfig&, const Value&);
};

// The one list of settings: from_env, from_json and the messages of
// validate() all read it, and docs/configuration.md mirrors it.
constexpr std::array<Field, 32> kFields{{
    {"PGOBO_POOL_NAME", "name", false,
     [](PoolConfig& c, const Value& v) { c.pool.name = v.non_empty_string("a non-empty name"); }},
    {"PGHOST", "host", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.host = v.non_empty_string("the PostgreSQL host name");
     }},
    {"PGPORT", "port", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.port =
           static_cast<std::uint16_t>(v.integer(1, 65535, "a port number from 1 to 65535"));
     }},
    {"PGDATABASE", "database", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.dbname = v.postgres_name("the database name", /*required=*/true);
     }},
    {"PGUSER", "user", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.user = v.postgres_name("the role name", /*required=*/false);
     }},
    {"PGPASSWORD", "password", true,
     [](PoolConfig& c, const Value& v) { c.password = Secret(v.string()); }},
    {"PGSSLMODE", "sslmode", false,
     [](PoolConfig& c, const Value& v) {
       if (v.json() && !v.json()->is_string()) v.reject("a string");
       c.pool.connection.sslmode = parse_ssl_mode(v.string(), v.name());
     }},
    {"PGAPPNAME", "application_name", false,
     [](PoolConfig& c, const Value& v) { c.pool.connection.application_name = v.string(); }},
    {"PGCONNECT_TIMEOUT", "connect_timeout_s", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.connect_timeout = std::chrono::seconds{
           v.integer(0, 86'400, "a whole number of seconds from 0 to 86400 (0 = no limit)")};
     }},
    {"", "settings", false,
     [](PoolConfig& c, const Value& v) {
       if (!v.json()->is_object()) v.reject("an object of server settings");
       for (const auto& [name, value] : v.json()->items()) {
         if (!is_server_setting_name(name)) {
           throw ConfigError(
               fmt::format("{}: '{}' is not a PostgreSQL setting name (letters, digits, _ and .)",
                           v.name(), printable(name)));
         }
         if (value.is_string()) {
           std::string text = value.get<std::string>();
           if (text.find('\0') != std::string::npos) {
             throw ConfigError(
                 fmt::format("{}: setting '{}' must not contain a NUL byte", v.name(), name));
           }
           set_setting(c, name, std::move(text));
         } else if (value.is_number() || value.is_boolean()) {
           set_setting(c, name, value.dump());
         } else {
           throw ConfigError(
               fmt::format("{}: setting '{}' must be a string, number or boolean", v.name(), name));
         }
       }
     }},
    {"PGOBO_STATEMENT_TIMEOUT_MS", "statement_timeout_ms", false,
     [](PoolConfig& c, const Value& v) {
       set_setting(c, "statement_timeout", std::to_string(v.milliseconds().count()) + "ms");
     }},
    {"PGOBO_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS", "idle_in_transaction_session_timeout_ms",
     false,
     [](PoolConfig& c, const Value& v) {
       set_setting(c, "idle_in_transaction_session_timeout",
                   std::to_string(v.milliseconds().count()) + "ms");
     }},
    {"PGOBO_MAX_SIZE", "max_size", false,
     [](PoolConfig& c, const Value& v) { c.pool.max_size = pool_size(v, 1); }},
    {"PGOBO_MIN_IDLE", "min_idle", false,
     [](PoolConfig& c, const Value& v) { c.pool.min_idle = pool_size(v, 0); }},
    {"PGOBO_ACQUIRE_TIMEOUT_MS", "acquire_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.acquire_timeout = v.milliseconds(); }},
    {"PGOBO_IDLE_TIMEOUT_MS", "idle_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.idle_timeout = v.milliseconds(); }},
    {"PGOBO_MAX_LIFETIME_MS", "max_lifetime_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.max_lifetime = v.milliseconds(); }},
    {"PGOBO_MAX_LIFETIME_JITTER", "max_lifetime_jitter", false,
     [](PoolConfig& c, const Value& v) {
       const char* expected = "a fraction from 0 up to (not including) 1";
       const double jitter = v.number(expected);
       if (jitter < 0.0 || jitter >= 1.0) v.reject(expected);
       c.pool.max_lifetime_jitter = jitter;
     }},
    {"PGOBO_SESSION_RESET", "session_reset", false,
     [](PoolConfig& c, const Value& v) {
       if (v.json() && !v.json()->is_string()) v.reject("a string");
       const std::string mode = v.string();
       if (mode == "when_exposed") {
         c.pool.session_reset = SessionReset::when_exposed;
       } else if (mode == "always") {
         c.pool.session_reset = SessionReset::always;
       } else if (mode == "never") {
         c.pool.session_reset = SessionReset::never;
       } else {
         v.reject("one of when_exposed, always, never");
       }
     }},
    {"PGOBO_RESET_QUERY", "reset_query", false,
     [](PoolConfig& c, const Value& v) { c.pool.reset_query = v.string(); }},
    {"PGOBO_VALIDATE_IDLE_AFTER_MS", "validate_idle_after_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.validate_idle_after = v.milliseconds(); }},
    {"PGOBO_END_TIMEOUT_MS", "end_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.end_timeout = v.milliseconds(); }},
    {"LAKEBASE_ENDPOINT", "lakebase_endpoint", false,
     [](PoolConfig& c, const Value& v) {
       c.lakebase_endpoint = v.string();
       validate_lakebase_endpoint(c.lakebase_endpoint, v.name());
     }},
    {"DATABRICKS_HOST", "workspace_url", false,
     [](PoolConfig& c, const Value& v) {
       c.workspace_url = normalize_workspace_url(v.string(), v.name());
     }},
    {"DATABRICKS_CLIENT_ID", "client_id", false,
     [](PoolConfig& c, const Value& v) { c.client_id = v.string(); }},
    {"DATABRICKS_CLIENT_SECRET", "client_secret", true,
     [](PoolConfig& c, const Value& v) { c.client_secret = Secret(v.string()); }},
    {"DATABRICKS_TOKEN", "workspace_token", true,
     [](PoolConfig& c, const Value& v) { c.workspace_token = Secret(v.header_safe_string()); }},
    {"PGOBO_CREDENTIAL_REFRESH_AHEAD_MS", "credential_refresh_ahead_ms", false,
     [](PoolConfig& c, const Value& v) { c.credential_refresh_ahead = v.milliseconds(); }},
    {"PGOBO_HTTP_CONNECT_TIMEOUT_MS", "http_connect_timeout_ms", false,
     [](PoolConfig& c, const Value& v) {
       c.http.connect_timeout = v.milliseconds();
       if (c.http.connect_timeout.count() == 0) v.reject("a positive number of milliseconds");
     }},
    {"PGOBO_HTTP_TIMEOUT_MS", "http_timeout_ms", false,
     [](PoolConfig& c, const Value& v) {
       c.http.timeout = v.milliseconds();
       if (c.http.timeout.count() == 0) v.reject("a positive number of milliseconds");
     }},
    {"PGOBO_HTTP_MAX_RESPONSE_BYTES", "http_max_response_bytes", false,
     [](PoolConfig& c, const Value& v) {
       c.http.max_response_bytes = static_cast<std::size_t>(
           v.integer(1024, 64LL * 1024 * 1024, "a whole number of bytes from 1024 to 67108864"));
     }},
    {"PGOBO_HTTP_CA_FILE", "http_ca_file", false,
     [](PoolConfig& c, const Value& v) { c.http.ca_file = v.string(); }},
}};

const Field& field_for_json(std::string_view key) {
  for (const auto& field : kFields) {
    if (field.json == key) return field;
  }
  throw std::logic_error("pgobo: no config field " + std::string(key));
}

// How validate() names a setting for the reader of the message.
std::string label(Origin origin, std::string_view json_key) {
  const Field& field = field_for_json(json_key);
  switch (origin) {
    case Origin::env:
      return std::string(field.env);
    case Origin::json:
      return fmt::format("JSON key '{}'", field.json);
    case Origin::code:
      break;
  }
  return fmt::format("{} ({} / JSON key '{}')", field.json, field.env, field.json);
}

void validate_config(const PoolConfig& config, Origin origin) {
  const auto missing = [origin](std::string_view key, std::string_view expected) {
    throw ConfigError(fmt::format("{} is not set: expected {}", label(origin, key), expected));
  };
  if (config.pool.connection.host.empty()) missing("host", "the PostgreSQL host name");
  if (config.pool.connection.dbname.empty()) missing("database", "the database name");

  if (!config.password && config.lakebase_endpoint.empty()) {
    throw ConfigError(fmt::format(
        "no database credential: set {} for a static password, or {} for Lakebase OAuth",
        label(origin, "password"), label(origin, "lakebase_endpoint")));
  }
  if (config.uses_lakebase()) {
    if (config.workspace_url.empty()) {
      missing("workspace_url", "the workspace URL Lakebase credentials are requested from");
    }
    if (config.workspace_token.empty()) {
      if (config.client_id.empty() && config.client_secret.empty()) {
        throw ConfigError(fmt::format("no workspace credential for Lakebase: set {}, or {} and {}",
                                      label(origin, "workspace_token"), label(origin, "client_id"),
                                      label(origin, "client_secret")));
      }
      if (config.client_id.empty())
        missing("client_id", "the OAuth client id of the client secret");
      if (config.client_secret.empty()) {
        missing("client_secret", "the OAuth client secret of the client id");
      }
    }
  }
  if (config.pool.min_idle > config.pool.max_size) {
    throw ConfigError(fmt::format("{} ({}) must not exceed {} ({})", label(origin, "min_idle"),
                                  config.pool.min_idle, label(origin, "max_size"),
                                  config.pool.max_size));
  }
  config.pool.validate();
}

// from_env and from_json must be told a host and database; the
// ConnectionParams defaults only serve configs built in code.
PoolConfig blank() {
  PoolConfig config;
  config.pool.connection.host.clear();
  config.pool.connection.dbname.clear();
  return config;
}

std::shared_ptr<CredentialProvider> lakebase_provider(const PoolConfig& config,
                                                      std::shared_ptr<WorkspaceToken> token,
                                                      const WallClock& clock, std::string name) {
  CachedCredentials::Options cache;
  cache.name = std::move(name);
  cache.refresh_ahead = config.credential_refresh_ahead;
  cache.clock = clock;
  return make_lakebase_credentials(
      LakebaseCredentials::Options{config.workspace_url, config.lakebase_endpoint, std::move(token),
                                   config.http},
      std::move(cache));
}

}  // namespace

PoolConfig PoolConfig::from_env() {
  return from_env([](std::string_view name) -> std::optional<std::string> {
    // std::getenv is safe here as long as nobody calls setenv concurrently,
    // which is the caller's contract for any environment read.
    const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

PoolConfig PoolConfig::from_env(const EnvLookup& lookup) {
  PoolConfig config = blank();
  for (const auto& field : kFields) {
    if (field.env.empty()) continue;
    std::optional<std::string> value = lookup(field.env);
    if (!value || value->empty()) continue;
    field.apply(config, Value(std::string(field.env), std::move(*value), field.secret));
  }
  validate_config(config, Origin::env);
  return config;
}

PoolConfig PoolConfig::from_json(const nlohmann::json& json) {
  if (!json.is_object()) {
    throw ConfigError("the JSON configuration must be an object, got " +
                      std::string(json.type_name()));
  }
  PoolConfig config = blank();
  for (const auto& [key, value] : json.items()) {
    const Field* found = nullptr;
    for (const auto& field : kFields) {
      if (field.json == key) found = &field;
    }
    if (found == nullptr) {
      std::string hint;
      for (const auto& field : kFields) {
        if (field.json.substr(0, key.size()) == key && field.json.size() > key.size() &&
            field.json[key.size()] == '_') {
          hint = fmt::format(" (did you mean '{}'?)", field.json);
        }
      }
      throw ConfigError(
          fmt::format("unknown JSON key '{}'{}; see docs/configuration.md", printable(key), hint));
    }
    if (value.is_null()) continue;
    found->apply(config, Value(fmt::format("JSON key '{}'", key), &value, found->secret));
  }
  validate_config(config, Origin::json);
  return config;
}

PoolConfig PoolConfig::from_json_text(std::string_view text) {
  nlohmann::json parsed;
  try {
    parsed = detail::parse_json_bounded(text);
  } catch (const detail::JsonTooDeep& e) {
    throw ConfigError(fmt::format(
        "the JSON configuration is too deeply nested: {} (no setting needs more than 2)",
        e.what()));
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message ends with "; last read: '<the text around the
    // error>'", which may be a password: keep only what comes before.
    std::string_view message = e.what();
    if (const auto last_read = message.find("; last read:"); last_read != std::string_view::npos) {
      message = message.substr(0, last_read);
    }
    throw ConfigError(fmt::format("the JSON configuration is not valid JSON: {}", message));
  }
  return from_json(parsed);
}

void PoolConfig::validate() const { validate_config(*this, Origin::code); }

std::shared_ptr<WorkspaceToken> PoolConfig::make_workspace_token(const WallClock& clock) const {
  if (!workspace_token.empty()) return std::make_shared<PersonalAccessToken>(workspace_token);
  if (!client_id.empty() && !client_secret.empty()) {
    ServicePrincipalOAuth::Options options;
    options.workspace_url = workspace_url;
    options.client_id = client_id;
    options.client_secret = client_secret;
    options.http = http;
    options.cache.refresh_ahead = credential_refresh_ahead;
    options.cache.clock = clock;
    return std::make_shared<ServicePrincipalOAuth>(std::move(options));
  }
  throw ConfigError(fmt::format(
      "no workspace credential: set {}, or {} and {}", label(Origin::code, "workspace_token"),
      label(Origin::code, "client_id"), label(Origin::code, "client_secret")));
}

std::string PoolConfig::resolve_user(WorkspaceToken* token) const {
  if (!pool.connection.user.empty()) return pool.connection.user;
  if (!client_id.empty()) return client_id;
  if (token != nullptr && !workspace_url.empty()) {
    return fetch_current_user_name(workspace_url, *token, http);
  }
  return {};
}

std::shared_ptr<CredentialProvider> PoolConfig::make_credentials(const WallClock& clock) const {
  if (password) return std::make_shared<StaticPassword>(*password);
  if (!uses_lakebase()) {
    throw ConfigError("no database credential: set a password or a Lakebase endpoint");
  }
  return lakebase_provider(*this, make_workspace_token(clock), clock, "lakebase");
}

std::shared_ptr<CredentialProvider> PoolConfig::make_user_credentials(
    Secret user_token, const WallClock& clock) const {
  if (!uses_lakebase()) {
    throw ConfigError(
        "user credentials need Lakebase OAuth: set the Lakebase endpoint and no static password");
  }
  return lakebase_provider(*this, std::make_shared<ForwardedUserToken>(std::move(user_token)),
                           clock, "lakebase-user");
}

PoolOptions PoolConfig::make_pool_options(const WallClock& clock) const {
  validate();
  PoolOptions options = pool;
  if (password) {
    options.credentials = std::make_shared<StaticPassword>(*password);
    if (options.connection.user.empty()) options.connection.user = client_id;
    return options;
  }
  std::shared_ptr<WorkspaceToken> token = make_workspace_token(clock);
  options.connection.user = resolve_user(token.get());
  options.credentials = lakebase_provider(*this, std::move(token), clock, "lakebase");
  return options;
}

}  // namespace pgobo
