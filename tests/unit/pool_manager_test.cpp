// PoolManager over FakeDriver: one pool per user, rebuilds, draining,
// sweeping and the global limits. The same rules against a real server are
// in tests/integration/routing_*_test.cpp.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fake_pool_test.hpp"
#include "pgobo/pool_manager.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using Manager = FakeManager;

UserContext user(const std::string& email, const std::string& token = "token-1") {
  return make_user_context("id-" + email, email, token);
}

// A request is queued for room under max_pools (the pool budget).
template <class M>
bool bob_waiting(const M& manager) {
  return manager.stats().pool_budget_waiting == 1U;
}

class PoolManagerTest : public FakePoolTest {
 protected:
  Manager::Options options() {
    Manager::Options o = fake_manager_options();
    o.user_pool.idle_timeout = 30s;
    o.credentials_for = [this](const UserContext& u) {
      ++credential_providers_built;
      return std::make_shared<StaticPassword>(Secret("pw-for-" + u.key()));
    };
    return o;
  }

  std::atomic<int> credential_providers_built{0};
};

TEST_F(PoolManagerTest, ConcurrentFirstRequestsForAKeyCreateExactlyOnePool) {
  Manager manager(options(), driver);
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::vector<std::shared_ptr<Manager::Pool>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      seen[static_cast<std::size_t>(i)] = manager.get_pool(user("alice@example.com"));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& pool : seen) EXPECT_EQ(pool, seen.front());
  EXPECT_EQ(manager.size(), 1U);
  EXPECT_EQ(manager.stats().pools_created, 1U);
  EXPECT_EQ(credential_providers_built.load(), 1);
}

TEST_F(PoolManagerTest, EachKeyGetsItsOwnPoolLoggingInAsTheKeyWithItsOwnCredentials) {
  Manager manager(options(), driver);
  auto alice = manager.get_pool(user("alice@example.com"));
  auto bob = manager.get_pool(user("bob@example.com"));
  ASSERT_NE(alice, bob);
  EXPECT_EQ(alice->options().connection.user, "alice@example.com");
  EXPECT_EQ(bob->options().connection.user, "bob@example.com");
  EXPECT_EQ(alice->options().max_size, 3U);

  alice->query("SELECT 1");
  bob->query("SELECT 1");
  EXPECT_EQ(driver.passwords(),
            (std::vector<std::string>{"pw-for-alice@example.com", "pw-for-bob@example.com"}));
  EXPECT_TRUE(manager.has_pool("alice@example.com"));
  EXPECT_FALSE(manager.has_pool("carol@example.com"));
}

TEST_F(PoolManagerTest, KeyIsTheUserIdWhenThereIsNoEmail) {
  Manager manager(options(), driver);
  auto pool = manager.get_pool(make_user_context("u-42", "", "token"));
  EXPECT_EQ(pool->options().connection.user, "u-42");
  EXPECT_TRUE(manager.has_pool("u-42"));
}

TEST_F(PoolManagerTest, RoleMappingDecidesTheLoginRole) {
  auto o = options();
  o.role_for = [](const UserContext& u) { return "app_" + u.user_id(); };
  Manager manager(std::move(o), driver);
  EXPECT_EQ(manager.get_pool(user("alice@example.com"))->options().connection.user,
            "app_id-alice@example.com");
}

TEST_F(PoolManagerTest, FingerprintChangeRebuildsPoolOnce) {
  Manager manager(options(), driver);
  auto first = manager.get_pool(user("alice@example.com", "token-1"));
  auto second = manager.get_pool(user("alice@example.com", "token-2"));
  EXPECT_NE(first, second);
  EXPECT_EQ(manager.get_pool(user("alice@example.com", "token-2")), second);
  EXPECT_EQ(manager.stats().rebuilds, 1U);
  EXPECT_EQ(manager.size(), 1U);
  EXPECT_THROW((void)first->connect(), PoolClosed);  // draining: takes no new work
}

