// Built against an installed pgobo's core alone (find_package COMPONENTS
// core, and pkg-config pgobo-core): a router with the application's own
// password source, configured from JSON, never connected.
#include <pgobo/config.hpp>
#include <pgobo/credentials.hpp>
#include <pgobo/errors.hpp>
#include <pgobo/identity.hpp>
#include <pgobo/routing_pool.hpp>
#include <pgobo/version.hpp>

#include <cstdio>
#include <memory>

int main() {
  pgobo::RoutingConfig config = pgobo::RoutingConfig::from_json_text(
      R"({"host": "127.0.0.1", "database": "app", "password": "pw", "user_pool_max_size": 2})");
  if (config.user_pool.max_size != 2) return 1;
  config.user_credentials = [](const pgobo::UserContext& user) {
    return std::make_shared<pgobo::StaticPassword>(user.access_token());
  };
  const auto alice = pgobo::make_user_context("u-1", "alice@example.com", pgobo::Secret("t"));
  if (alice.key() != "alice@example.com" || alice.token_fingerprint().size() != 16) return 1;
  try {
    (void)pgobo::RoutingConfig::from_json_text(R"({"lakebase_endpoint": "x"})");
    return 1;
  } catch (const pgobo::ConfigError&) {
    // the core knows no Databricks key
  }
  std::printf("pgobo %s core consumer OK\n", pgobo::version_string);
  return 0;
}
