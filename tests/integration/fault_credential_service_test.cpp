// Fault: the credential service (the Databricks workspace that sells Lakebase
// database tokens) is down, slow, or answers garbage, while the database is
// fine. The whole chain is real, as in lakebase_chain_test.cpp: the fake
// workspace (fake_workspace.hpp, HTTP on 127.0.0.1) makes each database token
// it issues the role's PostgreSQL password.
//
// Proves, for the service principal's pool, two user pools and a user who
// arrives during the outage: connections already open keep serving (leased
// and idle ones, with no call to the workspace); a connection that needs a
// new credential fails with CredentialError saying what went wrong, within
// the HTTP timeout and with no secret in it (a refused connection is retried
// until the caller's acquire deadline, a timed-out call is not: another
// attempt would not fit before it); and once the workspace is back, new
// connections open again without anything being rebuilt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "fake_workspace.hpp"
#include "fault_support.hpp"
#include "log_capture.hpp"
#include "offset_clock.hpp"
#include "pg_fixture.hpp"
#include "pgobo/config.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using UserPtr = std::shared_ptr<const UserContext>;
using Endpoint = FakeWorkspace::Endpoint;

constexpr const char* kCarol = "carol@example.com";
constexpr auto kTokenLifetime = 60s;
constexpr auto kHttpTimeout = 500ms;
constexpr auto kBackoffMax = 200ms;
constexpr auto kAcquireTimeout = 1000ms;

class FaultCredentialService : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    {
      auto conn = superuser();
      pqxx::work tx(conn);
      ensure_user_role(tx, kCarol);
      tx.commit();
    }
    FakeWorkspace::Options options;
    options.client_id = kServiceRole;  // as on Databricks: the SP's role is its client id
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

  [[nodiscard]] std::unique_ptr<RoutingPool> make_router() {
    const auto config = pgobo::databricks::AppConfig::from_json({
        {"name", "sp"},
        {"host", server().host},
        {"port", server().port},
        {"database", server().database},
        {"sslmode", "disable"},
        {"max_size", 3},
        {"acquire_timeout_ms", kAcquireTimeout.count()},
        {"lakebase_endpoint", workspace->options().endpoint},
        {"workspace_url", workspace->url()},
        {"client_id", workspace->options().client_id},
        {"client_secret", workspace->options().client_secret},
        {"credential_refresh_ahead_ms", 1000},
        {"http_timeout_ms", kHttpTimeout.count()},
        {"http_connect_timeout_ms", kHttpTimeout.count()},
    });
    PoolOptions service = config.make_service_pool_options(clock.function());
    // Short, so recovery is quick to observe; the recovery loop below waits
    // longer than this between its attempts.
    service.connect_backoff_max = kBackoffMax;
    PoolManager::Options users;
    users.user_pool = service;
    users.user_pool.connection.user.clear();
    users.user_pool.credentials = nullptr;
    users.sweep_interval = 0ms;
    users.credentials_for = [config, this](const UserContext& user) {
      return config.make_user_credentials(user.access_token(), clock.function());
    };
    return std::make_unique<RoutingPool>(std::make_shared<Pool>(std::move(service)),
                                         std::move(users), PqxxDriver(RlsBypass::refuse));
  }

  UserPtr user(const std::string& email) {
    return shared_user(email, workspace->add_token_for(email));
  }

  OffsetClock clock;
  LogCapture log;  // before the workspace: outlives its threads' last lines
  std::unique_ptr<FakeWorkspace> workspace;
};

struct Identity {
  std::string name;  // its role
  std::function<Lease()> connect;
  std::function<void()> close_idle;
};

struct Outage {
  const char* name;
  std::function<void(FakeWorkspace&)> begin;
  std::function<void(FakeWorkspace&)> end;
  // What the CredentialError must say.
  ::testing::Matcher<std::string> says;
};

std::string current_user(Lease& lease) {
  pqxx::nontransaction tx(*lease);
  return tx.exec("SELECT current_user")[0][0].as<std::string>();
}

