// The whole Lakebase chain for real: PoolConfig → ServicePrincipalOAuth →
// LakebaseCredentials (cached) → Pool → PostgreSQL. The fake workspace makes
// every database token it issues the role's PostgreSQL password (ALTER ROLE …
// PASSWORD), so a connection logs in only with the newest token, and tokens
// expire after a few seconds of a clock the test moves forward.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "fake_workspace.hpp"
#include "log_capture.hpp"
#include "offset_clock.hpp"
#include "pg_fixture.hpp"
#include "pgobo/config.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/pqxx_pool.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::test::FakeWorkspace;
using pgobo::test::kAlice;
using pgobo::test::kServiceRole;
using pgobo::test::OffsetClock;
using Clock = std::chrono::system_clock;
using ::testing::Each;
using ::testing::HasSubstr;

constexpr auto kTokenLifetime = 5s;

class LakebaseChainTest : public pgobo::test::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FakeWorkspace::Options options;
    // As on Databricks, the service principal's role is its client id.
    options.client_id = kServiceRole;
    options.service_principal_user = kServiceRole;
    options.database_token_lifetime = kTokenLifetime;
    options.clock = clock.function();
    workspace = std::make_unique<FakeWorkspace>(options);
    workspace->on_database_credential([this](const std::string& role, const std::string& token) {
      auto conn = superuser();
      pqxx::nontransaction tx(conn);
      tx.exec("ALTER ROLE " + tx.quote_name(role) + " PASSWORD " + tx.quote(token));
    });
  }

  [[nodiscard]] nlohmann::json config_json() const {
    return {{"name", "sp"},
            {"host", server().host},
            {"port", server().port},
            {"database", server().database},
            {"sslmode", "disable"},
            {"max_size", 5},
            {"lakebase_endpoint", workspace->options().endpoint},
            {"workspace_url", workspace->url()},
            {"client_id", workspace->options().client_id},
            {"client_secret", workspace->options().client_secret},
            {"credential_refresh_ahead_ms", 1000}};
  }

  // Logging in directly with `password` as `role` works.
  [[nodiscard]] bool can_log_in(const std::string& role, const std::string& password) const {
    try {
      pqxx::connection conn(server().tcp_conninfo(role, password));
      return conn.is_open();
    } catch (const pqxx::broken_connection&) {
      return false;
    }
  }

  static std::string current_user(pgobo::Lease& lease) {
    pqxx::nontransaction tx(*lease);
    return tx.exec("SELECT current_user")[0][0].as<std::string>();
  }

  OffsetClock clock;
  pgobo::test::LogCapture log;
  std::unique_ptr<FakeWorkspace> workspace;
};

TEST_F(LakebaseChainTest, PoolKeepsServingAcrossTokenRotations) {
  const pgobo::PoolOptions options = pgobo::databricks::AppConfig::from_json(config_json())
                                         .make_service_pool_options(clock.function());
  ASSERT_EQ(options.connection.user, kServiceRole);
  pgobo::Pool pool(options);

  std::vector<pgobo::Lease> held;  // one connection opened per token
  held.push_back(pool.connect());
  ASSERT_EQ(current_user(held.back()), kServiceRole);

  constexpr int kRotations = 3;
  for (int rotation = 1; rotation <= kRotations; ++rotation) {
    const std::string old_token = workspace->database_tokens().back();
    clock.advance(kTokenLifetime);  // the token in use has expired

    held.push_back(pool.connect());  // every connection is lent: a new one opens
    EXPECT_EQ(current_user(held.back()), kServiceRole) << "rotation " << rotation;
    EXPECT_EQ(workspace->database_tokens().size(), static_cast<std::size_t>(rotation + 1))
        << "the new connection logged in with a new token";
    EXPECT_FALSE(can_log_in(kServiceRole, old_token)) << "the old token is no longer a password";
    EXPECT_TRUE(can_log_in(kServiceRole, workspace->database_tokens().back()));

    for (auto& lease : held) {  // connections opened with older tokens still work
      pqxx::nontransaction tx(*lease);
      EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1) << "rotation " << rotation;
    }
  }
  held.clear();

  EXPECT_EQ(pool.query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 3);
  EXPECT_THAT(workspace->database_credential_users(), Each(std::string(kServiceRole)));
  EXPECT_EQ(workspace->calls(FakeWorkspace::Endpoint::oauth_token), 1)
      << "the SP's workspace token lasts an hour and is cached";
  EXPECT_THAT(pgobo::test::leaked_secrets(log.text(), workspace->secrets()), ::testing::IsEmpty());
}

