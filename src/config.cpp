#include "pgobo/config.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "config_reader.hpp"
#include "pgobo/connection_params.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

using detail::ConfigOrigin;
using detail::printable_excerpt;
using Value = detail::ConfigValue;

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

using Field = detail::ConfigField<PoolConfig>;

// "PGHOST" for "PGPORT", "JSON key 'host'" for "JSON key 'port'".
std::string host_label(const Value& port) {
  return port.json() ? std::string("JSON key 'host'") : std::string("PGHOST");
}

// Splits "a,b" at commas; refuses an empty name (libpq would read it as its
// default, the local socket).
std::vector<std::string> split_host_names(const Value& v, std::string_view text) {
  std::vector<std::string> names;
  for (;;) {
    const auto comma = text.find(',');
    names.emplace_back(text.substr(0, comma));
    if (names.back().empty()) v.reject("host names separated by commas, none of them empty");
    if (comma == std::string_view::npos) return names;
    text.remove_prefix(comma + 1);
  }
}

// PGHOST / "host": one host, or several separated by commas (libpq's list):
// the first becomes connection.host, the others additional_hosts, each on
// the port read so far (PGPORT, read next, may change them).
void apply_hosts(PoolConfig& c, const Value& v) {
  const std::vector<std::string> names = split_host_names(
      v, v.non_empty_string("the PostgreSQL host name, or several separated by commas"));
  ConnectionParams& connection = c.pool.connection;
  connection.host = names.front();
  connection.additional_hosts.clear();
  for (std::size_t i = 1; i < names.size(); ++i) {
    connection.additional_hosts.push_back(HostPort{names[i], connection.port});
  }
}

