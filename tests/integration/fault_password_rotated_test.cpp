// Fault: a role's password is changed in PostgreSQL, and the application is
// not told (no new token, its credential provider still hands out the old
// password). Connections logged in before the change stay logged in:
// PostgreSQL authenticates a connection only when it opens.
//
// Proves that connections already open (leased and idle) keep serving, that
// a new connection fails with AuthenticationFailed whose message says why and
// which pool, with neither the old nor the new password in it, or in the log;
// that a user whose password did not change is unaffected; and that the pool
// opens connections again once the credential matches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "log_capture.hpp"
#include "pg_fixture.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using UserPtr = std::shared_ptr<const UserContext>;

class FaultPasswordRotated : public PgTest {
 protected:
  void set_password(const std::string& role, const std::string& password) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER ROLE " + tx.quote_name(role) + " PASSWORD " + tx.quote(password));
  }

  static std::string current_user(Lease& lease) {
    pqxx::nontransaction tx(*lease);
    return tx.exec("SELECT current_user")[0][0].as<std::string>();
  }
};

TEST_F(FaultPasswordRotated, OpenConnectionsKeepServingNewOnesFailWithAuthenticationFailed) {
  constexpr auto kBackoffMax = 200ms;
  LogCapture log;
  auto setup = make_counted_router(server(), "pgobo-fault-rotated", [&](PoolOptions& p) {
    p.max_size = 3;
    p.acquire_timeout = 2s;
    p.connect_backoff_max = kBackoffMax;
  });
  RoutingPool& db = *setup.router;
  const UserPtr alice =
      std::make_shared<const UserContext>(make_user_context("id-alice", kAlice, "alice-token"));
  const UserPtr bob =
      std::make_shared<const UserContext>(make_user_context("id-bob", kBob, "bob-token"));

  // Alice: one connection leased throughout, one idle. The SP likewise.
  Lease alice_held = db.as_user(alice).connect();
  { Lease idle = db.as_user(alice).connect(); }
  Lease sp_held = db.connect();
  { Lease idle = db.connect(); }
  ASSERT_EQ(db.as_user(alice).total_count(), 2U);

  // Rotated behind the application's back.
  const std::string alice_new = password_for(kAlice) + "-rotated-behind-our-back";
  const std::string sp_new = password_for(kServiceRole) + "-rotated-behind-our-back";
  set_password(kAlice, alice_new);
  set_password(kServiceRole, sp_new);

  // Open connections keep serving, leased and idle.
  EXPECT_EQ(current_user(alice_held), kAlice);
  EXPECT_EQ(current_user(sp_held), kServiceRole);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(db.as_user(alice).query("SELECT current_user")[0][0].as<std::string>(), kAlice);
    EXPECT_EQ(db.query("SELECT current_user")[0][0].as<std::string>(), kServiceRole);
  }

  // A new connection: AuthenticationFailed, clear and without a password.
  const auto expect_login_refused = [&](const std::function<Lease()>& connect,
                                        const std::string& pool, const std::string& role,
                                        const std::string& new_password) {
    Lease idle = connect();  // the last free one: the next must open
    try {
      Lease fresh = connect();
      ADD_FAILURE() << role << " logged in with a password that was changed";
    } catch (const AuthenticationFailed& e) {
      EXPECT_THAT(e.what(), HasSubstr(server().refused_password_text(role)));
      EXPECT_THAT(e.what(), HasSubstr("pool '" + pool + "'"));
      EXPECT_THAT(e.what(), Not(HasSubstr(password_for(role))));
      EXPECT_THAT(e.what(), Not(HasSubstr(new_password)));
    } catch (const std::exception& e) {
      ADD_FAILURE() << role << ": not AuthenticationFailed: " << e.what();
    }
  };
  expect_login_refused([&] { return db.as_user(alice).connect(); }, "user:" + std::string(kAlice),
                       kAlice, alice_new);
  expect_login_refused([&] { return db.connect(); }, "sp", kServiceRole, sp_new);
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{*db.manager().find_pool(kAlice)}.login_failing());

  // A user whose password did not change is not affected, first login included.
  EXPECT_EQ(db.as_user(bob).query("SELECT current_user")[0][0].as<std::string>(), kBob);
  {
    std::vector<Lease> bobs;
    for (int i = 0; i < 3; ++i) bobs.push_back(db.as_user(bob).connect());
  }

  // And the connections already open still serve after the failed logins.
  EXPECT_EQ(current_user(alice_held), kAlice);
  EXPECT_EQ(current_user(sp_held), kServiceRole);
  EXPECT_EQ(db.as_user(alice).query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2)
      << "still alice, under row-level security";

  // The credential matches again: new connections open, without a rebuild.
  set_password(kAlice, password_for(kAlice));
  set_password(kServiceRole, password_for(kServiceRole));
  // The pools' connect backoff (connect_backoff_max) runs out first; see
  // fault_pool_backoff_test.cpp for why a request during it would wait.
  std::this_thread::sleep_for(kBackoffMax + 50ms);
  {
    std::vector<Lease> full;
    for (int i = 0; i < 2; ++i) full.push_back(db.as_user(alice).connect());
    for (auto& lease : full) EXPECT_EQ(current_user(lease), kAlice);
  }
  {
    std::vector<Lease> full;
    for (int i = 0; i < 2; ++i) full.push_back(db.connect());
    for (auto& lease : full) EXPECT_EQ(current_user(lease), kServiceRole);
  }
  EXPECT_FALSE(pgobo::detail::PoolManagerGate{*db.manager().find_pool(kAlice)}.login_failing());
  EXPECT_EQ(db.stats().users.rebuilds, 0U);

  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr(server().refused_password_text(kAlice))) << "the failure was logged";
  for (const std::string& secret :
       {password_for(kAlice), alice_new, password_for(kServiceRole), sp_new}) {
    EXPECT_THAT(text, Not(HasSubstr(secret))) << "a password reached the log";
  }
  report("login attempts: " + std::to_string(setup.attempts->load()) +
         "; connect errors: " + std::to_string(db.stats().users.connect_errors) + " (users), " +
         std::to_string(db.stats().service.connect_errors) + " (sp)");
}

}  // namespace
}  // namespace pgobo::test
