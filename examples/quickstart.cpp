// The README's quickstart: one pool API whose statements run as the user
// behind the request, so PostgreSQL's row-level security sees that user.
//
//   scripts/pg run -- examples/demo/with-demo-db build/dev/examples/quickstart
//
// prints the notes the service sees, then alice's and bob's: each only their own.
#include <pgobo/pgobo.hpp>

#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "example_env.hpp"

namespace {

// snippet-begin: router
// The service principal's pool and the user pools' settings, from PG*,
// PGOBO_* and (on Databricks) LAKEBASE_ENDPOINT and DATABRICKS_*.
std::unique_ptr<pgobo::RoutingPool> make_router() {
  auto config = pgobo::databricks::AppConfig::from_env();
  if (!config.uses_lakebase()) {
    // On Lakebase a user's pool buys database credentials with the user's token.
    // This PostgreSQL takes the user's token itself as the password.
    config.routing.user_credentials = [](const pgobo::UserContext& user) {
      return std::make_shared<pgobo::StaticPassword>(user.access_token());
    };
  }
  return pgobo::databricks::make_routing_pool(std::move(config));
}
// snippet-end

// snippet-begin: request
// What a request handler does: say whom the request is for, then query as usual.
void print_notes(pgobo::RoutingPool& db, const std::map<std::string, std::string>& headers) {
  const pgobo::UserScope scope{pgobo::user_context_from_headers(headers)};
  // Runs on a connection that logged in as the user: RLS shows only their rows.
  for (const auto& row : db.query("SELECT current_user, body FROM app.notes ORDER BY id")) {
    std::cout << "  " << row[0].c_str() << ": " << row[1].c_str() << '\n';
  }
}
// snippet-end

}  // namespace

int main() {
  if (!examples::configured("quickstart")) return examples::kNotConfigured;
  try {
    auto db = make_router();

    // No user context: the service principal, which owns the table.
    const int all = db->query("SELECT count(*) FROM app.notes")[0][0].as<int>();
    std::cout << "the service sees " << all << " notes\n";

    std::cout << "alice sees:\n";
    print_notes(*db, examples::forwarded_headers("alice@example.com", "PGOBO_DEMO_ALICE_TOKEN"));
    std::cout << "bob sees:\n";
    print_notes(*db, examples::forwarded_headers("bob@example.com", "PGOBO_DEMO_BOB_TOKEN"));

    const pgobo::RoutingStats stats = db->stats();
    std::cout << "pools: the service's and " << stats.users.pools << " user pools\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "quickstart failed: " << e.what() << '\n';
    return 1;
  }
}
