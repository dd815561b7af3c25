// A RoutingConfig for the shared test server (pg_fixture.hpp): the service
// principal's pool "sp" logs in as kServiceRole over TCP with its scram
// password, each user's pool as the user's role with password_for(role), and
// no sweeper thread (tests sweep when they mean to). A test sets what it
// needs beyond that on the result. Under PGOBO_TEST_ROUTING=set_role
// (pg_fixture.hpp) the router is in set_role mode instead: the pool "sp"
// logs in as kAuthenticatorRole, the service's statements act as
// kServiceRole and users' as their roles.
//
//   RoutingConfig c = routing_config(server(), "pgobo-routing-test", 3);
//   c.user_pool.max_size = 1;
//   auto db = RoutingPool::create(std::move(c));
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "pg_fixture.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo::test {

[[nodiscard]] inline RoutingConfig routing_config(const PgServer& server,
                                                  std::string application_name = {},
                                                  std::size_t service_max_size = 2) {
  RoutingConfig c;
  c.service.pool.name = "sp";
  c.service.pool.connection.host = server.pool_host;
  c.service.pool.connection.port = static_cast<std::uint16_t>(server.pool_port);
  c.service.pool.connection.dbname = server.database;
  c.service.pool.connection.user = kServiceRole;
  c.service.pool.connection.sslmode = SslMode::disable;
  c.service.pool.connection.application_name = std::move(application_name);
  c.service.pool.connection.connect_timeout = std::chrono::seconds(5);
  c.service.pool.max_size = service_max_size;
  c.service.password = Secret(password_for(kServiceRole));
  c.user_credentials = [](const UserContext& u) {
    return std::make_shared<StaticPassword>(Secret(password_for(u.key())));
  };
  c.sweep_interval = std::chrono::milliseconds(0);
  if (testing_set_role_mode()) {
    // One shared pool logged in as the authenticator; users' statements and
    // the service's (service_role) act as their roles.
    c.routing = RoutingMode::set_role;
    c.service.pool.connection.user = kAuthenticatorRole;
    c.service.password = Secret(password_for(kAuthenticatorRole));
    c.service_role = kServiceRole;
  }
  return c;
}

}  // namespace pgobo::test
