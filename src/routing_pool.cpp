#include "pgobo/routing_pool.hpp"

#include <nlohmann/json.hpp>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "pgobo/pqxx_replica_directory.hpp"

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
  config.connection_limit.validate();
  const bool automatic = config.connection_limit.automatic;
  // Under the automatic limit the user pools start with nothing and get
  // their share from the first heartbeat; max_total_connections caps it.
  if (automatic) {
    users.max_total_connections = 0;
    users.max_total_connections_adjustable = true;
  }
  users.max_pools = config.max_pools;
  users.sweep_interval = config.sweep_interval;
  users.credentials_for = std::move(config.user_credentials);

  const PqxxDriver user_driver(config.allow_rls_bypass_roles ? RlsBypass::warn : RlsBypass::refuse);
  const std::shared_ptr<PoolObserver> observer = service_options.observer;
  auto service = std::make_shared<Pool>(std::move(service_options));
  auto router = std::make_unique<RoutingPool>(service, std::move(users), user_driver);
  if (automatic) {
    PoolManager& manager = router->manager();
    ConnectionLimitCoordinator::Target target{
        [&manager](std::size_t limit) { manager.set_max_total_connections(limit); },
        [&manager] { return manager.budget_in_use(); }};
    router->attach_connection_limit(std::make_unique<ConnectionLimitCoordinator>(
        config.connection_limit, service->options().max_size, config.max_total_connections,
        make_pqxx_replica_directory(service, config.connection_limit), std::move(target),
        observer));
  }
  return router;
}

void to_json(nlohmann::json& out, const RoutingStats& s) {
  out = nlohmann::json{
      {"service", s.service}, {"users", s.users}, {"connection_limit", s.connection_limit}};
}

}  // namespace pgobo
