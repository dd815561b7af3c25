// pgobo behind PgBouncer in transaction pooling mode (scripts/pgbouncer):
// what transaction pooling changes for a pool of pools, tested against a real
// PgBouncer 1.18 in front of the real server. Runs only through PgBouncer
// (ctest label pgbouncer); the routing, isolation, rotation, fault and
// shutdown suites run there too (tests/CMakeLists.txt).
//
// - Server settings at login (`options`) are refused by PgBouncer: pgobo says
//   so with a ConnectError naming the settings and where they belong instead
//   (the role), and the role's settings do reach every lease.
// - application_name is carried by PgBouncer into each transaction.
// - A cancel request reaches the statement through PgBouncer.
// - Session state one user leaves outside a transaction (PgBouncer does not
//   reset it, and pgobo's session reset may run on another server connection)
//   can reach that user's later transactions, but never another user's:
//   PgBouncer keeps one pool per user.
// - Several routers (service replicas) behind one PgBouncer: the server sees
//   at most PgBouncer's max_db_connections while pgobo holds many more client
//   connections, and no request fails (the numbers of docs/operations.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "log_capture.hpp"
#include "measure.hpp"
#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/pqxx_pool.hpp"
#include "pgobo/routing_pool.hpp"
#include "private_pgbouncer.hpp"
#include "test_routing.hpp"
#include "test_users.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class PgBouncer : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (!server().via_pgbouncer) GTEST_SKIP() << "runs through PgBouncer only (ctest -L pgbouncer)";
  }

  void TearDown() override {
    if (!PgServer::get()) return;
    // Role settings must not reach later tests.
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER ROLE " + tx.quote_name(kAlice) + " RESET ALL");
  }

  [[nodiscard]] PoolOptions options_for(const std::string& role, std::uint16_t port = 0) const {
    PoolOptions options;
    options.name = "bouncer-" + role;
    options.connection.host = server().pool_host;
    options.connection.port = port != 0 ? port : static_cast<std::uint16_t>(server().pool_port);
    options.connection.dbname = server().database;
    options.connection.user = role;
    options.connection.sslmode = SslMode::disable;
    options.connection.connect_timeout = 5s;
    options.credentials = std::make_shared<StaticPassword>(Secret{password_for(role)});
    options.max_size = 2;
    options.acquire_timeout = 5s;
    options.connect_backoff_max = 0ms;
    return options;
  }

  static std::string scalar(Pool& pool, const std::string& sql) {
    return pool.query(sql)[0][0].as<std::string>();
  }
};

TEST_F(PgBouncer, LoginSettingsAreRefusedWithAConnectErrorThatSaysWhereTheyBelong) {
  LogCapture log;
  auto options = options_for(kAlice);
  options.connection.settings = {{"statement_timeout", "5s"}};
  Pool pool(options);

  try {
    (void)pool.connect();
    FAIL() << "PgBouncer accepted the options startup parameter";
  } catch (const AuthenticationFailed& e) {
    FAIL() << "a refused parameter is no wrong password: " << e.what();
  } catch (const ServerUnavailable& e) {
    FAIL() << "a refused parameter is not transient: " << e.what();
  } catch (const ConnectError& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("unsupported startup parameter: options"));
    EXPECT_THAT(what, HasSubstr("PGOBO_STATEMENT_TIMEOUT_MS"));
    EXPECT_THAT(what, HasSubstr("ALTER ROLE"));
    EXPECT_THAT(what, Not(HasSubstr(password_for(kAlice))));
  }
  EXPECT_THAT(log.text(), Not(HasSubstr(password_for(kAlice))));
}

TEST_F(PgBouncer, TheRolesOwnSettingsReachEveryLease) {
  {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER ROLE " + tx.quote_name(kAlice) + " SET statement_timeout = '1234ms'");
  }
  // PgBouncer's server connections of alice log in after the change (the
  // fixture ended every backend of alice before the test).
  auto options = options_for(kAlice);
  options.max_size = 2;
  Pool pool(options);

  for (int i = 0; i < 10; ++i) EXPECT_EQ(scalar(pool, "SHOW statement_timeout"), "1234ms");
  std::vector<Lease> both;
  for (int i = 0; i < 2; ++i) both.push_back(pool.connect());
  for (auto& lease : both) {
    pqxx::work tx(*lease);
    EXPECT_EQ(tx.exec("SHOW statement_timeout")[0][0].as<std::string>(), "1234ms");
  }
}

TEST_F(PgBouncer, ApplicationNameReachesTheServerInEveryTransaction) {
  auto sp = options_for(kAlice);
  sp.connection.application_name = "pgobo-bouncer-app";
  Pool app(sp);
  auto other = options_for(kAlice);
  other.connection.application_name = "pgobo-bouncer-other";
  Pool neighbour(other);

  // The two pools of one role share PgBouncer's server connections; each
  // transaction carries its client's name.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(scalar(app, "SELECT current_setting('application_name')"), "pgobo-bouncer-app");
    EXPECT_EQ(scalar(neighbour, "SELECT current_setting('application_name')"),
              "pgobo-bouncer-other");
  }
}

