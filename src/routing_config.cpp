#include <fmt/format.h>

#include <array>
#include <cstdlib>

#include "config_reader.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo {
namespace {

using Field = detail::ConfigField<RoutingConfig>;
using Value = detail::ConfigValue;

// The router's own settings; the service principal's pool reads PoolConfig's.
constexpr std::array<Field, 7> kFields{{
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
  return config;
}

}  // namespace detail

RoutingConfig RoutingConfig::from_env() { return from_env(process_env); }

RoutingConfig RoutingConfig::from_env(const EnvLookup& lookup) {
  RoutingConfig config;
  config.service = PoolConfig::from_env(lookup);
  detail::read_env(kFields, config, lookup);
  config.user_pool.validate();
  return config;
}

RoutingConfig RoutingConfig::from_json(const nlohmann::json& json) {
  return detail::routing_config_from_json(json, {});
}

RoutingConfig RoutingConfig::from_json_text(std::string_view text) {
  return from_json(detail::parse_config_json_text(text));
}

}  // namespace pgobo
