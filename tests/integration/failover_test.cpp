// Failover between two servers listed in one ConnectionParams (host and
// additional_hosts: libpq's host=a,b port=…). On two private servers
// (private_pg.hpp), the shared one must stay up.
//
// Under load (4 threads, the service principal and a user), the first server
// stops after 100 requests; the load goes on for 200 more. Requests in flight at that moment may
// fail; every request that starts after the stop has returned must succeed, on the second server:
// the pools see locally that the server closed their idle connections
// (PqxxDriver::closed_by_server, one poll() per lend, no validate_idle_after), and libpq moves new
// logins on to the next host. Every lease is checked for the port it is connected to (PQport) and
// the port the server says it listens on (inet_server_port()).
//
// A login failing on every server names them all. target_session_attrs=
// read-write skipping a hot standby: read_replica_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/routing_pool.hpp"
#include "private_pg.hpp"
#include "secret_guard.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

// Runs under the shared fixture only for its rule on a missing server.
class Failover : public PgTest {
 protected:
  static void add_roles(PrivatePg& pg) {
    pg.create_login_role(kServiceRole);
    pg.create_login_role(kAlice);
  }

  static HostPort second(const PrivatePg& pg) {
    return HostPort{pg.server().host, static_cast<std::uint16_t>(pg.server().port)};
  }
};

// The port a lease's connection is on, as libpq and as the server say.
struct Where {
  int libpq_port = 0;
  int server_port = 0;
};

Where where_is(Pool::Lease& lease) {
  Where where;
  where.libpq_port = std::stoi(lease->port());
  pqxx::nontransaction tx(*lease);
  where.server_port = tx.exec("SELECT inet_server_port()")[0][0].as<int>();
  return where;
}