TEST_F(LakebaseChainTest, ConnectionsWithinATokensLifetimeShareOneToken) {
  pgobo::Pool pool(pgobo::databricks::AppConfig::from_json(config_json())
                       .make_service_pool_options(clock.function()));

  std::vector<pgobo::Lease> held;
  for (int i = 0; i < 4; ++i) held.push_back(pool.connect());
  clock.advance(kTokenLifetime - 2s);  // 2 s left, more than the 1 s refresh-ahead
  held.push_back(pool.connect());

  EXPECT_EQ(workspace->calls(FakeWorkspace::Endpoint::database_credential), 1);
  EXPECT_EQ(backends_of(kServiceRole), 5);
}

TEST_F(LakebaseChainTest, UserPoolLogsInAsTheUserWithTheForwardedToken) {
  const auto config = pgobo::databricks::AppConfig::from_json(config_json());
  pgobo::PoolOptions options = config.make_service_pool_options(clock.function());
  options.name = "user:alice";
  options.connection.user = kAlice;
  options.credentials = config.make_user_credentials(
      pgobo::Secret(workspace->add_token_for(kAlice)), clock.function());
  pgobo::Pool pool(options);

  auto lease = pool.connect();
  EXPECT_EQ(current_user(lease), kAlice);
  pqxx::nontransaction tx(*lease);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2) << "RLS applies";
  EXPECT_THAT(workspace->database_credential_users(), ::testing::ElementsAre(kAlice));
}

// An outage that outlasts what pgobo may wait (Retry-After past the retry
// budget: not retried) surfaces from connect() as a CredentialError.
TEST_F(LakebaseChainTest, WorkspaceFailureSurfacesAsCredentialErrorFromConnect) {
  workspace->set_sticky_fault(
      FakeWorkspace::Endpoint::database_credential,
      FakeWorkspace::Fault{503,
                           R"({"error_code":"TEMPORARILY_UNAVAILABLE","message":"try later"})",
                           "application/json",
                           {{"Retry-After", "60"}}});
  pgobo::Pool pool(pgobo::databricks::AppConfig::from_json(config_json())
                       .make_service_pool_options(clock.function()));

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded without a credential";
  } catch (const pgobo::CredentialError& e) {
    EXPECT_THAT(e.what(), HasSubstr("HTTP 503"));
    EXPECT_THAT(e.what(), HasSubstr("TEMPORARILY_UNAVAILABLE: try later"));
    EXPECT_THAT(e.what(), HasSubstr("not retried: the workspace asked to retry after 60000 ms"));
  }
  EXPECT_EQ(workspace->calls(FakeWorkspace::Endpoint::database_credential), 1);
}

// A brief one (one 503) is retried behind connect(): the caller never sees it.
TEST_F(LakebaseChainTest, ABriefOutageIsRetriedBehindConnect) {
  workspace->fail_next(FakeWorkspace::Endpoint::database_credential, FakeWorkspace::busy(503));
  pgobo::Pool pool(pgobo::databricks::AppConfig::from_json(config_json())
                       .make_service_pool_options(clock.function()));

  auto lease = pool.connect();
  EXPECT_EQ(current_user(lease), kServiceRole);
  EXPECT_EQ(workspace->calls(FakeWorkspace::Endpoint::database_credential), 2);
}

}  // namespace
