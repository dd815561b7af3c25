// RoutingPool against a real PostgreSQL: who each statement runs as. Row-level
// security (owner = current_user on app.notes) makes the identity visible: the
// service principal owns the table and sees every row, alice and bob see only
// theirs — through UserScope, as_user, bind_context on a thread pool and Task.
// Also: the context never crosses between the SP pool and user pools,
// pg_config() names the active role without a password, query_read_only()
// stops writes by policy and by BEGIN READ ONLY, and roles that bypass RLS are
// refused as users' roles unless allowed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <pqxx/pqxx>
#include <pqxx/version>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/task.hpp"
#include "test_routing.hpp"
#include "wait.hpp"
#include "worker_threads.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::Not;

class RoutingIdentity : public PgTest {
 protected:
  [[nodiscard]] RoutingConfig config() const {
    return routing_config(server(), "pgobo-routing-test", 3);
  }

  // Owners of the notes the active identity sees.
  template <class Router>
  static std::vector<std::string> visible_owners(Router& db) {
    std::vector<std::string> owners;
    for (const auto& row : db.query("SELECT owner FROM app.notes ORDER BY id")) {
      owners.push_back(row[0].template as<std::string>());
    }
    return owners;
  }

  template <class Router>
  static std::string current_role(Router& db) {
    return db.query("SELECT current_user")[0][0].template as<std::string>();
  }

  // A login role that bypasses RLS: "BYPASSRLS" or "SUPERUSER".
  void make_bypassing_role(const std::string& role, const std::string& attribute) {
    auto conn = superuser();
    pqxx::work tx(conn);
    ensure_user_role(tx, role);
    tx.exec("ALTER ROLE " + tx.quote_name(role) + " " + attribute);
    tx.commit();
  }
};

// --- RLS through every way of carrying the context ---------------------------

TEST_F(RoutingIdentity, ServicePrincipalSeesEveryRow) {
  auto db = RoutingPool::create(config());
  ASSERT_EQ(current_user_ptr(), nullptr);

  EXPECT_EQ(current_role(*db), kServiceRole);
  EXPECT_THAT(visible_owners(*db), ::testing::ElementsAre(kAlice, kAlice, kBob));
}

TEST_F(RoutingIdentity, InsideAUserScopeEachUserSeesOnlyTheirRows) {
  auto db = RoutingPool::create(config());

  std::vector<std::string> alice_sees;
  std::vector<std::string> bob_sees;
  {
    const UserScope scope(shared_user(kAlice));
    alice_sees = visible_owners(*db);
  }
  {
    const UserScope scope(shared_user(kBob));
    bob_sees = visible_owners(*db);
  }

  EXPECT_THAT(alice_sees, AllOf(::testing::SizeIs(2), Each(std::string(kAlice))));
  EXPECT_THAT(bob_sees, ::testing::ElementsAre(kBob));
}

TEST_F(RoutingIdentity, AsUserSeesOnlyThatUsersRowsWhateverTheThreadsContext) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));
  auto bob = db->as_user(shared_user(kBob));

  const UserScope as_bob(shared_user(kBob));  // the thread's context must not matter
  EXPECT_THAT(visible_owners(alice), AllOf(::testing::SizeIs(2), Each(std::string(kAlice))));
  EXPECT_THAT(visible_owners(bob), ::testing::ElementsAre(kBob));
  EXPECT_EQ(current_role(alice), kAlice);
}

// Parameters bound as values or, from libpqxx 7.6, as one pqxx::params, on a
// user's pool and the service principal's: either way RLS sees the user.
TEST_F(RoutingIdentity, QueryBindsParametersAsValuesOrAsOnePqxxParams) {
  auto db = RoutingPool::create(config());
  auto bob = db->as_user(shared_user(kBob));
  const std::string count_of = "SELECT count(*) FROM app.notes WHERE owner = $1 AND id > $2";

  EXPECT_EQ(bob.query(count_of, std::string(kAlice), 0)[0][0].as<int>(), 0);
  EXPECT_EQ(db->query(count_of, std::string(kAlice), 0)[0][0].as<int>(), 2);
#if PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 6)
  EXPECT_EQ(bob.query(count_of, pqxx::params{std::string(kBob), 0})[0][0].as<int>(), 1);
  EXPECT_EQ(db->query_read_only(count_of, pqxx::params{std::string(kAlice), 0})[0][0].as<int>(), 2);
#else
  GTEST_SKIP() << "libpqxx " << PQXX_VERSION_MAJOR << "." << PQXX_VERSION_MINOR
               << " has no pqxx::params (7.6 and later)";
#endif
}

