#include "pgobo/routing_pool.hpp"

#include <nlohmann/json.hpp>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {

std::unique_ptr<RoutingPool> RoutingPool::create(RoutingConfig config) {
  if (!config.user_credentials) {
    throw ConfigError(
        "RoutingConfig: user pools need a password source: set user_credentials (for Lakebase "
        "OAuth credentials bought with each user's token: pgobo::databricks::make_routing_pool)");
  }
  PoolOptions service_options = config.service.make_pool_options();

  PoolManager::Options users;
  users.user_pool = config.user_pool;
  // User pools reach the same database the same way; only the role and the
  // password differ (set per user by the manager).
  users.user_pool.connection = service_options.connection;
  users.user_pool.connection.user.clear();
  users.user_pool.credentials = nullptr;
  if (config.observer) {
    service_options.observer = config.observer;
    users.user_pool.observer = config.observer;
  }
  // One leak threshold (PGOBO_LEAK_DETECTION_THRESHOLD_MS) for all pools,
  // unless the user pools were given their own.
  if (users.user_pool.leak_detection_threshold.count() == 0) {
    users.user_pool.leak_detection_threshold = service_options.leak_detection_threshold;
  }
  users.role_for = std::move(config.role_for);
  users.max_total_connections = config.max_total_connections;
  users.max_pools = config.max_pools;
  users.sweep_interval = config.sweep_interval;
  users.credentials_for = std::move(config.user_credentials);

  const PqxxDriver user_driver(config.allow_rls_bypass_roles ? RlsBypass::warn : RlsBypass::refuse);
  auto service = std::make_shared<Pool>(std::move(service_options));
  return std::make_unique<RoutingPool>(std::move(service), std::move(users), user_driver);
}

void to_json(nlohmann::json& out, const RoutingStats& s) {
  out = nlohmann::json{{"service", s.service}, {"users", s.users}};
}

}  // namespace pgobo