TEST_F(PgBouncer, ACancelReachesTheStatementAndTheLeaseStaysUsable) {
  auto options = options_for(kAlice);
  options.max_size = 1;
  Pool pool(options);
  Lease lease = pool.connect();

  std::atomic<bool> cancelled{false};
  std::string error;
  std::thread statement([&] {
    try {
      pqxx::nontransaction tx(*lease);
      tx.exec("SELECT pg_sleep(30)");
    } catch (const pqxx::sql_error& e) {
      cancelled = true;
      error = e.sqlstate();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  // Cancel once the server runs it (seen from the server, not PgBouncer).
  const bool running = poll_until(
      [&] {
        auto conn = superuser();
        pqxx::nontransaction tx(conn);
        return pgobo::pqxx_compat::exec_params(
                   tx,
                   "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 "
                   "AND query = 'SELECT pg_sleep(30)' AND state = 'active'",
                   std::string(kAlice))[0][0]
                   .as<int>() == 1;
      },
      10s);
  if (running) lease->cancel_query();
  statement.join();

  ASSERT_TRUE(running);
  EXPECT_TRUE(cancelled) << error;
  EXPECT_EQ(error, "57014");  // query_canceled
  pqxx::nontransaction tx(*lease);
  EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
}

TEST_F(PgBouncer, SessionStateOneUserLeavesNeverReachesAnotherUser) {
  auto alice_options = options_for(kAlice);
  alice_options.max_size = 2;
  // pgobo's own reset off, so what alice leaves surely stays on PgBouncer's
  // server connections (with it on, it runs on whichever one PgBouncer picks).
  alice_options.session_reset = pgobo::SessionReset::never;
  Pool alice(alice_options);
  Pool bob(options_for(kBob));

  // Outside a transaction: a session setting on whichever server connection
  // PgBouncer lent alice for that statement.
  for (int i = 0; i < 5; ++i) {
    Lease lease = alice.connect();
    pqxx::nontransaction tx(*lease);
    tx.exec("SET app.left_by = 'alice'");
  }
  int alice_saw = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(scalar(bob, "SELECT coalesce(current_setting('app.left_by', true), '')"), "");
    EXPECT_EQ(scalar(bob, "SELECT current_user"), kBob);
    if (scalar(alice, "SELECT coalesce(current_setting('app.left_by', true), '')") == "alice") {
      ++alice_saw;
    }
  }
  EXPECT_GT(alice_saw, 0) << "the leftover stayed on alice's server connections";
  report(
      "alice's later statements that saw her own leftover setting: " + std::to_string(alice_saw) +
      " of 20 (PgBouncer does not reset sessions in transaction "
      "mode; bob saw it in 0 of 20)");
}

// Three routers, as three replicas of one service, each with per-user pools
// of 3 for 8 users, behind one PgBouncer that lets at most 6 server
// connections in (2 per user and database, 6 for the database).
TEST_F(PgBouncer, ManyRoutersBehindOnePgBouncerStayWithinItsServerLimit) {
  constexpr int kRouters = 3;
  constexpr int kUsers = 8;
  constexpr int kThreadsPerRouter = 6;
  constexpr int kQueriesPerThread = 60;
  constexpr int kMaxDbConnections = 6;
  PrivatePgBouncer bouncer("default_pool_size=2;max_db_connections=" +
                           std::to_string(kMaxDbConnections) + ";query_wait_timeout=20");
  const auto users = make_users("bnc", kUsers);

  std::vector<std::unique_ptr<RoutingPool>> routers;
  for (int r = 0; r < kRouters; ++r) {
    RoutingConfig c = routing_config(server(), "pgobo-replica-" + std::to_string(r), 1);
    c.service.pool.connection.port = bouncer.port();
    c.user_pool.max_size = 3;
    c.user_pool.acquire_timeout = 20s;
    routers.push_back(RoutingPool::create(std::move(c)));
  }

  std::atomic<bool> stopping{false};
  int server_peak = 0;
  int client_peak = 0;
  std::thread sampler([&] {
    auto at_server = ConnectionCensus::at_server(server().superuser_conninfo());
    auto at_bouncer = bouncer.census();
    while (!stopping) {
      int backends = 0;
      for (const auto& [role, n] : at_server.by_role("bnc")) backends += n;
      int clients = 0;
      for (const auto& [role, n] : at_bouncer.by_role("bnc")) clients += n;
      server_peak = std::max(server_peak, backends);
      client_peak = std::max(client_peak, clients);
      std::this_thread::sleep_for(2ms);
    }
  });

  std::atomic<int> failures{0};
  std::atomic<int> mismatches{0};
  std::string first_failure;
  std::mutex first_failure_mutex;
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int r = 0; r < kRouters; ++r) {
    for (int t = 0; t < kThreadsPerRouter; ++t) {
      threads.emplace_back([&, r, t] {
        for (int i = 0; i < kQueriesPerThread; ++i) {
          const UserPtr& user = users[static_cast<std::size_t>((t * 7 + i) % kUsers)];
          try {
            const auto rows = routers[static_cast<std::size_t>(r)]->as_user(user).query(
                "SELECT current_user, pg_sleep(0.002)");
            if (rows[0][0].as<std::string>() != user->key()) ++mismatches;
          } catch (const std::exception& e) {
            if (failures++ == 0) {
              const std::lock_guard lock(first_failure_mutex);
              first_failure = e.what();
            }
          }
        }
      });
    }
  }
  for (auto& thread : threads) thread.join();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  stopping = true;
  sampler.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(server_peak, kMaxDbConnections) << "PgBouncer's max_db_connections holds";
  EXPECT_GT(client_peak, kMaxDbConnections) << "pgobo held more connections than the server saw";
  std::size_t open = 0;
  for (const auto& router : routers) open += router->stats().users.connections;
  report(std::to_string(kRouters * kThreadsPerRouter * kQueriesPerThread) + " queries from " +
         std::to_string(kRouters) + " routers x " + std::to_string(kUsers) + " users in " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
         " ms; pgobo's connections to PgBouncer at most " + std::to_string(client_peak) +
         ", the server's backends at most " + std::to_string(server_peak) +
         " (max_db_connections " + std::to_string(kMaxDbConnections) +
         "); user connections open at the end " + std::to_string(open));
}

}  // namespace
}  // namespace pgobo::test
