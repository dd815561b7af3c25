// A user's request never reaches the service principal's pool by mistake, and
// the service principal's never reaches a user's (issue #9, Security):
//   - the development fallback (HeaderOptions::allow_development_fallback):
//     off, a request without a token is refused before anything runs; on, it
//     runs as the service principal, and a request with a token still runs as
//     its user;
//   - a UserScope never leaks its user to the next job of a reused thread,
//     even when the job throws, nor to a coroutine's next thread after the
//     scope ended; a Task created without a user stays the service principal
//     even when a user's code awaits it;
//   - as_user() without a user refuses instead of falling back.
// And roles that bypass row-level security are refused for user pools by
// default also when they get SUPERUSER or BYPASSRLS after their pool exists:
// the pool's next new connection is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/task.hpp"
#include "secret_guard.hpp"
#include "test_routing.hpp"
#include "wait.hpp"
#include "worker_threads.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Headers = std::map<std::string, std::string>;

// Who ran a statement and how many notes row-level security let it see.
struct Seen {
  std::string role;
  int rows = 0;
  bool operator==(const Seen&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Seen& seen) {
  return out << seen.role << " seeing " << seen.rows << " rows";
}

constexpr const char* kCheck = "SELECT current_user, count(*) FROM app.notes";

template <class Router>
Seen who_runs(Router& db) {
  const pqxx::result r = db.query(kCheck);
  return Seen{r[0][0].as<std::string>(), r[0][1].as<int>()};
}

// The fixture's rows: alice owns 2, bob 1, the service principal sees all 3.
const Seen kAsService{kServiceRole, 3};
const Seen kAsAlice{kAlice, 2};
const Seen kAsBob{kBob, 1};

class SecurityRouting : public PgTest {
 protected:
  [[nodiscard]] RoutingConfig config() const { return routing_config(server()); }

  // What a request handler does: identity from the forwarded headers, then
  // the statement under that identity.
  static Seen handle_request(RoutingPool& db, const Headers& headers,
                             const HeaderOptions& options) {
    const UserScope scope(user_context_from_headers(headers, options));
    return who_runs(db);
  }

  static std::size_t statements_run(RoutingPool& db) {
    const RoutingStats s = db.stats();
    return static_cast<std::size_t>(s.service.acquired + s.users.acquired);
  }
};

// --- the development fallback ------------------------------------------------------

TEST_F(SecurityRouting, FallbackOffARequestWithoutATokenIsRefusedAndNothingRuns) {
  auto db = RoutingPool::create(config());
  const HeaderOptions production;  // the default
  ASSERT_FALSE(production.allow_development_fallback);

  for (const Headers& headers : {
           Headers{},
           Headers{{"x-forwarded-email", kAlice}, {"x-forwarded-user", "id-alice"}},
           Headers{{"x-forwarded-email", kAlice}, {"x-forwarded-access-token", ""}},
           Headers{{"x-forwarded-email", kAlice}, {"x-forwarded-access-token", " \t "}},
       }) {
    EXPECT_THROW((void)handle_request(*db, headers, production), AuthenticationError)
        << headers.size() << " headers";
  }

  EXPECT_EQ(statements_run(*db), 0U) << "no statement reached any pool";
  EXPECT_EQ(db->stats().users.pools, 0U);
  EXPECT_EQ(db->total_count(), 0U) << "the service principal's pool opened nothing";
  EXPECT_EQ(backends_of(kServiceRole), 0);
  EXPECT_EQ(backends_of(kAlice), 0);
}

TEST_F(SecurityRouting, FallbackOnARequestWithoutATokenRunsAsTheServicePrincipal) {
  auto db = RoutingPool::create(config());
  HeaderOptions development;
  development.allow_development_fallback = true;

  // Identity headers without a token do not make a user: the SP runs it.
  EXPECT_EQ(handle_request(*db, {}, development), kAsService);
  EXPECT_EQ(handle_request(*db, {{"x-forwarded-email", kAlice}}, development), kAsService);
  EXPECT_EQ(handle_request(*db, {{"x-forwarded-email", kAlice}, {"x-forwarded-access-token", ""}},
                           development),
            kAsService);

  EXPECT_EQ(db->stats().users.acquired, 0U) << "no user pool was used";
  EXPECT_EQ(db->stats().users.pools, 0U);
  EXPECT_EQ(backends_of(kAlice), 0);
  EXPECT_THAT(guarded_log_text(), HasSubstr("development fallback"))
      << "each fallback is logged as a warning";
}

TEST_F(SecurityRouting, FallbackOnARequestWithATokenStillRunsAsItsUser) {
  if (testing_set_role_mode())
    GTEST_SKIP()
        << "counts per-user pools (set_role mode has one shared pool; the SetRole suite checks it)";
  auto db = RoutingPool::create(config());
  HeaderOptions development;
  development.allow_development_fallback = true;
  const Headers alice{{"x-forwarded-email", kAlice},
                      {"x-forwarded-user", "id-alice"},
                      {"x-forwarded-access-token", "token-of-alice"}};
  const Headers bob{{"x-forwarded-user", kBob}, {"x-forwarded-access-token", "token-of-bob"}};

  // Interleaved with tokenless requests on the same thread.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(handle_request(*db, alice, development), kAsAlice);
    EXPECT_EQ(handle_request(*db, {}, development), kAsService);
    EXPECT_EQ(handle_request(*db, bob, development), kAsBob);
  }
  EXPECT_EQ(db->stats().service.acquired, 3U);
  EXPECT_EQ(db->stats().users.acquired, 6U);
  EXPECT_EQ(current_user_ptr(), nullptr);
}