TEST_F(PoolManagerTest, InterleavedTokensRebuildOncePerDistinctToken) {
  Manager manager(options(), driver);
  std::shared_ptr<Manager::Pool> last;
  for (int i = 0; i < 20; ++i) {
    last = manager.get_pool(user("alice@example.com", i % 2 == 0 ? "token-old" : "token-new"));
  }
  EXPECT_EQ(manager.stats().rebuilds, 1U);
  EXPECT_EQ(manager.get_pool(user("alice@example.com", "token-new")), last);
  (void)manager.get_pool(user("alice@example.com", "token-third"));
  EXPECT_EQ(manager.stats().rebuilds, 2U);
}

TEST_F(PoolManagerTest, ReplacedPoolServesItsWaitersAndLeasesThenCloses) {
  auto o = options();
  o.user_pool.max_size = 1;
  Manager manager(std::move(o), driver);
  auto old_pool = manager.get_pool(user("alice@example.com", "token-1"));
  auto lease = old_pool->connect();

  std::atomic<bool> waiter_served{false};
  std::thread waiter([&] {
    auto second = old_pool->connect();  // queued before the rotation
    waiter_served = static_cast<bool>(second);
  });
  ASSERT_TRUE(eventually([&] { return old_pool->waiting_count() == 1U; }));

  auto new_pool = manager.get_pool(user("alice@example.com", "token-2"));
  ASSERT_NE(new_pool, old_pool);
  lease.release();  // goes to the waiter, not closed
  waiter.join();
  EXPECT_TRUE(waiter_served.load());
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{*old_pool}.is_drained());
  EXPECT_EQ(driver.open_now(), 0U);

  manager.sweep();
  EXPECT_EQ(manager.stats().draining_pools, 0U);
  EXPECT_EQ(manager.stats().pools, 1U);
}

