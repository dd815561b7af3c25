// The demo scripts/demo runs: the same query as the service and as two users
// against a notes table under row-level security.
#include <pgobo/pgobo.hpp>

#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>
#include <string>

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw pgobo::ConfigError(std::string(name) + " is not set (run this through scripts/demo)");
  }
  return value;
}

void list_notes(const std::string& who, const std::string& role, const pgobo::Secret& password) {
  pgobo::ConnectionParams params;
  params.host = env("PGOBO_DEMO_HOST");
  params.port = static_cast<std::uint16_t>(std::stoi(env("PGOBO_DEMO_PORT")));
  params.dbname = env("PGOBO_DEMO_DATABASE");
  params.user = role;
  params.sslmode = pgobo::SslMode::disable;
  params.application_name = "pgobo-demo";

  pqxx::connection conn(params.to_conninfo(password));
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec("SELECT current_user, owner, body FROM app.notes ORDER BY id");
  std::cout << "\n" << who << " (logged in as " << role << "): " << rows.size() << " notes\n";
  for (const auto& row : rows) {
    std::cout << "  " << row[1].c_str() << ": " << row[2].c_str() << "\n";
  }
}

}  // namespace

int main() {
  try {
    list_notes("the service", "notes_service", pgobo::Secret(env("PGOBO_DEMO_SERVICE_PASSWORD")));
    list_notes("alice", "alice@example.com", pgobo::Secret(env("PGOBO_DEMO_ALICE_PASSWORD")));
    list_notes("bob", "bob@example.com", pgobo::Secret(env("PGOBO_DEMO_BOB_PASSWORD")));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "demo failed: " << e.what() << "\n";
    return 1;
  }
}