TEST_F(SecurityRouting, AsUserWithoutAUserRefusesInsteadOfFallingBack) {
  auto db = RoutingPool::create(config());

  EXPECT_THROW((void)db->as_user(UserPtr{}), AuthenticationError);
  EXPECT_THROW((void)db->as_user(make_user_context("", "", "token")), AuthenticationError);
  EXPECT_EQ(statements_run(*db), 0U);
  EXPECT_EQ(backends_of(kServiceRole), 0);
}

// --- UserScope on reused threads and coroutines --------------------------------------

TEST_F(SecurityRouting, AUserScopeNeverLeaksToTheNextJobOnTheSameThread) {
  if (testing_set_role_mode())
    GTEST_SKIP()
        << "counts per-user pools (set_role mode has one shared pool; the SetRole suite checks it)";
  auto db = RoutingPool::create(config());
  WorkerThreads worker(1);  // one thread: every job reuses it

  auto unbound = [&] {
    return worker.run([&] {
      EXPECT_EQ(current_user_ptr(), nullptr);
      return who_runs(*db);
    });
  };

  EXPECT_EQ(worker.run([&] {
    const UserScope scope(shared_user(kAlice));
    return who_runs(*db);
  }),
            kAsAlice);
  EXPECT_EQ(unbound(), kAsService);

  // A job that throws inside its scope.
  EXPECT_THROW(worker.run([&] {
    const UserScope scope(shared_user(kAlice));
    (void)who_runs(*db);
    throw std::runtime_error("the handler failed");
  }),
               std::runtime_error);
  EXPECT_EQ(unbound(), kAsService);

  // A bound job that throws; a bound job whose statement fails on the server.
  auto bound_failing = [&] {
    const UserScope scope(shared_user(kBob));
    return bind_context([&] {
      (void)who_runs(*db);
      throw std::runtime_error("the bound job failed");
    });
  }();
  EXPECT_THROW(worker.run(std::move(bound_failing)), std::runtime_error);
  EXPECT_EQ(unbound(), kAsService);
  auto bound_sql_error = [&] {
    const UserScope scope(shared_user(kBob));
    return bind_context([&] { (void)db->query("SELECT no_such_column FROM app.notes"); });
  }();
  EXPECT_THROW(worker.run(std::move(bound_sql_error)), pqxx::sql_error);
  EXPECT_EQ(unbound(), kAsService);

  EXPECT_EQ(db->stats().service.acquired, 4U) << "the four unbound jobs, nothing else";
  EXPECT_EQ(current_user_ptr(), nullptr);
}

TEST_F(SecurityRouting, ACoroutineResumedElsewhereAfterItsScopeEndedKeepsItsUserAndLeavesNoTrace) {
  auto db = RoutingPool::create(config());
  WorkerThreads workers(2);

  // Created for alice; alice's scope ends before it even starts.
  auto queries_on_a_worker = [&]() -> Task<std::vector<Seen>> {
    std::vector<Seen> seen;
    seen.push_back(who_runs(*db));  // on the awaiting thread
    co_await ResumeOn{workers};
    EXPECT_TRUE(workers.runs_here());
    seen.push_back(who_runs(*db));
    {
      const UserScope inner(shared_user(kBob));  // a scope held across a hop
      co_await ResumeOn{workers};
      seen.push_back(who_runs(*db));
    }
    seen.push_back(who_runs(*db));  // back to alice after bob's scope
    co_return seen;
  };
  Task<std::vector<Seen>> task = [&] {
    const UserScope scope(shared_user(kAlice));
    return queries_on_a_worker();
  }();
  ASSERT_EQ(current_user_ptr(), nullptr);

  EXPECT_THAT(sync_wait(std::move(task)),
              ::testing::ElementsAre(kAsAlice, kAsAlice, kAsBob, kAsAlice));
  EXPECT_EQ(current_user_ptr(), nullptr) << "the awaiting thread";
  for (int i = 0; i < 4; ++i) {  // both workers, whichever resumed the Task
    EXPECT_EQ(workers.run([&] {
      EXPECT_EQ(current_user_ptr(), nullptr);
      return who_runs(*db);
    }),
              kAsService);
  }
}