// PGPORT / "port": one port for every host (as libpq applies it), or one per
// host in the order of PGHOST: separated by commas, in JSON an array.
void apply_ports(PoolConfig& c, const Value& v) {
  const char* expected = "a port number from 1 to 65535";
  const char* expected_list =
      v.json() ? "an array of port numbers from 1 to 65535, one per host"
               : "port numbers from 1 to 65535 separated by commas, one per host";
  ConnectionParams& connection = c.pool.connection;
  std::vector<std::uint16_t> ports;
  if (v.json() && v.json()->is_array()) {
    if (v.json()->empty()) v.reject(expected_list);
    for (const auto& item : *v.json()) {
      if (!item.is_number_integer()) v.reject(expected_list);
      const Value element(v.name(), &item, false);
      ports.push_back(static_cast<std::uint16_t>(element.integer(1, 65535, expected_list)));
    }
  } else if (v.json() || v.string().find(',') == std::string::npos) {
    // One port: the reader's usual checks and messages.
    ports.push_back(static_cast<std::uint16_t>(v.integer(1, 65535, expected)));
  } else {
    const std::string text = v.string();
    for (std::string_view rest = text;;) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      unsigned value = 0;
      const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
      if (error != std::errc() || end != item.data() + item.size() || value < 1 || value > 65535) {
        v.reject(expected_list);
      }
      ports.push_back(static_cast<std::uint16_t>(value));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (ports.size() == 1) {
    connection.port = ports.front();
    for (HostPort& server : connection.additional_hosts) server.port = connection.port;
    return;
  }
  const std::size_t hosts = connection.host.empty() ? 0 : 1 + connection.additional_hosts.size();
  if (ports.size() != hosts) {
    throw ConfigError(fmt::format(
        "{} lists {} ports but {} lists {} host(s): give one port for every host, or one port "
        "per host in the same order",
        v.name(), ports.size(), host_label(v), hosts));
  }
  connection.port = ports.front();
  for (std::size_t i = 1; i < ports.size(); ++i) connection.additional_hosts[i - 1].port = ports[i];
}

// The one list of settings: from_env, from_json and the messages of
// validate() all read it, and docs/configuration.md mirrors it.
constexpr std::array<Field, 26> kFields{{
    {"PGOBO_POOL_NAME", "name", false,
     [](PoolConfig& c, const Value& v) { c.pool.name = v.non_empty_string("a non-empty name"); }},
    // PGHOST before PGPORT, here and in JSON (whose keys come sorted): a
    // list of ports is matched against the hosts already read.
    {"PGHOST", "host", false, apply_hosts},
    {"PGPORT", "port", false, apply_ports},
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
    {"PGSSLROOTCERT", "sslrootcert", false,
     [](PoolConfig& c, const Value& v) {
       c.pool.connection.sslrootcert =
           v.non_empty_string("a file of trusted CA certificates (PEM), or \"system\"");
     }},
    {"PGTARGETSESSIONATTRS", "target_session_attrs", false,
     [](PoolConfig& c, const Value& v) {
       if (v.json() && !v.json()->is_string()) v.reject("a string");
       c.pool.connection.target_session_attrs = parse_target_session_attrs(v.string(), v.name());
     }},
    {"PGLOADBALANCEHOSTS", "load_balance_hosts", false,
     [](PoolConfig& c, const Value& v) {
       if (v.json() && !v.json()->is_string()) v.reject("a string");
       const LoadBalanceHosts mode = parse_load_balance_hosts(v.string(), v.name());
       if (mode == LoadBalanceHosts::random && libpq_version() < 160000) {
         throw ConfigError(fmt::format(
             "{}: random needs libpq 16 or newer, and this process runs libpq {}.{}; unset {} "
             "(the hosts are then tried in the order given) or build against libpq 16+",
             v.name(), libpq_version() / 10000, libpq_version() % 10000, v.name()));
       }
       c.pool.connection.load_balance_hosts = mode;
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
                           v.name(), printable_excerpt(name)));
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
     [](PoolConfig& c, const Value& v) { c.pool.max_size = v.pool_size(1); }},
    {"PGOBO_MIN_IDLE", "min_idle", false,
     [](PoolConfig& c, const Value& v) { c.pool.min_idle = v.pool_size(0); }},
    {"PGOBO_ACQUIRE_TIMEOUT_MS", "acquire_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.acquire_timeout = v.milliseconds(); }},
    {"PGOBO_IDLE_TIMEOUT_MS", "idle_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.idle_timeout = v.milliseconds(); }},
    {"PGOBO_LEAK_DETECTION_THRESHOLD_MS", "leak_detection_threshold_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.leak_detection_threshold = v.milliseconds(); }},
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
    {"PGOBO_CLOSE_TIMEOUT_MS", "close_timeout_ms", false,
     [](PoolConfig& c, const Value& v) { c.pool.close_timeout = v.milliseconds(); }},
}};

const Field& field_for_json(std::string_view key) {
  for (const auto& field : kFields) {
    if (field.json == key) return field;
  }
  throw std::logic_error("pgobo: no config field " + std::string(key));
}

// How validate() names a setting for the reader of the message.
std::string label(ConfigOrigin origin, std::string_view json_key) {
  const Field& field = field_for_json(json_key);
  return detail::config_label(origin, field.env, field.json);
}

void validate_config(const PoolConfig& config, ConfigOrigin origin) {
  const auto missing = [origin](std::string_view key, std::string_view expected) {
    throw ConfigError(fmt::format("{} is not set: expected {}", label(origin, key), expected));
  };
  if (config.pool.connection.host.empty()) missing("host", "the PostgreSQL host name");
  if (config.pool.connection.dbname.empty()) missing("database", "the database name");
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

}  // namespace

namespace detail {

PoolConfig pool_config_from_json(const nlohmann::json& json,
                                 const std::vector<std::string_view>& elsewhere) {
  PoolConfig config = blank();
  read_json(kFields, config, json, &elsewhere);
  validate_config(config, ConfigOrigin::json);
  return config;
}

}  // namespace detail

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
  detail::read_env(kFields, config, lookup);
  validate_config(config, ConfigOrigin::env);
  return config;
}

PoolConfig PoolConfig::from_json(const nlohmann::json& json) {
  return detail::pool_config_from_json(json, {});
}

PoolConfig PoolConfig::from_json_text(std::string_view text) {
  return from_json(detail::parse_config_json_text(text));
}

void PoolConfig::validate() const { validate_config(*this, ConfigOrigin::code); }

PoolOptions PoolConfig::make_pool_options() const {
  validate();
  PoolOptions options = pool;
  if (password) {
    options.credentials = std::make_shared<StaticPassword>(*password);
  } else if (!options.credentials) {
    throw ConfigError(fmt::format(
        "no database credential: set {} for a static password, or PoolOptions::credentials "
        "in code (Lakebase OAuth: pgobo/databricks/config.hpp)",
        label(ConfigOrigin::code, "password")));
  }
  return options;
}

}  // namespace pgobo