TEST_F(FaultCredentialService, OpenConnectionsServeNewOnesFailWithCredentialErrorThenRecover) {
  auto db = make_router();
  const UserPtr alice = user(kAlice);
  const UserPtr bob = user(kBob);
  const UserPtr carol = user(kCarol);
  std::vector<Identity> identities = {
      {kServiceRole, [&] { return db->connect(); },
       [&] { db->service_pool().close_idle_connections(); }},
      {kAlice, [&] { return db->as_user(alice).connect(); },
       [&] { db->manager().find_pool(kAlice)->close_idle_connections(); }},
      {kBob, [&] { return db->as_user(bob).connect(); },
       [&] { db->manager().find_pool(kBob)->close_idle_connections(); }},
  };

  // Each identity: one connection leased for the whole test, one idle.
  std::vector<Lease> held;
  for (auto& id : identities) {
    held.push_back(id.connect());
    Lease idle = id.connect();
    ASSERT_EQ(current_user(idle), id.name);
  }

  const std::vector<Outage> outages = {
      {"down", [](FakeWorkspace& w) { w.stop_listening(); },
       [](FakeWorkspace& w) { w.start_listening(); },
       AllOf(AnyOf(HasSubstr("Connection refused"), HasSubstr("onnect")),
             HasSubstr(" attempts in "), HasSubstr("past the caller's deadline"))},
      {"slow", [](FakeWorkspace& w) { w.set_latency(Endpoint::database_credential, 3s); },
       [](FakeWorkspace& w) {
         // The requests whose callers timed out still issue a credential,
         // which (in this fake) becomes the role's only password: let them
         // finish before recovery fetches the credential that must work.
         // (Real Lakebase keeps every issued credential valid until expiry.)
         w.set_latency(Endpoint::database_credential, 0ms);
         ASSERT_TRUE(w.wait_until_answered(Endpoint::database_credential));
       },
       AllOf(HasSubstr("timed out"), HasSubstr("not retried"))},
      {"garbage",
       [](FakeWorkspace& w) {
         w.set_sticky_fault(Endpoint::database_credential, FakeWorkspace::garbage());
       },
       [](FakeWorkspace& w) { w.set_sticky_fault(Endpoint::database_credential, std::nullopt); },
       HasSubstr("not a JSON object")},
  };

  std::string measured;
  for (const Outage& outage : outages) {
    SCOPED_TRACE(outage.name);
    clock.advance(kTokenLifetime);  // every cached database token has expired
    outage.begin(*workspace);
    const int calls_before = workspace->calls(Endpoint::database_credential);

    // Connections already open need no credential: leased and idle ones serve.
    for (std::size_t i = 0; i < identities.size(); ++i) {
      EXPECT_EQ(current_user(held[i]), identities[i].name);
      for (int n = 0; n < 5; ++n) {
        Lease idle = identities[i].connect();
        EXPECT_EQ(current_user(idle), identities[i].name);
      }
    }
    EXPECT_EQ(workspace->calls(Endpoint::database_credential), calls_before)
        << "serving open connections called the workspace";

    // A connection that must open fails with CredentialError, within the
    // HTTP timeout or the acquire timeout the retries stop before (plus a
    // generous allowance for a noisy machine).
    std::chrono::milliseconds slowest{0};
    const auto expect_credential_error = [&](const std::function<Lease()>& connect,
                                             const std::string& who) {
      const auto began = FaultClock::now();
      try {
        Lease lease = connect();
        ADD_FAILURE() << who << ": a connection opened without the workspace";
      } catch (const CredentialError& e) {
        EXPECT_THAT(e.what(), outage.says) << who;
        EXPECT_THAT(e.what(), HasSubstr("pool '")) << who;
        EXPECT_THAT(e.what(), HasSubstr("Lakebase database credential request")) << who;
        EXPECT_THAT(leaked_secrets(e.what(), workspace->secrets()), IsEmpty()) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << who << ": not a CredentialError: " << e.what();
      }
      const auto took =
          std::chrono::duration_cast<std::chrono::milliseconds>(FaultClock::now() - began);
      slowest = std::max(slowest, took);
      EXPECT_LT(took, std::max<std::chrono::milliseconds>(kHttpTimeout, kAcquireTimeout) + 2s)
          << who;
    };
    for (auto& id : identities) {
      Lease idle = id.connect();  // the pool's last free connection
      expect_credential_error(id.connect, id.name);
    }
    // A user arriving now gets a pool, but no connection.
    expect_credential_error([&] { return db->as_user(carol).connect(); }, kCarol);

    // Back: every identity opens new connections again, by itself.
    outage.end(*workspace);
    const auto back = FaultClock::now();
    // No waiting out the backoff here: a request that arrives during it, in
    // a pool with its connections out, opens as soon as it ends
    // (FaultPoolBackoff.ALoneWaiterOpensWhenTheBackoffEnds).
    identities.push_back({kCarol, [&] { return db->as_user(carol).connect(); },
                          [&] { db->manager().find_pool(kCarol)->close_idle_connections(); }});
    int recovery_errors = 0;
    std::string first_recovery_error;
    for (auto& id : identities) {
      std::string last_error;
      const bool recovered = poll_until(
          [&] {
            try {
              Lease idle = id.connect();
              Lease fresh = id.connect();  // opens one
              return current_user(fresh) == id.name;
            } catch (const std::exception& e) {
              last_error = e.what();
              if (recovery_errors++ == 0) first_recovery_error = e.what();
              return false;
            }
          },
          10s, 250ms);
      EXPECT_TRUE(recovered) << id.name << ": " << last_error;
    }
    const auto recovery =
        std::chrono::duration_cast<std::chrono::milliseconds>(FaultClock::now() - back);
    // Carol arrives anew in each round: her pool goes, and with it her
    // cached credential.
    identities.pop_back();
    db->manager().close_pool(kCarol);

    // Ready for the next outage: one idle connection each again.
    for (auto& id : identities) {
      id.close_idle();
      Lease idle = id.connect();
    }
    measured += std::string(measured.empty() ? "" : "; ") + outage.name +
                ": slowest CredentialError " + std::to_string(slowest.count()) +
                " ms, all recovered in " + std::to_string(recovery.count()) + " ms after " +
                std::to_string(recovery_errors) + " failed attempt(s)" +
                (first_recovery_error.empty() ? "" : " (first: " + first_recovery_error + ")");
  }

  held.clear();
  EXPECT_EQ(db->stats().users.rebuilds, 0U) << "recovery rebuilt nothing";
  EXPECT_THAT(leaked_secrets(log.text(), workspace->secrets()), IsEmpty())
      << "a token or client secret reached pgobo's log";
  report(measured);
}

}  // namespace
}  // namespace pgobo::test