TEST_F(RoutingIdentity, BoundCallsOnAThreadPoolSeeOnlyTheirUsersRows) {
  auto db = RoutingPool::create(config());
  WorkerThreads workers(2);
  std::promise<std::vector<std::string>> alice_sees;
  std::promise<std::vector<std::string>> bob_sees;
  std::promise<std::vector<std::string>> unbound_sees;

  {
    const UserScope scope(shared_user(kAlice));
    workers.post(bind_context([&] { alice_sees.set_value(visible_owners(*db)); }));
  }
  {
    const UserScope scope(shared_user(kBob));
    workers.post(bind_context([&] { bob_sees.set_value(visible_owners(*db)); }));
    workers.post([&] { unbound_sees.set_value(visible_owners(*db)); });  // not bound: the SP
  }

  EXPECT_THAT(alice_sees.get_future().get(),
              AllOf(::testing::SizeIs(2), Each(std::string(kAlice))));
  EXPECT_THAT(bob_sees.get_future().get(), ::testing::ElementsAre(kBob));
  EXPECT_THAT(unbound_sees.get_future().get(), ::testing::SizeIs(3));
}

TEST_F(RoutingIdentity, TaskResumedOnAnotherThreadStillQueriesAsItsUser) {
  auto db = RoutingPool::create(config());
  WorkerThreads workers(1);

  auto notes_seen = [&]() -> Task<std::vector<std::string>> {
    co_await ResumeOn{workers};
    EXPECT_TRUE(workers.runs_here());
    co_return visible_owners(*db);
  };
  Task<std::vector<std::string>> alice_task = [&] {
    const UserScope scope(shared_user(kAlice));
    return notes_seen();  // a Task acts for whoever created it
  }();
  Task<std::vector<std::string>> bob_task = [&] {
    const UserScope scope(shared_user(kBob));
    return notes_seen();
  }();

  EXPECT_THAT(sync_wait(std::move(alice_task)),
              AllOf(::testing::SizeIs(2), Each(std::string(kAlice))));
  EXPECT_THAT(sync_wait(std::move(bob_task)), ::testing::ElementsAre(kBob));
  EXPECT_EQ(current_user_ptr(), nullptr);
}

// --- the context never crosses between the SP pool and user pools ------------

TEST_F(RoutingIdentity, AUserScopeReachesOnlyTheUsersPoolAndItsEndOnlyTheServicePool) {
  if (testing_set_role_mode())
    GTEST_SKIP()
        << "counts per-user pools (set_role mode has one shared pool; the SetRole suite checks it)";
  auto db = RoutingPool::create(config());
  EXPECT_EQ(current_role(*db), kServiceRole);
  const auto service_acquired = db->stats().service.acquired;

  std::string inside;
  std::string nested_service;
  {
    const UserScope scope(shared_user(kAlice));
    inside = current_role(*db);
    {
      const UserScope as_service(nullptr);  // a statement the app makes as itself
      nested_service = current_role(*db);
    }
  }
  const auto alice_acquired = db->stats().users.acquired;
  const std::string after = current_role(*db);

  EXPECT_EQ(inside, kAlice);
  EXPECT_EQ(nested_service, kServiceRole);
  EXPECT_EQ(after, kServiceRole);
  EXPECT_EQ(db->stats().service.acquired, service_acquired + 2) << "only the two SP statements";
  EXPECT_EQ(alice_acquired, 1U) << "only alice's statement reached a user pool";
  EXPECT_EQ(db->stats().users.acquired, alice_acquired) << "the SP statement after the scope";
}

// --- pg_config() --------------------------------------------------------------

TEST_F(RoutingIdentity, PgConfigNamesTheActiveRoleAndHoldsNoPassword) {
  if (testing_set_role_mode())
    GTEST_SKIP()
        << "pg_config() names the authenticator in set_role mode (SetRole.EachStatementRuns…)";
  auto db = RoutingPool::create(config());

  const ConnectionParams service = db->pg_config();
  ConnectionParams alice;
  {
    const UserScope scope(shared_user(kAlice));
    alice = db->pg_config();
  }
  const ConnectionParams bob = db->as_user(shared_user(kBob)).pg_config();

  EXPECT_EQ(service.user, kServiceRole);
  EXPECT_EQ(alice.user, kAlice);
  EXPECT_EQ(bob.user, kBob);
  for (const ConnectionParams* params :
       std::initializer_list<const ConnectionParams*>{&service, &alice, &bob}) {
    EXPECT_EQ(params->host, server().pool_host);
    EXPECT_EQ(params->port, server().pool_port);
    EXPECT_EQ(params->dbname, server().database);
    const std::string conninfo = params->to_conninfo();
    for (const char* role : {kServiceRole, kAlice, kBob}) {
      EXPECT_THAT(conninfo, Not(HasSubstr(password_for(role)))) << conninfo;
    }
    EXPECT_THAT(conninfo, Not(HasSubstr("password"))) << conninfo;
  }
  // The settings log in as alice once her password is added: they are complete.
  pqxx::connection conn(alice.to_conninfo(Secret(password_for(kAlice))));
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
}

// --- query_read_only() --------------------------------------------------------

