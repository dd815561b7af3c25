#include "pgobo/routing_pool.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "pgobo/pqxx_replica_directory.hpp"

namespace pgobo {

namespace {

// set_role mode's own checks: what would be silently ignored is refused.
SetRoleRouting set_role_routing(RoutingConfig& config) {
  const auto refuse = [](const std::string& what) {
    throw ConfigError("RoutingConfig: set_role mode opens no user pools, so " + what +
                      " has nothing to limit; the shared pool's max_size "
                      "(PGOBO_POOL_MAX_SIZE) bounds every connection: unset it");
  };
  if (config.max_total_connections > 0)
    refuse("max_total_connections (PGOBO_MAX_TOTAL_CONNECTIONS)");
  if (config.max_pools > 0) refuse("max_pools (PGOBO_MAX_POOLS)");
  if (config.connection_limit.automatic)
    refuse("the automatic connection limit (PGOBO_CONNECTION_LIMIT)");
  if (!config.claims_setting.empty() && !is_claims_setting_name(config.claims_setting)) {
    throw ConfigError("RoutingConfig::claims_setting (PGOBO_CLAIMS_SETTING): '" +
                      config.claims_setting +
                      "' is not a custom setting; expected prefix.name (letters, digits, _ and "
                      "$, e.g. request.jwt.claims), or empty for none");
  }
  if (config.service_role.empty()) {
    throw ConfigError(
        "RoutingConfig::service_role (PGOBO_SERVICE_ROLE) is required in set_role mode: the role "
        "statements without a user act as, so that the authenticator (PGUSER) holds no rights "
        "of its own (a lease's statements after its first COMMIT run as the authenticator; "
        "docs/security.md)");
  }
  if (config.service_role.size() > kMaxRoleNameBytes ||
      config.service_role.find('\0') != std::string::npos || config.service_role == "none") {
    throw ConfigError(
        "RoutingConfig::service_role (PGOBO_SERVICE_ROLE): a role name of at most 63 bytes, "
        "without NUL bytes, other than 'none'");
  }
  SetRoleRouting routing;
  routing.role_for = config.role_for;
  routing.claims_setting = config.claims_setting;
  routing.claims_for = std::move(config.claims_for);
  routing.service_role = config.service_role;
  routing.allow_rls_bypass_roles = config.allow_rls_bypass_roles;
  routing.role_check_ttl = config.role_check_ttl;
  return routing;
}

}  // namespace

std::unique_ptr<RoutingPool> RoutingPool::create(RoutingConfig config) {
  std::optional<SetRoleRouting> set_role;
  if (config.routing == RoutingMode::set_role) {
    set_role = set_role_routing(config);
    // No user pool is ever opened: a manager that would say so if asked.
    config.user_credentials = [](const UserContext&) -> std::shared_ptr<CredentialProvider> {
      throw ConfigError("set_role mode opens no user pools");
    };
  } else if (!config.service_role.empty()) {
    throw ConfigError(
        "RoutingConfig::service_role (PGOBO_SERVICE_ROLE) is for set_role mode "
        "(PGOBO_ROUTING=set_role); per-user pools run the service's statements as its login");
  }
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
  std::optional<ReadReplicas> replicas;
  if (!config.read_hosts.empty()) {
    for (std::size_t i = 0; i < config.read_hosts.size(); ++i) {
      const HostPort& server = config.read_hosts[i];
      if (server.host.empty() || server.port == 0 || server.host.find(',') != std::string::npos) {
        throw ConfigError("RoutingConfig::read_hosts[" + std::to_string(i) +
                          "]: expected a host name without commas and a port from 1 to 65535");
      }
    }
    // The same database, roles, credentials and sizes, on the replicas' servers.
    const auto on_replicas = [&](ConnectionParams& connection) {
      connection.host = config.read_hosts.front().host;
      connection.port = config.read_hosts.front().port;
      connection.additional_hosts.assign(config.read_hosts.begin() + 1, config.read_hosts.end());
      // Not the primary's read-write or primary: that would refuse every replica.
      connection.target_session_attrs = TargetSessionAttrs::any;
    };
    ReadReplicas read;
    PoolOptions read_service = service_options;
    read_service.name = service_options.name + "-read";
    on_replicas(read_service.connection);
    read.service = std::make_shared<Pool>(std::move(read_service));
    read.users = users;
    // The automatic limit divides the primary's max_connections; the
    // replicas are other servers: their user pools keep the fixed limit.
    read.users.max_total_connections = config.max_total_connections;
    read.users.max_total_connections_adjustable = false;
    on_replicas(read.users.user_pool.connection);
    replicas = std::move(read);
  }
  const std::shared_ptr<PoolObserver> observer = service_options.observer;
  auto service = std::make_shared<Pool>(std::move(service_options));
  auto router = std::make_unique<RoutingPool>(service, std::move(users), user_driver,
                                              std::move(replicas), std::move(set_role));
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

std::vector<HostPort> parse_host_list(std::string_view text, std::uint16_t default_port,
                                      std::string_view what) {
  const auto bad = [&](std::string_view why) {
    throw ConfigError(std::string(what) + ": " + std::string(why) +
                      " (expected host[:port] separated by commas, e.g. "
                      "\"replica-1:5433,replica-2:5433\"; an IPv6 address in brackets)");
  };
  std::vector<HostPort> out;
  for (;;) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    HostPort server{{}, default_port};
    std::string_view port;
    if (item.starts_with('[')) {
      const auto close = item.find(']');
      if (close == std::string_view::npos) bad("an IPv6 address without its closing ']'");
      server.host = std::string(item.substr(1, close - 1));
      const std::string_view rest = item.substr(close + 1);
      if (!rest.empty()) {
        if (!rest.starts_with(':')) bad("text after an IPv6 address's ']' that is not :port");
        port = rest.substr(1);
        if (port.empty()) bad("an empty port after ':'");
      }
    } else if (const auto colon = item.rfind(':'); colon != std::string_view::npos &&
                                                   !item.starts_with('/') &&
                                                   item.find(':') == colon) {
      server.host = std::string(item.substr(0, colon));
      port = item.substr(colon + 1);
      if (port.empty()) bad("an empty port after ':'");
    } else {
      server.host = std::string(item);  // a name, a bare IPv6 address or a socket directory
    }
    if (server.host.empty()) bad("an empty host name");
    if (server.host.find('\0') != std::string::npos) bad("a NUL byte");
    if (!port.empty()) {
      unsigned value = 0;
      const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
      if (error != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
        bad("a port that is not a number from 1 to 65535");
      }
      server.port = static_cast<std::uint16_t>(value);
    }
    out.push_back(std::move(server));
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

void to_json(nlohmann::json& out, const RoutingStats& s) {
  out = nlohmann::json{
      {"service", s.service}, {"users", s.users}, {"connection_limit", s.connection_limit}};
}

}  // namespace pgobo