TEST_F(PoolManagerTest, ConnectRacingARebuildIsServedByThePoolThatReplacedIt) {
  Manager manager(options(), driver);
  constexpr int kRotations = 100;
  std::atomic<int> token{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> served{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> requesters;
  for (int t = 0; t < 4; ++t) {
    requesters.emplace_back([&] {
      while (!stopping) {
        try {
          // The token read here may be replaced before connect() reaches the pool.
          auto lease =
              manager.connect(user("alice@example.com", "token-" + std::to_string(token.load())));
          if (lease->user() == "alice@example.com") ++served;
        } catch (const PoolClosed&) {
          ++refused;
        }
      }
    });
  }
  for (int rotation = 1; rotation <= kRotations; ++rotation) {
    const int served_before = served.load();
    ASSERT_TRUE(eventually([&] { return served.load() > served_before + 4; }));
    token = rotation;
    (void)manager.get_pool(user("alice@example.com", "token-" + std::to_string(rotation)));
  }
  stopping = true;
  for (auto& t : requesters) t.join();

  EXPECT_EQ(refused.load(), 0);
  EXPECT_GE(manager.stats().rebuilds, static_cast<std::uint64_t>(kRotations));
  EXPECT_EQ(manager.stats().leased, 0U);
}

TEST_F(PoolManagerTest, SweepClosesIdleConnectionsAndRemovesEmptyPools) {
  Manager manager(options(), driver);
  manager.get_pool(user("alice@example.com"))->query("SELECT 1");
  manager.get_pool(user("bob@example.com"))->query("SELECT 1");
  EXPECT_EQ(driver.open_now(), 2U);

  manager.sweep();  // nothing idle long enough yet
  EXPECT_EQ(manager.size(), 2U);

  FakeClock::advance(31s);
  manager.sweep();
  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_EQ(manager.size(), 0U);
  EXPECT_FALSE(manager.has_pool("alice@example.com"));
  EXPECT_EQ(manager.stats().pools_removed, 2U);
}

TEST_F(PoolManagerTest, SweepKeepsAPoolSomeoneHolds) {
  Manager manager(options(), driver);
  auto pool = manager.get_pool(user("alice@example.com"));
  FakeClock::advance(1h);
  manager.sweep();
  EXPECT_TRUE(manager.has_pool("alice@example.com"));  // `pool` is still held
  pool.reset();
  manager.sweep();
  EXPECT_FALSE(manager.has_pool("alice@example.com"));
}

TEST_F(PoolManagerTest, GlobalLimitEvictsTheLeastRecentlyUsedIdleConnection) {
  auto o = options();
  o.user_pool.max_size = 1;
  o.max_total_connections = 2;
  Manager manager(std::move(o), driver);
  auto alice = manager.get_pool(user("alice@example.com"));
  auto bob = manager.get_pool(user("bob@example.com"));
  alice->query("SELECT 1");
  FakeClock::advance(1s);
  bob->query("SELECT 1");  // alice is now the least recently used
  ASSERT_EQ(driver.open_now(), 2U);

  auto carol = manager.get_pool(user("carol@example.com"));
  carol->query("SELECT 1");
  EXPECT_EQ(alice->total_count(), 0U);
  EXPECT_EQ(bob->total_count(), 1U);
  EXPECT_EQ(carol->total_count(), 1U);
  EXPECT_EQ(driver.peak_open(), 2U);
  EXPECT_EQ(manager.stats().connection_evictions, 1U);
}

TEST_F(PoolManagerTest, GlobalLimitWithNothingIdleTimesOutNamingTheLimit) {
  auto o = options();
  o.user_pool.max_size = 1;
  o.user_pool.acquire_timeout = 50ms;
  o.max_total_connections = 1;
  Manager manager(std::move(o), driver);
  auto held = manager.get_pool(user("alice@example.com"))->connect();
  try {
    (void)manager.get_pool(user("bob@example.com"))->connect();
    FAIL() << "expected AcquireTimeout";
  } catch (const AcquireTimeout& e) {
    EXPECT_NE(std::string(e.what()).find("global connection limit"), std::string::npos) << e.what();
  }
  EXPECT_EQ(manager.stats().budget_timeouts, 1U);
  EXPECT_EQ(driver.open_now(), 1U);
}

TEST_F(PoolManagerTest, GlobalLimitServesWaitersWhenAConnectionCloses) {
  auto o = options();
  o.user_pool.max_size = 1;
  o.max_total_connections = 1;
  Manager manager(std::move(o), driver);
  auto alice = manager.get_pool(user("alice@example.com"));
  auto held = alice->connect();
  std::atomic<bool> bob_served{false};
  std::thread bob([&] {
    manager.get_pool(user("bob@example.com"))->query("SELECT 1");
    bob_served = true;
  });
  ASSERT_TRUE(eventually([&] { return manager.stats().budget_waiting == 1U; }));
  held.release();  // alice's connection goes idle; the evictor may now close it
  bob.join();
  EXPECT_TRUE(bob_served.load());
  EXPECT_LE(driver.peak_open(), 1U);
}

TEST_F(PoolManagerTest, MaxPoolsEvictsTheLeastRecentlyUsedIdlePool) {
  auto o = options();
  o.max_pools = 2;
  Manager manager(std::move(o), driver);
  manager.get_pool(user("alice@example.com"))->query("SELECT 1");
  FakeClock::advance(1s);
  manager.get_pool(user("bob@example.com"))->query("SELECT 1");
  (void)manager.get_pool(user("carol@example.com"));
  EXPECT_FALSE(manager.has_pool("alice@example.com"));
  EXPECT_TRUE(manager.has_pool("bob@example.com"));
  EXPECT_EQ(manager.size(), 2U);
  EXPECT_EQ(manager.stats().pool_evictions, 1U);
  EXPECT_EQ(driver.open_now(), 1U);  // alice's idle connection closed with her pool
}

TEST_F(PoolManagerTest, MaxPoolsWithEveryPoolInUseTimesOutNamingTheLimit) {
  auto o = options();
  o.max_pools = 1;
  o.user_pool.acquire_timeout = 50ms;
  Manager manager(std::move(o), driver);
  auto alice = manager.get_pool(user("alice@example.com"));  // held: not evictable
  try {
    (void)manager.get_pool(user("bob@example.com"));
    FAIL() << "expected AcquireTimeout";
  } catch (const AcquireTimeout& e) {
    EXPECT_NE(std::string(e.what()).find("max_pools"), std::string::npos) << e.what();
  }
}

TEST_F(PoolManagerTest, APoolThatCannotBeBuiltGivesItsMaxPoolsSlotBack) {
  auto o = options();
  o.max_pools = 1;
  o.user_pool.acquire_timeout = 50ms;
  o.credentials_for = [](const UserContext& u) -> std::shared_ptr<CredentialProvider> {
    if (u.key() == "mallory@example.com") throw ConfigError("no credentials for this user");
    return std::make_shared<StaticPassword>(Secret("pw"));
  };
  Manager manager(std::move(o), driver);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THROW((void)manager.get_pool(user("mallory@example.com")), ConfigError);
  }
  // Had the failures kept their slot, the limit of one would be used up.
  EXPECT_NO_THROW(manager.get_pool(user("alice@example.com"))->query("SELECT 1"));
  EXPECT_EQ(manager.size(), 1U);
}

TEST_F(PoolManagerTest, ARequestWaitingForMaxPoolsGetsAPoolWhoseLastLeaseComesBack) {
  auto o = options();
  o.max_pools = 1;
  o.user_pool.acquire_timeout = 60s;
  Manager manager(std::move(o), driver);
  auto alice_lease = manager.connect(user("alice@example.com"));  // alice's pool: in use

  std::atomic<bool> bob_served{false};
  std::thread bob(
      [&] { bob_served = static_cast<bool>(manager.connect(user("bob@example.com"))); });
  ASSERT_TRUE(
      eventually([&] { return manager.stats().pool_evictions == 0 && bob_waiting(manager); }));
  // Nothing releases a pool slot here: only the nudge from the lease makes
  // the waiting request evict alice's now unused pool, long before 60 s.
  alice_lease.release();
  bob.join();
  EXPECT_TRUE(bob_served.load());
  EXPECT_FALSE(manager.has_pool("alice@example.com"));
  EXPECT_EQ(manager.stats().pool_evictions, 1U);
}

TEST_F(PoolManagerTest, ARequestWaitsForMaxPoolsAndForAConnectionWithinOneAcquireTimeout) {
  auto o = options();
  o.max_pools = 2;
  o.max_total_connections = 2;
  o.user_pool.max_size = 2;
  o.user_pool.acquire_timeout = 3s;
  Manager manager(std::move(o), driver);
  auto alice = manager.connect(user("alice@example.com"));
  auto carol = manager.connect(user("carol@example.com"));

  // bob waits for room under max_pools...
  const auto started = std::chrono::steady_clock::now();
  std::thread bob([&] {
    try {
      (void)manager.connect(user("bob@example.com"));
      ADD_FAILURE() << "bob expected AcquireTimeout";
    } catch (const AcquireTimeout& e) {
      EXPECT_NE(std::string(e.what()).find("global connection limit"), std::string::npos)
          << e.what();
    }
  });
  ASSERT_TRUE(eventually([&] { return bob_waiting(manager); }));
  std::this_thread::sleep_for(1500ms);  // half of bob's time passes in the first wait
  // ...alice asks for a second connection (queued for the connection limit),
  // then carol's pool empties: its connection goes to alice, and bob gets
  // carol's pool slot but no connection.
  std::atomic<bool> bob_done{false};
  std::thread alice_second([&] {
    auto second = manager.connect(user("alice@example.com"));
    // Held until bob is done, so bob cannot get its connection.
    ASSERT_TRUE(eventually([&] { return bob_done.load(); }));
  });
  ASSERT_TRUE(eventually([&] { return manager.stats().budget_waiting == 1U; }));
  carol.release();
  bob.join();
  bob_done = true;
  // One deadline for the whole request: about 3 s, not 1.5 s + 3 s.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
  alice_second.join();
}

TEST_F(PoolManagerTest, ClosePoolDrainsAndANewRequestGetsAFreshPool) {
  Manager manager(options(), driver);
  auto first = manager.get_pool(user("alice@example.com"));
  auto lease = first->connect();
  manager.close_pool("alice@example.com");
  EXPECT_FALSE(manager.has_pool("alice@example.com"));
  EXPECT_EQ(manager.size(), 0U);
  auto second = manager.get_pool(user("alice@example.com"));
  EXPECT_NE(first, second);
  lease.release();
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{*first}.is_drained());
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(PoolManagerTest, CloseAllEndsEveryPoolAndRefusesNewRequests) {
  Manager manager(options(), driver);
  manager.get_pool(user("alice@example.com"))->query("SELECT 1");
  manager.get_pool(user("bob@example.com"))->query("SELECT 1");
  manager.close();
  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_EQ(manager.size(), 0U);
  EXPECT_THROW((void)manager.get_pool(user("alice@example.com")), PoolClosed);
  manager.close();  // idempotent
}

TEST_F(PoolManagerTest, PoolsCreatedWhileCloseAllRunsAreEndedToo) {
  auto o = options();
  // A credential source that takes a moment to build holds its shard's lock
  // that long: requests for other keys of that shard queue behind it, as
  // close() may.
  o.credentials_for = [](const UserContext& u) {
    std::this_thread::sleep_for(20us);
    return std::make_shared<StaticPassword>(Secret("pw-for-" + u.key()));
  };
  Manager manager(std::move(o), driver);
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // New users until the manager refuses: each races close() for its shard.
      for (int i = 0;; ++i) {
        try {
          auto pool = manager.get_pool(user("u" + std::to_string(t) + "-" + std::to_string(i)));
          ++created;
          pool->query("SELECT 1");
        } catch (const PoolClosed&) {
          return;
        }
      }
    });
  }
  const bool busy = eventually([&] { return created.load() >= 200; });
  manager.close();
  for (auto& t : threads) t.join();

  EXPECT_TRUE(busy);
  EXPECT_EQ(driver.open_now(), 0U) << "a pool created during close() kept a connection";
  EXPECT_EQ(manager.size(), 0U);
  EXPECT_EQ(manager.stats().pools, 0U);
}