TEST_F(Failover, StoppingTheFirstServerMovesEveryPoolToTheSecondWithoutFailingALaterRequest) {
  constexpr int kThreads = 4;
  constexpr int kStopAfter = 100;  // requests done before the first server stops
  constexpr int kAfterStop = 200;  // requests started after the stop returned
  constexpr auto kBound = 15s;     // the load ends by then whatever happens
  PrivatePg first;
  PrivatePg second_pg;
  add_roles(first);
  add_roles(second_pg);
  const int first_port = first.server().port;
  const int second_port = second_pg.server().port;

  auto setup = make_counted_router(first.server(), "pgobo-failover", [&](PoolOptions& p) {
    p.connection.additional_hosts = {second(second_pg)};
    p.max_size = 2;
    p.acquire_timeout = 5s;
    p.connect_backoff_max = 500ms;
    p.connection.connect_timeout = 2s;
    // No validate_idle_after: the local look (closed_by_server) alone.
  });
  RoutingPool& db = *setup.router;
  const auto alice =
      std::make_shared<const UserContext>(make_user_context("id-alice", kAlice, "token-of-alice"));

  std::atomic<int> next{0};
  std::atomic<int> started_after{0};  // requests begun after the stop returned
  std::atomic<int> done{0};
  std::atomic<bool> stopped{false};  // set once first.stop() has returned
  std::mutex mutex;
  int failed_before = 0;
  int failed_after = 0;
  int on_first_after = 0;
  int after = 0;
  std::string first_failure_after;
  std::atomic<bool> stopping{false};  // set just before first.stop()
  FaultClock::time_point stop_began{};
  FaultClock::time_point stop_returned{};
  FaultClock::time_point first_on_second{};  // the first request served by the second
  FaultClock::duration slowest_after{};
  const auto started = FaultClock::now();

  auto worker = [&] {
    const auto deadline = FaultClock::now() + kBound;
    for (int i = next++; FaultClock::now() < deadline; i = next++) {
      const bool after_stop = stopped.load();
      if (after_stop && started_after.fetch_add(1) >= kAfterStop) break;
      const bool during_stop = stopping.load();
      const auto request_started = FaultClock::now();
      const bool as_alice = i % 2 == 1;
      const UserScope scope(as_alice ? alice : nullptr);
      try {
        Where where;
        if (i % 4 < 2) {
          auto lease = db.connect();
          where = where_is(lease);
        } else {
          where.server_port = db.query("SELECT inet_server_port()")[0][0].as<int>();
          where.libpq_port = where.server_port;
        }
        const std::lock_guard lock(mutex);
        if (during_stop && where.server_port == second_port &&
            first_on_second == FaultClock::time_point{}) {
          first_on_second = FaultClock::now();
        }
        if (after_stop) {
          slowest_after = std::max(slowest_after, FaultClock::now() - request_started);
          ++after;
          if (where.libpq_port != second_port || where.server_port != second_port) {
            ++on_first_after;
          }
        }
      } catch (const std::exception& e) {
        const std::lock_guard lock(mutex);
        if (after_stop) {
          if (failed_after++ == 0) first_failure_after = e.what();
        } else {
          ++failed_before;
        }
      }
      ++done;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker);
  const bool reached = poll_until([&] { return done.load() >= kStopAfter; }, 10s, 1ms);
  stop_began = FaultClock::now();
  stopping = true;
  first.stop();
  stop_returned = FaultClock::now();
  stopped = true;
  for (auto& thread : threads) thread.join();
  const auto total = FaultClock::now() - started;

  ASSERT_TRUE(reached);
  EXPECT_EQ(failed_after, 0) << "first: " << first_failure_after;
  EXPECT_EQ(on_first_after, 0);
  EXPECT_EQ(after, kAfterStop) << "the load went on after the stop until its count";
  EXPECT_LT(total, 20s);
  const auto ms = [](FaultClock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << "[ measured ] stop (pg_ctl -m fast) took " << ms(stop_returned - stop_began)
            << " ms; first request on the second server " << ms(first_on_second - stop_began)
            << " ms after the stop began; " << failed_before
            << " request(s) failed before the stop returned, " << failed_after << " after it; "
            << after << " after the stop, all on port " << second_port << " (first was "
            << first_port << "), the slowest " << ms(slowest_after) << " ms; "
            << setup.attempts->load() << " login attempts; total " << ms(total) << " ms\n";

  // Every connection the pools hold now, leased at once, is on the second.
  for (const UserPtr& user : {UserPtr{}, UserPtr(alice)}) {
    const UserScope scope(user);
    auto a = db.connect();
    auto b = db.connect();
    EXPECT_EQ(where_is(a).server_port, second_port);
    EXPECT_EQ(where_is(b).server_port, second_port);
    EXPECT_EQ(std::stoi(a->port()), second_port);
    EXPECT_EQ(std::stoi(b->port()), second_port);
  }
  // Connections the stop closed, found on release or before a lend.
  std::uint64_t broken = db.stats().service.closed.broken;
  for (const PoolStats& pool : db.manager().pool_stats()) broken += pool.closed.broken;
  std::cout << "[ measured ] connections closed as broken: " << broken << "\n";
}

// The exact interleaving: two idle connections on the first server, the
// server stops, the next lease. Without the local look it would be one of
// the dead connections, and its first statement would fail.
TEST_F(Failover, IdleConnectionsToAStoppedServerAreClosedNotLentAndNoServerLeftNamesThemAll) {
  PrivatePg first;
  PrivatePg second_pg;
  add_roles(first);
  add_roles(second_pg);
  auto setup = make_counted_router(first.server(), "pgobo-failover-idle", [&](PoolOptions& p) {
    p.connection.additional_hosts = {second(second_pg)};
    p.max_size = 2;
  });
  Pool& pool = setup.router->service_pool();
  {
    auto a = pool.connect();
    auto b = pool.connect();
    ASSERT_EQ(where_is(a).server_port, first.server().port);
    ASSERT_EQ(where_is(b).server_port, first.server().port);
  }
  ASSERT_EQ(pool.idle_count(), 2U);
  first.stop();

  {
    auto lease = pool.connect();
    EXPECT_EQ(std::stoi(lease->port()), second_pg.server().port);
    EXPECT_EQ(where_is(lease).server_port, second_pg.server().port);
    EXPECT_EQ(pool.stats().closed.broken, 2U);
    EXPECT_EQ(pool.stats().closed.validation_failed, 0U) << "no ping: validate_idle_after is unset";
  }

  // And with no server left, the error names every server, never a password.
  second_pg.stop();
  try {
    (void)setup.router->query("SELECT 1");
    ADD_FAILURE() << "no error";
  } catch (const ServerUnavailable& e) {
    const std::string message = e.what();
    EXPECT_THAT(message,
                ::testing::HasSubstr("could not connect to any of " + to_string(second(first)) +
                                     ", " + to_string(second(second_pg))));
    EXPECT_THAT(known_secrets_in(message), ::testing::IsEmpty());
  }
}

}  // namespace
}  // namespace pgobo::test
