// How connect() hands out connections: lazily, reused most recently used
// first, never more than max_size, waiters served first-come first-served,
// and a typed timeout at the deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fake_pool_test.hpp"
#include "joining_thread.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PoolAcquire : public FakePoolTest {};

TEST_F(PoolAcquire, OpensNoConnectionUntilFirstConnect) {
  FakePool pool(fake_pool_options(), driver);

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(driver.open_calls(), 0U);
}

TEST_F(PoolAcquire, ConnectOpensAConnectionAndLendsIt) {
  FakePool pool(fake_pool_options(), driver);

  auto lease = pool.connect();

  EXPECT_TRUE(lease);
  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(pool.total_count(), 1U);
  EXPECT_EQ(pool.idle_count(), 0U);
}

TEST_F(PoolAcquire, ReturnedConnectionIsReused) {
  FakePool pool(fake_pool_options(), driver);
  { auto lease = pool.connect(); }

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(driver.opened(), 1U);
}

TEST_F(PoolAcquire, MostRecentlyReturnedConnectionIsLentFirst) {
  FakePool pool(fake_pool_options(), driver);
  auto first = pool.connect();
  auto second = pool.connect();
  first.release();
  second.release();  // returned last

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 2);
}

TEST_F(PoolAcquire, NeverOpensMoreThanMaxSize) {
  auto options = fake_pool_options(2);
  options.acquire_timeout = 20ms;
  FakePool pool(options, driver);
  auto a = pool.connect();
  auto b = pool.connect();

  EXPECT_THROW((void)pool.connect(), AcquireTimeout);
  EXPECT_EQ(driver.opened(), 2U);
}

TEST_F(PoolAcquire, TimeoutMessageNamesPoolMaxSizeAndWaiters) {
  auto options = fake_pool_options(1);
  options.name = "alice-pool";
  options.acquire_timeout = 20ms;
  FakePool pool(options, driver);
  auto held = pool.connect();

  try {
    (void)pool.connect();
    FAIL() << "connect() returned while the only connection was leased";
  } catch (const AcquireTimeout& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'alice-pool'"));
    EXPECT_THAT(e.what(), HasSubstr("max_size 1"));
    EXPECT_THAT(e.what(), HasSubstr("1 waiting"));
  }
}

TEST_F(PoolAcquire, TimedOutCallerLeavesTheQueueAndIsCounted) {
  auto options = fake_pool_options(1);
  options.acquire_timeout = 20ms;
  FakePool pool(options, driver);
  auto held = pool.connect();

  EXPECT_THROW((void)pool.connect(), AcquireTimeout);

  EXPECT_EQ(pool.waiting_count(), 0U);
  EXPECT_EQ(pool.stats().timeouts, 1U);
}

TEST_F(PoolAcquire, WaitersAreServedInArrivalOrder) {
  FakePool pool(fake_pool_options(1), driver);
  auto held = pool.connect();
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<pgobo::test::JoiningThread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&, i] {
      auto lease = pool.connect();
      std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
    // Queue them one at a time so arrival order is known.
    ASSERT_TRUE(
        eventually([&] { return pool.waiting_count() == static_cast<std::size_t>(i + 1); }));
  }

  held.release();
  waiters.clear();  // joins

  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(PoolAcquire, ReturnedConnectionGoesToTheWaiterNotToALaterCaller) {
  FakePool pool(fake_pool_options(1), driver);
  auto held = pool.connect();
  std::latch may_finish(1);
  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] {
    auto lease = pool.connect();
    waiter_got = lease->id();
    may_finish.wait();
  });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  held.release();

  // Handed over under the pool's lock, before the waiter even runs: there is
  // no idle connection a later caller could take first.
  EXPECT_EQ(pool.idle_count(), 0U);
  EXPECT_EQ(pool.stats().leased, 1U);
  EXPECT_EQ(pool.waiting_count(), 0U);
  may_finish.count_down();
  waiter.join();
  EXPECT_EQ(waiter_got, 1);
}

TEST_F(PoolAcquire, SlowOpenDoesNotBlockCallersThatFindAnIdleConnection) {
  FakePool pool(fake_pool_options(2), driver);
  auto first = pool.connect();
  driver.hang_opens();
  pgobo::test::JoiningThread opener([&] { auto lease = pool.connect(); });
  ASSERT_TRUE(driver.wait_for_hanging_opens(1));
  first.release();

  auto lease = pool.connect();  // while the other open is still in progress

  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(pool.stats().opening, 1U);
  driver.release_opens();
}

TEST_F(PoolAcquire, WaiterOpensTheSlotFreedByABrokenConnection) {
  FakePool pool(fake_pool_options(1), driver);
  auto held = pool.connect();
  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] { waiter_got = pool.connect()->id(); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  held->kill();
  held.release();
  waiter.join();

  EXPECT_EQ(waiter_got, 2);
}

TEST_F(PoolAcquire, QueryRunsOnALeasedConnectionAndGivesItBack) {
  FakePool pool(fake_pool_options(), driver);

  FakeResult result = pool.query("SELECT $1, $2", 1, "two");

  EXPECT_EQ(result.connection_id, 1);
  EXPECT_EQ(result.sql, "SELECT $1, $2");
  EXPECT_EQ(result.parameter_count, 2U);
  EXPECT_EQ(pool.idle_count(), 1U);
}

TEST_F(PoolAcquire, CredentialProviderIsAskedOncePerNewConnection) {
  auto options = fake_pool_options();
  std::atomic<int> calls{0};
  options.credentials =
      make_credential_function([&calls] { return Secret{"pw-" + std::to_string(++calls)}; });
  FakePool pool(options, driver);

  {
    auto a = pool.connect();
    auto b = pool.connect();
  }
  { auto reused = pool.connect(); }

  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(driver.passwords(), (std::vector<std::string>{"pw-1", "pw-2"}));
}

TEST_F(PoolAcquire, RotatedCredentialIsUsedByTheNextConnection) {
  auto options = fake_pool_options();
  auto current = std::make_shared<std::string>("old");
  auto current_mutex = std::make_shared<std::mutex>();
  options.credentials = make_credential_function([current, current_mutex] {
    std::lock_guard lock(*current_mutex);
    return Secret{*current};
  });
  FakePool pool(options, driver);
  auto before = pool.connect();

  {
    std::lock_guard lock(*current_mutex);
    *current = "new";
  }
  auto after = pool.connect();

  EXPECT_EQ(driver.passwords(), (std::vector<std::string>{"old", "new"}));
}

TEST_F(PoolAcquire, CredentialProviderFailureBecomesCredentialErrorNamingThePool) {
  auto options = fake_pool_options();
  options.name = "bob-pool";
  options.credentials =
      make_credential_function([]() -> Secret { throw std::runtime_error("vault sealed"); });
  FakePool pool(options, driver);

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded without a credential";
  } catch (const CredentialError& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'bob-pool'"));
    EXPECT_THAT(e.what(), HasSubstr("vault sealed"));
  }
  EXPECT_EQ(driver.open_calls(), 0U);
  EXPECT_EQ(pool.total_count(), 0U);
}

TEST_F(PoolAcquire, ConnectErrorKeepsItsTypeAndNamesThePool) {
  driver.fail_opens<AuthenticationFailed>("password authentication failed for user \"alice\"");
  FakePool pool(fake_pool_options(), driver);

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded although the open failed";
  } catch (const AuthenticationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'test'"));
    EXPECT_THAT(e.what(), HasSubstr("password authentication failed"));
  }
  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(pool.stats().connect_errors, 1U);
}

}  // namespace
}  // namespace pgobo::test