TEST_F(RoutingIdentity, ReadOnlyQueryRunsASelectAsTheActiveUser) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));

  const pqxx::result rows = alice.query_read_only(
      "SELECT count(*), current_user FROM app.notes WHERE body LIKE $1", std::string("alice:%"));

  EXPECT_EQ(rows[0][0].as<int>(), 2);
  EXPECT_EQ(rows[0][1].as<std::string>(), kAlice);
}

TEST_F(RoutingIdentity, ReadOnlyQueryRefusesADeleteBeforeItReachesTheServer) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));

  EXPECT_THROW((void)alice.query_read_only("DELETE FROM app.notes"), SqlPolicyError);

  EXPECT_FALSE(db->manager().has_pool(kAlice)) << "no connection was even taken";
  EXPECT_EQ(backends_of(kAlice), 0);
  EXPECT_EQ(alice.query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2);
}

// The policy parses the statement: a DELETE hidden in a WITH is seen (the
// READ ONLY transaction would stop it too, as the next test shows for a write
// hidden in a function, which the policy cannot see).
TEST_F(RoutingIdentity, ReadOnlyQueryRefusesADeleteHiddenInACte) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));

  try {
    (void)alice.query_read_only(
        "WITH d AS (DELETE FROM app.notes RETURNING 1) SELECT count(*) FROM d");
    FAIL() << "the hidden DELETE ran";
  } catch (const SqlPolicyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds a DELETE"));
  }
  EXPECT_FALSE(db->manager().has_pool(kAlice)) << "no connection was even taken";
  EXPECT_EQ(alice.query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2);
  EXPECT_EQ(db->query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 3);
}

TEST_F(RoutingIdentity, ReadOnlyTransactionStopsAnInsertHiddenInAFunction) {
  {
    auto conn = superuser();
    pqxx::work tx(conn);
    tx.exec("SET ROLE " + tx.quote_name(kServiceRole));
    tx.exec(
        "CREATE FUNCTION app.add_note() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO app.notes (body) VALUES ('sneaked in'); RETURN 1; END $$");
    tx.commit();
  }
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));
  ASSERT_EQ(alice.query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 2);

  try {
    (void)alice.query_read_only("SELECT app.add_note()");
    FAIL() << "the function's INSERT ran";
  } catch (const pqxx::sql_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("read-only transaction"));
  }
  EXPECT_EQ(db->query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 3);
  // The same call outside query_read_only() does write: the function is no dud.
  EXPECT_EQ(alice.query("SELECT app.add_note()")[0][0].as<int>(), 1);
  EXPECT_EQ(alice.query("SELECT count(*) FROM app.notes")[0][0].as<int>(), 3);
}

// --- roles that bypass row-level security -------------------------------------

class RoutingBypassRole : public RoutingIdentity,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(RoutingBypassRole, IsRefusedAsAUsersRoleSayingWhyAndHowToFix) {
  if (server().via_pgbouncer && std::string_view(GetParam()) == "SUPERUSER") {
    GTEST_SKIP() << kNoSuperuserBehindPgBouncer;
  }
  const std::string role = std::string("routing-") + GetParam() + "@example.com";
  make_bypassing_role(role, GetParam());
  auto db = RoutingPool::create(config());

  try {
    (void)db->as_user(shared_user(role)).query("SELECT owner FROM app.notes");
    FAIL() << "a " << GetParam() << " role served a user";
  } catch (const UnsafeRole& e) {
    EXPECT_THAT(e.what(), HasSubstr(role));
    EXPECT_THAT(e.what(), HasSubstr(GetParam()));
    EXPECT_THAT(e.what(), HasSubstr("row-level security does not apply"));
    EXPECT_THAT(e.what(), HasSubstr("allow_rls_bypass_roles"));
  }
  EXPECT_TRUE(eventually([&] { return backends_of(role) == 0; }))
      << "the refused connection was closed";
}

TEST_P(RoutingBypassRole, IsAllowedWithAWarningWhenConfigured) {
  if (server().via_pgbouncer && std::string_view(GetParam()) == "SUPERUSER") {
    GTEST_SKIP() << kNoSuperuserBehindPgBouncer;
  }
  const std::string role = std::string("routing-") + GetParam() + "@example.com";
  make_bypassing_role(role, GetParam());
  const LogCapture log;
  RoutingConfig c = config();
  c.allow_rls_bypass_roles = true;
  auto db = RoutingPool::create(std::move(c));

  auto as_role = db->as_user(shared_user(role));
  EXPECT_EQ(current_role(as_role), role);
  EXPECT_THAT(visible_owners(as_role), ::testing::SizeIs(3)) << "RLS does not apply: why it warns";
  EXPECT_THAT(log.text(), AllOf(HasSubstr("[warning]"), HasSubstr(role), HasSubstr(GetParam()),
                                HasSubstr("allow_rls_bypass_roles")));
}

INSTANTIATE_TEST_SUITE_P(RoutingIdentity, RoutingBypassRole,
                         ::testing::Values("BYPASSRLS", "SUPERUSER"),
                         [](const auto& param_info) { return std::string(param_info.param); });

}  // namespace
}  // namespace pgobo::test
