// ConnectionParams::to_conninfo() against a real server: passwords of any
// shape log in, and server settings with spaces and backslashes arrive
// intact. (Lakebase tokens are opaque strings; pgobo must not care what is
// in them.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "pg_fixture.hpp"
#include "pgobo/connection_params.hpp"

namespace {

using pgobo::test::kAlice;

class ConninfoServerTest : public pgobo::test::PgTest {
 protected:
  [[nodiscard]] pgobo::ConnectionParams alice_params() const {
    pgobo::ConnectionParams params;
    params.host = server().host;
    params.port = static_cast<std::uint16_t>(server().port);
    params.dbname = server().database;
    params.user = kAlice;
    params.sslmode = pgobo::SslMode::disable;
    return params;
  }

  void set_alice_password(const std::string& password) {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER ROLE " + tx.quote_name(kAlice) + " PASSWORD " + tx.quote(password));
  }
};

class TrickyPassword : public ConninfoServerTest,
                       public ::testing::WithParamInterface<std::string> {};

TEST_P(TrickyPassword, LogsIn) {
  set_alice_password(GetParam());
  pqxx::connection conn(alice_params().to_conninfo(pgobo::Secret(GetParam())));
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TrickyPassword,
                         ::testing::Values("with spaces", "it's", R"(back\slash\)", "\"dq\"",
                                           "ünïcødé 🔑", "a=b host=evil", "tab\there"));

TEST_F(ConninfoServerTest, WrongPasswordIsRefused) {
  set_alice_password("right");
  EXPECT_THROW(pqxx::connection(alice_params().to_conninfo(pgobo::Secret("right "))),
               pqxx::broken_connection);
}

TEST_F(ConninfoServerTest, SettingsWithSpacesAndBackslashesReachTheServer) {
  auto params = alice_params();
  params.settings = {{"application_name", R"(notes \ service)"},
                     {"statement_timeout", "1234ms"},
                     {"search_path", "app, public"}};
  pqxx::connection conn(params.to_conninfo(pgobo::Secret(pgobo::test::password_for(kAlice))));
  pqxx::nontransaction tx(conn);

  EXPECT_EQ(tx.exec("SHOW application_name")[0][0].as<std::string>(), R"(notes \ service)");
  EXPECT_EQ(tx.exec("SHOW statement_timeout")[0][0].as<std::string>(), "1234ms");
  EXPECT_EQ(tx.exec("SHOW search_path")[0][0].as<std::string>(), "app, public");
}

}  // namespace
