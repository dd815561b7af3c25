#include "pgobo/routing_pool.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {
namespace {

std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// A non-negative integer from the environment; ConfigError names the
// variable and what is expected.
template <class Int>
std::optional<Int> env_integer(const EnvLookup& lookup, std::string_view name, Int min) {
  const auto text = lookup(name);
  if (!text || text->empty()) return std::nullopt;
  Int value{};
  const auto* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc{} || ptr != end || value < min) {
    throw ConfigError(std::string(name) + ": expected a whole number of at least " +
                      std::to_string(min));
  }
  return value;
}

std::optional<bool> env_flag(const EnvLookup& lookup, std::string_view name) {
  const auto text = lookup(name);
  if (!text || text->empty()) return std::nullopt;
  if (*text == "1" || *text == "true" || *text == "yes" || *text == "on") return true;
  if (*text == "0" || *text == "false" || *text == "no" || *text == "off") return false;
  throw ConfigError(std::string(name) + ": expected true or false (or 1/0, yes/no, on/off)");
}

}  // namespace

RoutingConfig RoutingConfig::from_env() { return from_env(process_env); }

RoutingConfig RoutingConfig::from_env(const EnvLookup& lookup) {
  RoutingConfig config;
  config.service = PoolConfig::from_env(lookup);
  if (auto v = env_integer<std::size_t>(lookup, "PGOBO_USER_POOL_MAX_SIZE", 1)) {
    config.user_pool.max_size = *v;
  }
  if (auto v = env_integer<std::int64_t>(lookup, "PGOBO_USER_POOL_IDLE_TIMEOUT_MS", 0)) {
    config.user_pool.idle_timeout = std::chrono::milliseconds(*v);
  }
  if (auto v = env_integer<std::size_t>(lookup, "PGOBO_MAX_TOTAL_CONNECTIONS", 0)) {
    config.max_total_connections = *v;
  }
  if (auto v = env_integer<std::size_t>(lookup, "PGOBO_MAX_POOLS", 0)) config.max_pools = *v;
  if (auto v = env_integer<std::int64_t>(lookup, "PGOBO_SWEEP_INTERVAL_MS", 0)) {
    config.sweep_interval = std::chrono::milliseconds(*v);
  }
  if (auto v = env_flag(lookup, "PGOBO_ALLOW_RLS_BYPASS_ROLES")) config.allow_rls_bypass_roles = *v;
  return config;
}

std::unique_ptr<RoutingPool> RoutingPool::create(RoutingConfig config) {
  PoolOptions service_options = config.service.make_pool_options();

  PoolManager::Options users;
  users.user_pool = config.user_pool;
  // User pools reach the same database the same way; only the role and the
  // password differ (set per user by the manager).
  users.user_pool.connection = service_options.connection;
  users.user_pool.connection.user.clear();
  users.user_pool.credentials = nullptr;
  users.role_for = std::move(config.role_for);
  users.max_total_connections = config.max_total_connections;
  users.max_pools = config.max_pools;
  users.sweep_interval = config.sweep_interval;
  if (config.user_credentials) {
    users.credentials_for = std::move(config.user_credentials);
  } else if (config.service.uses_lakebase()) {
    users.credentials_for = [service = config.service](const UserContext& user) {
      return service.make_user_credentials(user.access_token());
    };
  } else {
    throw ConfigError(
        "RoutingConfig: user pools need a password source: set user_credentials, or "
        "LAKEBASE_ENDPOINT (with DATABRICKS_HOST) for Lakebase OAuth credentials bought with "
        "each user's token");
  }

  const PqxxDriver user_driver(config.allow_rls_bypass_roles ? RlsBypass::warn : RlsBypass::refuse);
  auto service = std::make_shared<Pool>(std::move(service_options));
  return std::make_unique<RoutingPool>(std::move(service), std::move(users), user_driver);
}

std::unique_ptr<RoutingPool> RoutingPool::from_env() { return create(RoutingConfig::from_env()); }

void to_json(nlohmann::json& out, const RoutingStats& s) {
  out = nlohmann::json{{"service", s.service}, {"users", s.users}};
}

}  // namespace pgobo
