#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdlib>

#include "config_reader.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo {
namespace {

using Field = detail::ConfigField<RoutingConfig>;
using Value = detail::ConfigValue;

// The router's own settings; the service principal's pool reads PoolConfig's.
// "auto" or "off"; a number is refused: a fixed limit has its own setting.
bool connection_limit_mode(const Value& v) {
  const bool number = v.json() != nullptr && v.json()->is_number();
  std::string text = number ? std::string("0") : v.non_empty_string("\"auto\" or \"off\"");
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "auto") return true;
  if (text == "off") return false;
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front())) != 0) {
    throw ConfigError(fmt::format(
        "{}: \"auto\" or \"off\"; a fixed limit of the user pools' connections is "
        "max_total_connections (PGOBO_MAX_TOTAL_CONNECTIONS), which under \"auto\" caps the share",
        v.name()));
  }
  v.reject("\"auto\" or \"off\"");
}

constexpr std::array<Field, 16> kFields{{
    {"PGOBO_USER_POOL_MAX_SIZE", "user_pool_max_size", false,
     [](RoutingConfig& c, const Value& v) { c.user_pool.max_size = v.pool_size(1); }},
    {"PGOBO_USER_POOL_IDLE_TIMEOUT_MS", "user_pool_idle_timeout_ms", false,
     [](RoutingConfig& c, const Value& v) { c.user_pool.idle_timeout = v.milliseconds(); }},
    {"PGOBO_MAX_TOTAL_CONNECTIONS", "max_total_connections", false,
     [](RoutingConfig& c, const Value& v) {
       c.max_total_connections = v.pool_size(0);  // 0 = no limit
     }},
    {"PGOBO_MAX_POOLS", "max_pools", false,
     [](RoutingConfig& c, const Value& v) { c.max_pools = v.pool_size(0); }},
    {"PGOBO_SWEEP_INTERVAL_MS", "sweep_interval_ms", false,
     [](RoutingConfig& c, const Value& v) { c.sweep_interval = v.milliseconds(); }},
    {"PGOBO_ALLOW_RLS_BYPASS_ROLES", "allow_rls_bypass_roles", false,
     [](RoutingConfig& c, const Value& v) { c.allow_rls_bypass_roles = v.flag(); }},
    {"PGOBO_CONNECTION_LIMIT", "connection_limit", false,
     [](RoutingConfig& c, const Value& v) {
       c.connection_limit.automatic = connection_limit_mode(v);
     }},
    {"PGOBO_CONNECTION_LIMIT_RESERVE", "connection_limit_reserve", false,
     [](RoutingConfig& c, const Value& v) { c.connection_limit.reserve = v.pool_size(0); }},
    {"PGOBO_CONNECTION_LIMIT_INTERVAL_MS", "connection_limit_interval_ms", false,
     [](RoutingConfig& c, const Value& v) {
       c.connection_limit.interval = v.milliseconds();
       if (c.connection_limit.interval.count() == 0) v.reject("a positive number of milliseconds");
     }},
    {"PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS", "connection_limit_dead_after_ms", false,
     [](RoutingConfig& c, const Value& v) {
       c.connection_limit.dead_replica_timeout = v.milliseconds();
     }},
    {"PGOBO_CONNECTION_LIMIT_TABLE", "connection_limit_table", false,
     [](RoutingConfig& c, const Value& v) {
       constexpr std::string_view expected =
           "a table name, 'name' or 'schema.name' (letters, digits and _, at most 63 bytes each)";
       c.connection_limit.table = v.non_empty_string(expected);
       if (!ConnectionLimitOptions::is_table_name(c.connection_limit.table)) v.reject(expected);
     }},
    {"PGOBO_ROUTING", "routing", false,
     [](RoutingConfig& c, const Value& v) {
       constexpr std::string_view expected = "\"per_user_pools\" or \"set_role\"";
       std::string text = v.non_empty_string(expected);
       for (char& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
       if (text == "per_user_pools") {
         c.routing = RoutingMode::per_user_pools;
       } else if (text == "set_role") {
         c.routing = RoutingMode::set_role;
       } else {
         v.reject(expected);
       }
     }},
    {"PGOBO_CLAIMS_SETTING", "claims_setting", false,
     [](RoutingConfig& c, const Value& v) {
       // "none" (or "" in JSON): no claims are set.
       constexpr std::string_view expected =
           "a custom setting prefix.name (e.g. request.jwt.claims), or none";
       std::string text = v.string();
       if (text == "none" || text == "NONE" || text.empty()) {
         c.claims_setting.clear();
         return;
       }
       if (!is_claims_setting_name(text)) v.reject(expected);
       c.claims_setting = std::move(text);
     }},
    {"PGOBO_ROLE_CHECK_TTL_MS", "role_check_ttl_ms", false,
     [](RoutingConfig& c, const Value& v) { c.role_check_ttl = v.milliseconds(); }},
    {"PGOBO_SERVICE_ROLE", "service_role", false,
     [](RoutingConfig& c, const Value& v) {
       c.service_role = v.postgres_name("a role name", true);
     }},
    // Read after the service's settings: a replica without a port gets PGPORT's (first).
    {"PGOBO_READ_HOSTS", "read_hosts", false,
     [](RoutingConfig& c, const Value& v) {
       const std::uint16_t port = c.service.pool.connection.port;
       c.read_hosts.clear();
       if (v.json() && v.json()->is_array()) {
         if (v.json()->empty()) v.reject("an array of \"host[:port]\" strings");
         for (const auto& item : *v.json()) {
           if (!item.is_string()) v.reject("an array of \"host[:port]\" strings");
           const Value element(v.name(), &item, false);
           for (HostPort& server :
                parse_host_list(element.non_empty_string("host[:port]"), port, v.name())) {
             c.read_hosts.push_back(std::move(server));
           }
         }
         return;
       }
       c.read_hosts = parse_host_list(
           v.non_empty_string("host[:port] separated by commas, e.g. replica-1:5433,replica-2"),
           port, v.name());
     }},
}};

std::optional<std::string> process_env(std::string_view name) {
  // std::getenv is safe as long as nobody calls setenv concurrently, which
  // is the caller's contract for any environment read.
  const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

namespace detail {

RoutingConfig routing_config_from_json(const nlohmann::json& json,
                                       const std::vector<std::string_view>& elsewhere) {
  std::vector<std::string_view> above(elsewhere);
  append_json_keys(kFields, above);
  RoutingConfig config;
  config.service = pool_config_from_json(json, above);  // rejects keys of no layer
  read_json(kFields, config, json, nullptr);
  config.user_pool.validate();
  config.connection_limit.validate();
  return config;
}

}  // namespace detail

RoutingConfig RoutingConfig::from_env() { return from_env(process_env); }

RoutingConfig RoutingConfig::from_env(const EnvLookup& lookup) {
  RoutingConfig config;
  config.service = PoolConfig::from_env(lookup);
  detail::read_env(kFields, config, lookup);
  config.user_pool.validate();
  config.connection_limit.validate();
  return config;
}

RoutingConfig RoutingConfig::from_json(const nlohmann::json& json) {
  return detail::routing_config_from_json(json, {});
}

RoutingConfig RoutingConfig::from_json_text(std::string_view text) {
  return from_json(detail::parse_config_json_text(text));
}

}  // namespace pgobo