TEST_F(PoolManagerTest, SweeperThreadRunsEveryIntervalAndStopsAtOnceOnCloseAll) {
  auto o = options();
  o.sweep_interval = 5ms;
  auto manager = std::make_unique<Manager>(std::move(o), driver);
  ASSERT_TRUE(eventually([&] { return manager->stats().sweeps >= 2U; }));

  auto slow = options();
  slow.sweep_interval = std::chrono::hours(1);
  Manager idle_manager(std::move(slow), driver);
  const auto start = std::chrono::steady_clock::now();
  idle_manager.close();  // must not wait out the hour
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(PoolManagerTest, MissingCredentialFactoryIsAConfigError) {
  auto o = options();
  o.credentials_for = nullptr;
  EXPECT_THROW(Manager(std::move(o), driver), ConfigError);
}

TEST_F(PoolManagerTest, GlobalLimitBelowOnePoolsSizeIsAConfigError) {
  auto o = options();
  o.max_total_connections = 2;  // user pools may open 3
  EXPECT_THROW(Manager(std::move(o), driver), ConfigError);
}

TEST_F(PoolManagerTest, AggregatedStatsNameNoUser) {
  Manager manager(options(), driver);
  manager.get_pool(user("alice@example.com"))->query("SELECT 1");
  auto lease = manager.get_pool(user("bob@example.com"))->connect();
  const auto s = manager.stats();
  EXPECT_EQ(s.pools, 2U);
  EXPECT_EQ(s.connections, 2U);
  EXPECT_EQ(s.idle, 1U);
  EXPECT_EQ(s.leased, 1U);
  EXPECT_EQ(s.acquired, 2U);
  const std::string json = nlohmann::json(s).dump();
  EXPECT_EQ(json.find("alice"), std::string::npos) << json;
  EXPECT_EQ(json.find("bob"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pools\":2"), std::string::npos) << json;
}

TEST_F(PoolManagerTest, ConcurrentUsersNeverShareAConnection) {
  auto o = options();
  o.user_pool.max_size = 2;
  Manager manager(std::move(o), driver);
  constexpr int kThreads = 8;
  constexpr int kUsers = 12;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto who = "user" + std::to_string((t * 7 + i) % kUsers) + "@example.com";
        auto pool = manager.get_pool(user(who));
        auto lease = pool->connect();
        if (lease->user() != who) ++mismatches;  // the role this connection logged in as
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(driver.peak_open(), 2U * kUsers);
  EXPECT_EQ(manager.stats().leased, 0U);
}

// Under this contention (8 threads, 12 users, pools of 2, a global limit of
// 8) a few runs in ten used to stall every thread for acquire_timeout: a
// release() that granted a budget permit to a waiter while that waiter ran the
// evictor woke nobody, and the waiter slept to its deadline holding the slot.
// Fixed in bf26bd7 (detail::Budget::acquire re-checks its grant after the
// evictor; the exact interleaving is pinned in connection_budget_test.cpp);
// this stays as the load that found it.
TEST_F(PoolManagerTest, ConcurrentUsersUnderAGlobalLimitNeverStall) {
  auto o = options();
  o.user_pool.max_size = 2;
  o.max_total_connections = 8;
  Manager manager(std::move(o), driver);
  constexpr int kThreads = 8;
  constexpr int kUsers = 12;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto who = "user" + std::to_string((t * 7 + i) % kUsers) + "@example.com";
        auto pool = manager.get_pool(user(who));
        auto lease = pool->connect();
        if (lease->user() != who) ++mismatches;  // the role this connection logged in as
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(driver.peak_open(), 8U);
  EXPECT_EQ(manager.stats().leased, 0U);
}

TEST_F(PoolManagerTest, AWorkingOlderTokenReplacesAPoolWhoseNewTokenCannotLogIn) {
  Manager manager(options(), driver);
  auto good = manager.get_pool(user("alice@example.com", "token-good"));
  good->query("SELECT 1");

  // A bad (revoked, mistyped) token arrives last and rebuilds the pool...
  auto bad = manager.get_pool(user("alice@example.com", "token-bad"));
  ASSERT_NE(bad, good);
  driver.fail_opens<AuthenticationFailed>("password authentication failed");
  EXPECT_THROW(bad->query("SELECT 1"), AuthenticationFailed);

  // ...but alice's working token is not locked out behind it.
  auto recovered = manager.get_pool(user("alice@example.com", "token-good"));
  EXPECT_NE(recovered, bad);
  EXPECT_NO_THROW(recovered->query("SELECT 1"));
  EXPECT_EQ(manager.stats().rebuilds, 2U);
  // The bad token, now an older one, uses the working pool.
  EXPECT_EQ(manager.get_pool(user("alice@example.com", "token-bad")), recovered);
}

TEST_F(PoolManagerTest, CountersDoNotGoDownWhenPoolsAreSwept) {
  Manager manager(options(), driver);
  manager.get_pool(user("alice@example.com"))->query("SELECT 1");
  manager.get_pool(user("bob@example.com"))->query("SELECT 1");
  const auto before = manager.stats();
  FakeClock::advance(31s);
  manager.sweep();
  const auto after = manager.stats();
  ASSERT_EQ(after.pools, 0U);
  EXPECT_EQ(after.connections_created, before.connections_created);
  EXPECT_EQ(after.acquired, before.acquired);
  EXPECT_EQ(after.connections_created, 2U);
}

}  // namespace
}  // namespace pgobo::test
