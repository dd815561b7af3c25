// PoolManager::set_max_total_connections over FakeDriver: a lowered limit
// closes idle connections over it at once, leaves leases out alone and closes
// them as they come back; a raised one serves the callers waiting for room.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fake_pool_test.hpp"
#include "pgobo/pool_manager.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using Manager = FakeManager;

UserContext user(const std::string& email) {
  return make_user_context("id-" + email, email, "token-1");
}

class PoolManagerLimit : public FakePoolTest {
 protected:
  Manager::Options options(std::size_t start) {
    Manager::Options o = fake_manager_options();
    o.user_pool.max_size = 3;
    o.user_pool.idle_timeout = 30s;
    o.max_total_connections = start;
    o.max_total_connections_adjustable = true;
    o.credentials_for = [](const UserContext& u) {
      return std::make_shared<StaticPassword>(Secret("pw-for-" + u.key()));
    };
    return o;
  }
};

TEST_F(PoolManagerLimit, LoweredItClosesIdleConnectionsOverItAndLeavesLeasesOut) {
  Manager manager(options(6), driver);
  auto alice = manager.get_pool(user("alice@example.com"));
  auto bob = manager.get_pool(user("bob@example.com"));
  auto a1 = alice->connect();
  auto a2 = alice->connect();
  { auto b1 = bob->connect(), b2 = bob->connect(), b3 = bob->connect(); }  // 3 idle
  ASSERT_EQ(driver.open_now(), 5U);

  const std::size_t closed = manager.set_max_total_connections(2);

  EXPECT_EQ(closed, 3U);  // bob's idle ones: 5 - 3 = 2, the leases out
  EXPECT_EQ(driver.open_now(), 2U);
  EXPECT_TRUE(a1);
  EXPECT_TRUE(a2);
  EXPECT_EQ(manager.stats().max_total_connections, 2U);
  EXPECT_EQ(manager.stats().connection_evictions, 0U);  // not for a waiter
  EXPECT_EQ(bob->stats().closed.evicted, 3U);
}

TEST_F(PoolManagerLimit, LeasesComingBackOverTheLimitCloseEvenWithACallerWaiting) {
  Manager manager(options(3), driver);
  auto alice = manager.get_pool(user("alice@example.com"));
  auto a1 = alice->connect();
  auto a2 = alice->connect();
  auto a3 = alice->connect();
  EXPECT_EQ(manager.set_max_total_connections(1), 0U);  // nothing idle to close
  EXPECT_EQ(driver.open_now(), 3U);
  std::atomic<bool> served{false};
  std::thread carol([&] {
    auto lease = alice->connect();  // waits in alice's pool
    served = true;
  });
  ASSERT_TRUE(eventually([&] { return alice->waiting_count() == 1U; }));

  a1.release();  // 3 > 1: closed, not handed to the caller waiting
  EXPECT_EQ(driver.open_now(), 2U);
  EXPECT_FALSE(served.load());
  a2.release();  // 2 > 1: closed as well
  EXPECT_EQ(driver.open_now(), 1U);
  EXPECT_FALSE(served.load());
  a3.release();  // at the limit: the caller gets a connection (reopened under it)
  carol.join();
  EXPECT_TRUE(served.load());
  EXPECT_LE(driver.open_now(), 1U);
  EXPECT_EQ(manager.budget_in_use(), driver.open_now());
}

TEST_F(PoolManagerLimit, RaisedItServesCallersWaitingForRoom) {
  Manager manager(options(0), driver);  // nothing until the first share
  std::atomic<bool> served{false};
  std::thread alice([&] {
    manager.get_pool(user("alice@example.com"))->query("SELECT 1");
    served = true;
  });
  ASSERT_TRUE(eventually([&] { return manager.stats().budget_waiting == 1U; }));
  EXPECT_FALSE(served.load());

  manager.set_max_total_connections(2);

  alice.join();
  EXPECT_TRUE(served.load());
  EXPECT_EQ(manager.stats().max_total_connections, 2U);
  EXPECT_TRUE(manager.stats().max_total_connections_adjustable);
}

TEST_F(PoolManagerLimit, AFixedLimitCannotBeMoved) {
  auto o = options(3);
  o.max_total_connections_adjustable = false;
  Manager manager(std::move(o), driver);
  EXPECT_THROW(manager.set_max_total_connections(1), ConfigError);
}

TEST_F(PoolManagerLimit, AnAdjustableLimitMayStartBelowTheUserPoolSize) {
  EXPECT_NO_THROW(Manager(options(1), driver));
  auto o = options(1);
  o.max_total_connections_adjustable = false;
  EXPECT_THROW(Manager(std::move(o), driver), ConfigError);
}

// Requests of several users keep running while the limit moves under them:
// none fails (each waits within its acquire deadline), and once the limit
// settles the connections open are within it.
TEST_F(PoolManagerLimit, RequestsKeepSucceedingWhileTheLimitMoves) {
  auto o = options(4);
  o.user_pool.acquire_timeout = 30s;
  Manager manager(std::move(o), driver);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> users;
  for (int u = 0; u < 4; ++u) {
    users.emplace_back([&, u] {
      const auto who = user("user" + std::to_string(u) + "@example.com");
      for (int i = 0; i < 300; ++i) {
        try {
          auto lease = manager.connect(who);
        } catch (const std::exception&) {
          ++failures;
        }
      }
      ++done;
    });
  }
  std::thread mover([&] {
    for (std::size_t i = 0; !stop.load(); ++i) manager.set_max_total_connections(1 + i % 5);
  });
  for (auto& t : users) t.join();
  stop = true;
  mover.join();
  manager.set_max_total_connections(2);

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(done.load(), 4);
  EXPECT_LE(driver.open_now(), 2U);
  EXPECT_LE(driver.peak_open(), 5U);
}

}  // namespace
}  // namespace pgobo::test