TEST_F(SecurityRouting, ATaskCreatedAsTheServicePrincipalStaysItWhenAUserAwaitsIt) {
  auto db = RoutingPool::create(config());
  WorkerThreads workers(1);

  auto as_created = [&]() -> Task<Seen> {
    co_await ResumeOn{workers};
    co_return who_runs(*db);
  };
  Task<Seen> service_task = as_created();  // no user: the service principal's
  auto alice_awaits = [&](Task<Seen> inner) -> Task<std::pair<Seen, Seen>> {
    const Seen before = who_runs(*db);
    const Seen awaited = co_await std::move(inner);
    co_return std::pair{before, awaited};
  };
  Task<std::pair<Seen, Seen>> outer = [&] {
    const UserScope scope(shared_user(kAlice));
    return alice_awaits(std::move(service_task));
  }();

  const auto [before, awaited] = sync_wait(std::move(outer));
  EXPECT_EQ(before, kAsAlice);
  EXPECT_EQ(awaited, kAsService) << "a Task acts for its creator, not for whoever awaits it";
}

// --- roles that become RLS-bypassing after their pool exists ---------------------------

class SecurityLateBypass : public SecurityRouting,
                           public ::testing::WithParamInterface<const char*> {};

TEST_P(SecurityLateBypass, TheNextNewConnectionIsRefused) {
  if (server().via_pgbouncer && std::string_view(GetParam()) == "SUPERUSER") {
    GTEST_SKIP() << kNoSuperuserBehindPgBouncer;
  }
  ASSERT_FALSE(RoutingConfig{}.allow_rls_bypass_roles) << "refused by default";
  RoutingConfig c = config();
  c.user_pool.max_size = 2;
  auto db = RoutingPool::create(std::move(c));
  auto alice = db->as_user(shared_user(kAlice));
  // The pool exists, with one connection in use.
  auto held_lease = std::make_optional<Lease>(alice.connect());
  ASSERT_EQ(backends_of(kAlice), 1);
  {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec(std::string("ALTER ROLE ") + tx.quote_name(kAlice) + " " + GetParam());
  }

  try {
    const Lease second = alice.connect();  // needs a new connection
    FAIL() << "a new " << GetParam() << " connection was leased";
  } catch (const UnsafeRole& e) {
    EXPECT_THAT(e.what(), HasSubstr(GetParam()));
  }
  EXPECT_TRUE(eventually([&] { return backends_of(kAlice) == 1; }))
      << "the refused connection was closed";

  // Once the role is safe again, the user is served again.
  {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec(std::string("ALTER ROLE ") + tx.quote_name(kAlice) + " NOSUPERUSER NOBYPASSRLS");
  }
  held_lease.reset();
  EXPECT_EQ(who_runs(alice), kAsAlice);
}

// PostgreSQL applies a new SUPERUSER/BYPASSRLS attribute to sessions already
// logged in (the planner reads pg_authid on every query), so a connection
// opened before the grant would now see every row. With validate_idle_after
// set, the check before lending an idle connection is the RLS-bypass check
// (PqxxDriver::ping), so that connection is closed, not lent, and the new one
// is refused at login. (Without validation the check runs only at login: see
// docs/security.md for what to do after changing a role.)
TEST_P(SecurityLateBypass, AnIdleConnectionOpenedBeforeTheGrantIsClosedNotLent) {
  if (server().via_pgbouncer && std::string_view(GetParam()) == "SUPERUSER") {
    GTEST_SKIP() << kNoSuperuserBehindPgBouncer;
  }
  RoutingConfig c = config();
  c.user_pool.validate_idle_after = 0ms;  // check before every lease
  auto db = RoutingPool::create(std::move(c));
  auto alice = db->as_user(shared_user(kAlice));
  ASSERT_EQ(who_runs(alice), kAsAlice);  // leaves one idle connection
  ASSERT_EQ(backends_of(kAlice), 1);
  {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec(std::string("ALTER ROLE ") + tx.quote_name(kAlice) + " " + GetParam());
  }

  try {
    const Seen seen = who_runs(alice);
    FAIL() << "a request ran on a " << GetParam() << " connection and saw " << seen.rows << " rows";
  } catch (const UnsafeRole& e) {
    EXPECT_THAT(e.what(), HasSubstr(GetParam()));
  }
  EXPECT_TRUE(eventually([&] { return backends_of(kAlice) == 0; }))
      << "the old connection and the refused one were both closed";
}

INSTANTIATE_TEST_SUITE_P(SecurityRouting, SecurityLateBypass,
                         ::testing::Values("BYPASSRLS", "SUPERUSER"),
                         [](const auto& param_info) { return std::string(param_info.param); });

}  // namespace
}  // namespace pgobo::test
