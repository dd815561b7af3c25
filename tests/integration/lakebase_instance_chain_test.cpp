// The whole chain for a Lakebase Provisioned database instance, for real:
// AppConfig (lakebase_instance_name) → RoutingPool → the service principal's
// pool and each user's pool → LakebaseCredentials (POST
// /api/2.0/database/credentials, cached) → PostgreSQL. As in
// lakebase_chain_test.cpp, the fake workspace makes each database token it
// issues its role's PostgreSQL password, so a login succeeds only with the
// newest token of that role, and tokens expire after a few seconds of a
// clock the test moves forward.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "fake_workspace.hpp"
#include "log_capture.hpp"
#include "offset_clock.hpp"
#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/routing_pool.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::test::FakeWorkspace;
using pgobo::test::kAlice;
using pgobo::test::kBob;
using pgobo::test::kServiceRole;
using Endpoint = FakeWorkspace::Endpoint;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr auto kTokenLifetime = 5s;
constexpr const char* kInstance = "notes-instance";

class LakebaseInstanceChainTest : public pgobo::test::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FakeWorkspace::Options options;
    options.client_id = kServiceRole;  // a service principal's role is its client id
    options.service_principal_user = kServiceRole;
    options.instance_names = {kInstance};
    options.database_token_lifetime = kTokenLifetime;
    options.clock = clock.function();
    workspace = std::make_unique<FakeWorkspace>(options);
    workspace->on_database_credential([this](const std::string& role, const std::string& token) {
      auto conn = superuser();
      pqxx::nontransaction tx(conn);
      tx.exec("ALTER ROLE " + tx.quote_name(role) + " PASSWORD " + tx.quote(token));
    });
  }

  void TearDown() override {
    if (workspace) {
      EXPECT_THAT(pgobo::test::leaked_secrets(log.text(), workspace->secrets()),
                  ::testing::IsEmpty());
    }
    PgTest::TearDown();
  }

  // The router a Databricks App with a database instance builds.
  [[nodiscard]] std::unique_ptr<pgobo::RoutingPool> router(const std::string& instance) {
    const nlohmann::json json{{"name", "sp"},
                              {"host", server().host},
                              {"port", server().port},
                              {"database", server().database},
                              {"sslmode", "disable"},
                              {"lakebase_instance_name", instance},
                              {"workspace_url", workspace->url()},
                              {"client_id", workspace->options().client_id},
                              {"client_secret", workspace->options().client_secret},
                              {"credential_refresh_ahead_ms", 1000}};
    return pgobo::RoutingPool::create(
        pgobo::databricks::AppConfig::from_json(json).make_routing_config(clock.function()));
  }

  // A request of `email`, as the Apps proxy forwards it, with a workspace
  // token the fake knows to be that user's.
  [[nodiscard]] pgobo::UserContext user(const std::string& email) const {
    return pgobo::make_user_context("id-" + email, email, workspace->add_token_for(email));
  }

  [[nodiscard]] bool password_works(const std::string& role, const std::string& password) const {
    try {
      return pqxx::connection(server().tcp_conninfo(role, password)).is_open();
    } catch (const pqxx::broken_connection&) {
      return false;
    }
  }

  static int count_notes(pgobo::RoutingPool& db) {
    return db.query("SELECT count(*) FROM app.notes")[0][0].as<int>();
  }
  static std::string role_of(pgobo::RoutingPool& db) {
    return db.query("SELECT current_user")[0][0].as<std::string>();
  }

  pgobo::test::OffsetClock clock;
  pgobo::test::LogCapture log;
  std::unique_ptr<FakeWorkspace> workspace;
};

TEST_F(LakebaseInstanceChainTest, ServicePrincipalAndEachUserLogInWithTheirOwnInstanceCredential) {
  auto db = router(kInstance);

  EXPECT_EQ(role_of(*db), kServiceRole);
  EXPECT_EQ(count_notes(*db), 3) << "the service principal owns app.notes";
  {
    const pgobo::UserScope scope{user(kAlice)};
    EXPECT_EQ(role_of(*db), kAlice);
    EXPECT_EQ(count_notes(*db), 2) << "RLS applies to alice";
  }
  {
    const pgobo::UserScope scope{user(kBob)};
    EXPECT_EQ(role_of(*db), kBob);
    EXPECT_EQ(count_notes(*db), 1) << "RLS applies to bob";
  }

  EXPECT_THAT(workspace->database_credential_users(), ElementsAre(kServiceRole, kAlice, kBob));
  EXPECT_EQ(workspace->calls(Endpoint::database_instance_credential), 3);
  EXPECT_EQ(workspace->calls(Endpoint::database_credential), 0) << "no endpoint was configured";
  EXPECT_EQ(nlohmann::json::parse(workspace->last_body(Endpoint::database_instance_credential))
                .at("instance_names"),
            nlohmann::json::array({kInstance}));
}

TEST_F(LakebaseInstanceChainTest, AUsersPoolBuysANewCredentialWithTheUsersTokenAfterExpiry) {
  auto db = router(kInstance);
  const pgobo::UserScope scope{user(kAlice)};
  const std::string alice_bearer = "Bearer " + pgobo::current_user_ptr()->access_token().reveal();

  std::vector<pgobo::Lease> held;
  held.push_back(db->connect());
  const std::string first = workspace->database_tokens().back();
  clock.advance(kTokenLifetime);  // alice's database token has expired
  held.push_back(db->connect());  // the first is lent: a new connection logs in

  ASSERT_EQ(workspace->database_tokens().size(), 2U);
  EXPECT_EQ(workspace->last_authorization(Endpoint::database_instance_credential), alice_bearer);
  EXPECT_FALSE(password_works(kAlice, first)) << "the old token is no longer alice's password";
  EXPECT_TRUE(password_works(kAlice, workspace->database_tokens().back()));
  for (auto& lease : held) {  // both connections, old and new, run as alice
    pqxx::nontransaction tx(*lease);
    EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
  }
  const auto ids = workspace->instance_request_ids();
  ASSERT_EQ(ids.size(), 2U);
  EXPECT_NE(ids[0], ids[1]) << "each credential request has its own request_id";
}

TEST_F(LakebaseInstanceChainTest, AnUnknownInstanceSurfacesAsCredentialErrorFromTheQuery) {
  auto db = router("other-instance");
  try {
    (void)count_notes(*db);
    FAIL() << "a query ran without a credential";
  } catch (const pgobo::CredentialError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/api/2.0/database/credentials) failed: HTTP 404"));
    EXPECT_THAT(e.what(), HasSubstr("Database instance 'other-instance' does not exist."));
  }
  EXPECT_TRUE(workspace->database_tokens().empty());
}

}  // namespace
