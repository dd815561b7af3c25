// How connections age out: idle_timeout, max_lifetime with jitter, min_idle,
// and the eviction calls a pool manager uses.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "fake_pool_test.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

class PoolLifetime : public FakePoolTest {};

TEST_F(PoolLifetime, ReapClosesConnectionsIdlePastIdleTimeout) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  FakePool pool(options, driver);
  {
    auto a = pool.connect();
    auto b = pool.connect();
  }
  FakeClock::advance(31s);

  EXPECT_EQ(pool.reap(), 2U);

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(pool.stats().closed.idle_timeout, 2U);
}

TEST_F(PoolLifetime, ReapLeavesConnectionsIdleForLessThanIdleTimeout) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(29s);

  EXPECT_EQ(pool.reap(), 0U);
  EXPECT_EQ(pool.idle_count(), 1U);
}

TEST_F(PoolLifetime, ReapNeverTouchesLeasedConnections) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  FakePool pool(options, driver);
  auto lease = pool.connect();
  FakeClock::advance(31s);

  EXPECT_EQ(pool.reap(), 0U);
  EXPECT_EQ(pool.total_count(), 1U);
}

TEST_F(PoolLifetime, ConnectionIdlePastIdleTimeoutIsReplacedInsteadOfLent) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(31s);

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 2);
  EXPECT_EQ(pool.stats().closed.idle_timeout, 1U);
}

TEST_F(PoolLifetime, ReleaseClosesAStaleConnectionAtTheBackOfTheIdleList) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  FakePool pool(options, driver);
  auto busy = pool.connect();
  { auto stale = pool.connect(); }
  FakeClock::advance(31s);

  busy.release();  // no reap() needed

  EXPECT_EQ(pool.total_count(), 1U);
  EXPECT_EQ(pool.stats().closed.idle_timeout, 1U);
}

TEST_F(PoolLifetime, MinIdleConnectionPastIdleTimeoutIsStillLent) {
  auto options = fake_pool_options();
  options.idle_timeout = 30s;
  options.min_idle = 1;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(31s);

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
}

TEST_F(PoolLifetime, ReapKeepsMinIdleConnectionsPastIdleTimeout) {
  auto options = fake_pool_options(3);
  options.idle_timeout = 30s;
  options.min_idle = 1;
  FakePool pool(options, driver);
  {
    auto a = pool.connect();
    auto b = pool.connect();
    auto c = pool.connect();
  }
  FakeClock::advance(31s);

  EXPECT_EQ(pool.reap(), 2U);
  EXPECT_EQ(pool.idle_count(), 1U);
}

TEST_F(PoolLifetime, ReapOpensConnectionsUpToMinIdle) {
  auto options = fake_pool_options(5);
  options.min_idle = 2;
  FakePool pool(options, driver);

  pool.reap();

  EXPECT_EQ(pool.idle_count(), 2U);
  EXPECT_EQ(driver.opened(), 2U);
}

TEST_F(PoolLifetime, ConnectionPastMaxLifetimeIsClosedWhenReturned) {
  auto options = fake_pool_options();
  options.max_lifetime = 10min;
  FakePool pool(options, driver);
  auto lease = pool.connect();
  FakeClock::advance(11min);

  lease.release();

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(pool.stats().closed.max_lifetime, 1U);
}

TEST_F(PoolLifetime, ReapClosesIdleConnectionsPastMaxLifetimeEvenBelowMinIdle) {
  auto options = fake_pool_options();
  options.max_lifetime = 10min;
  options.idle_timeout = 0ms;  // never
  options.min_idle = 1;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(11min);

  EXPECT_EQ(pool.reap(), 1U);

  EXPECT_EQ(pool.stats().closed.max_lifetime, 1U);
  EXPECT_EQ(pool.idle_count(), 1U);  // a fresh one for min_idle
  EXPECT_EQ(driver.opened(), 2U);
}

TEST_F(PoolLifetime, JitterSpreadsExpiryAcrossTheJitterWindow) {
  auto options = fake_pool_options(20);
  options.max_lifetime = 100s;
  options.max_lifetime_jitter = 0.5;  // lifetimes in (50 s, 100 s]
  options.idle_timeout = 0ms;
  FakePool pool(options, driver);
  {
    std::vector<FakePool::Lease> leases;
    leases.reserve(20);
    for (int i = 0; i < 20; ++i) leases.push_back(pool.connect());
  }

  FakeClock::advance(50s - 1ms);
  EXPECT_EQ(pool.reap(), 0U);  // nobody shortened by more than the jitter
  FakeClock::advance(25s);
  const std::size_t by_75s = pool.reap();
  FakeClock::advance(25s + 1ms);
  const std::size_t by_100s = by_75s + pool.reap();

  // Uniform jitter: all 20 on one side of 75 s has probability 2 × 2^-20.
  EXPECT_GT(by_75s, 0U);
  EXPECT_LT(by_75s, 20U);
  EXPECT_EQ(by_100s, 20U);
}

TEST_F(PoolLifetime, CloseOneIdleClosesTheLeastRecentlyReturned) {
  FakePool pool(fake_pool_options(), driver);
  auto first = pool.connect();
  auto second = pool.connect();
  first.release();  // least recently returned
  second.release();

  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.close_one_idle());

  auto lease = pool.connect();
  EXPECT_EQ(lease->id(), 2);
  EXPECT_EQ(pool.stats().closed.evicted, 1U);
}

TEST_F(PoolLifetime, CloseOneIdleReportsWhenNothingIsIdle) {
  FakePool pool(fake_pool_options(), driver);
  auto lease = pool.connect();

  EXPECT_FALSE(pgobo::detail::PoolManagerGate{pool}.close_one_idle());
  EXPECT_EQ(pool.total_count(), 1U);
}

TEST_F(PoolLifetime, CloseIdleConnectionsLeavesLeasesAlone) {
  FakePool pool(fake_pool_options(), driver);
  auto kept = pool.connect();
  {
    auto a = pool.connect();
    auto b = pool.connect();
  }

  EXPECT_EQ(pool.close_idle_connections(), 2U);

  EXPECT_EQ(pool.total_count(), 1U);
  EXPECT_TRUE(kept);
}

TEST_F(PoolLifetime, LastUsedMovesOnConnectAndRelease) {
  FakePool pool(fake_pool_options(), driver);
  const auto created = pgobo::detail::PoolManagerGate{pool}.last_used();
  FakeClock::advance(5s);
  auto lease = pool.connect();
  const auto connected = pgobo::detail::PoolManagerGate{pool}.last_used();
  FakeClock::advance(5s);
  lease.release();

  EXPECT_EQ(connected - created, 5s);
  EXPECT_EQ(pgobo::detail::PoolManagerGate{pool}.last_used() - connected, 5s);
}

TEST_F(PoolLifetime, PoolIsIdleAndEmptyOnlyWithoutConnectionsLeasesOrWaiters) {
  FakePool pool(fake_pool_options(), driver);
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.is_idle_and_empty());
  auto lease = pool.connect();
  EXPECT_FALSE(pgobo::detail::PoolManagerGate{pool}.is_idle_and_empty());
  lease.release();
  EXPECT_FALSE(pgobo::detail::PoolManagerGate{pool}
                   .is_idle_and_empty());  // an idle connection is still open

  pool.close_idle_connections();

  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.is_idle_and_empty());
}

}  // namespace
}  // namespace pgobo::test
