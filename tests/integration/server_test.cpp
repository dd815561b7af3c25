// The test server itself: proves the fixture's known state and that logins
// go over TCP with scram-sha-256 passwords, as pgobo's pools log in.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"

namespace pgobo::test {
namespace {

class Server : public PgTest {};

TEST_F(Server, RolesHaveScramPasswordsAndTcpLoginsUseThem) {
  auto admin = superuser();
  pqxx::nontransaction tx(admin);
  const auto rows = pgobo::pqxx_compat::exec_params(
      tx, "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ($1, $2, $3)", kAlice, kBob,
      kServiceRole);
  ASSERT_EQ(pgobo::pqxx_compat::row_count(rows), 3U);
  for (const auto& row : rows) {
    EXPECT_EQ(row[1].as<std::string>().rfind("SCRAM-SHA-256$", 0), 0U) << row[0].as<std::string>();
  }
  const auto hba =
      tx.exec("SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'");
  ASSERT_EQ(hba.size(), 1U);
  EXPECT_EQ(hba[0][0].as<std::string>(), "scram-sha-256");
}

TEST_F(Server, UserLoggedInOverTcpSeesOnlyOwnRows) {
  pqxx::connection alice(conninfo_for(kAlice));
  pqxx::nontransaction tx(alice);
  EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2);
  EXPECT_EQ(tx.exec("SELECT inet_client_addr()::text")[0][0].as<std::string>(), "127.0.0.1/32");
}

TEST_F(Server, ServiceRoleOwnsTheTableAndSeesEveryRow) {
  pqxx::connection service(conninfo_for(kServiceRole));
  pqxx::nontransaction tx(service);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM app.notes")[0][0].as<int>(), 3);
}

TEST_F(Server, WrongPasswordIsRejected) {
  EXPECT_THROW(pqxx::connection(server().tcp_conninfo(kAlice, "not-the-password")),
               pqxx::broken_connection);
}

}  // namespace
}  // namespace pgobo::test
