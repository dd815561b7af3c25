// What the small examples share: reading their settings from the environment
// and faking the headers a Databricks Apps proxy would add to a request.
//
// The examples run against the demo's database (examples/demo/setup.sql):
// app.notes under row-level security, users alice@example.com and
// bob@example.com whose forwarded token is their database password.
// examples/demo/with-demo-db sets everything up and runs one of them:
//
//   scripts/pg run -- examples/demo/with-demo-db build/dev/examples/quickstart
#pragma once

#include <pgobo/pgobo.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace examples {

// Exit status of an example that is not configured (not a failure of pgobo).
inline constexpr int kNotConfigured = 2;

inline std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// True when the server and the demo users are configured; otherwise says
// what is missing and how to run the example.
inline bool configured(std::string_view program) {
  for (const char* name : {"PGHOST", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGOBO_DEMO_ALICE_TOKEN",
                           "PGOBO_DEMO_BOB_TOKEN"}) {
    if (!env(name)) {
      std::cerr << program << ": not configured: " << name << " is not set.\n"
                << "  This example needs the demo's database. Run it with one command:\n"
                << "    scripts/pg run -- examples/demo/with-demo-db build/dev/examples/" << program
                << "\n"
                << "  or set PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE\n"
                << "  (docs/configuration.md) and the tokens PGOBO_DEMO_ALICE_TOKEN and\n"
                << "  PGOBO_DEMO_BOB_TOKEN for a database set up by examples/demo/setup.sql.\n";
      return false;
    }
  }
  return true;
}

// The headers the Databricks Apps proxy adds to a request of this user.
inline std::map<std::string, std::string> forwarded_headers(const std::string& email,
                                                            const char* token_variable) {
  return {
      {"x-forwarded-user", "id-" + email},
      {"x-forwarded-email", email},
      {"x-forwarded-access-token", env(token_variable).value_or("")},
  };
}

// The router of quickstart.cpp's make_router(): settings from PG* and
// PGOBO_*, and on plain PostgreSQL the user's token as their password.
inline std::unique_ptr<pgobo::RoutingPool> make_router() {
  auto config = pgobo::databricks::AppConfig::from_env();
  if (!config.uses_lakebase()) {
    config.routing.user_credentials = [](const pgobo::UserContext& user) {
      return std::make_shared<pgobo::StaticPassword>(user.access_token());
    };
  }
  return pgobo::databricks::make_routing_pool(std::move(config));
}

}  // namespace examples
