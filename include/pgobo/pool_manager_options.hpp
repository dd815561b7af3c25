// pgobo/pool_manager_options.hpp — the settings of a PoolManager
// (PoolManager::Options).
//
//   // given: std::shared_ptr<pgobo::CredentialProvider> provider_for(const pgobo::UserContext&)
//   pgobo::PoolManager::Options options;
//   options.user_pool.connection = params;                // host, db, sslmode…
//   options.credentials_for = [](const pgobo::UserContext& user) { return provider_for(user); };
//   options.max_total_connections = 40;
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "pgobo/credentials.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/pool_options.hpp"

namespace pgobo {

struct PoolManagerOptions {
  // The template of every user pool. connection.user is replaced by
  // role_for(user), name by "user:<key>", credentials by credentials_for(user)
  // and budget by the manager's max_total_connections budget.
  // AppKit's defaults: 3 connections, 30 s idle.
  PoolOptions user_pool = default_user_pool();
  // The PostgreSQL role a user logs in as. Null: the key (email, else user id).
  std::function<std::string(const UserContext&)> role_for;
  // The password source of a user's pool, called once per pool (required).
  // Called, like role_for, while the user's shard (1/64 of the users) is
  // locked for the new pool: build the provider and return; fetch nothing
  // here (providers fetch when a connection opens, outside any lock).
  std::function<std::shared_ptr<CredentialProvider>(const UserContext&)> credentials_for;
  // Connections of all user pools together; 0 = no limit.
  std::size_t max_total_connections = 0;
  // The limit moves at run time (set_max_total_connections(); RoutingPool's
  // automatic connection limit, pgobo/connection_limit.hpp): the limit exists
  // from the start at max_total_connections, where 0 then means "none yet"
  // (callers wait until it is raised), and may be below user_pool.max_size.
  bool max_total_connections_adjustable = false;
  // User pools at once; 0 = no limit.
  std::size_t max_pools = 0;
  // How often the sweeper runs; 0 = no sweeper thread (call sweep() yourself).
  std::chrono::milliseconds sweep_interval{5'000};
  // Older token fingerprints remembered per key: a request carrying one of
  // them uses the current pool instead of rebuilding it.
  std::size_t remembered_fingerprints = 4;

  static PoolOptions default_user_pool() {
    PoolOptions p;
    p.max_size = 3;
    p.idle_timeout = std::chrono::seconds{30};
    return p;
  }
};

}  // namespace pgobo
