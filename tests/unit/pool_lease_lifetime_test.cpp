// What a lease may outlive, and what a pool may not keep: each test pins one
// interleaving with a gate (FakeDriver::hang_closes / hang_opens), never a
// sleep.
// - A pool destroyed while another thread is still closing a connection it
//   took back (the release path after its last signal) is not freed under
//   that thread; under AddressSanitizer the old order was a use-after-free.
// - A lease outlives its pool or its RoutingPool harmlessly, and destroying
//   either never waits past close_timeout, even for a lease the same thread
//   holds.
// - A budget evictor that throws leaves the pool's reservation undone.
// - A pool that began draining while a login was in flight keeps no idle
//   connection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "fake_pool_test.hpp"
#include "pgobo/detail/budget.hpp"
#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

class LeaseLifetime : public FakePoolTest {};

TEST_F(LeaseLifetime, APoolDestroyedWhileAReleaseStillClosesItsConnectionIsNotFreedUnderIt) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto options = fake_pool_options(1);
  options.close_timeout = 1ms;  // the destructor stops waiting for the close
  auto pool = detail::PoolManagerGate<FakePool>::make_shared(options, driver, budget);
  auto lease = pool->connect();
  lease->kill();  // comes back broken: the release path closes it
  driver.hang_closes();

  std::thread releasing([&] { lease.release(); });
  ASSERT_TRUE(driver.wait_for_hanging_closes(1));  // inside the close, lease count already 0
  pool.reset();  // ~BasicPool returns; before: freed the pool under `releasing`
  driver.release_closes();
  releasing.join();

  // The late close gave its permit back to the budget it took it from.
  EXPECT_EQ(budget->in_use(), 0U);
  EXPECT_EQ(driver.open_now(), 0U);
}

// True once close() has begun on `pool`; opens fail meanwhile, so probing
// never adds a connection.
bool ended(FakePool& pool) {
  try {
    (void)pool.connect();
  } catch (const PoolClosed&) {
    return true;
  } catch (const ConnectError&) {
  }
  return false;
}

TEST_F(LeaseLifetime, EndWaitsForAConnectionStillClosingOnAnotherThread) {
  FakePool pool(fake_pool_options(1), driver);
  auto lease = pool.connect();
  lease->kill();
  driver.hang_closes();
  std::thread releasing([&] { lease.release(); });
  ASSERT_TRUE(driver.wait_for_hanging_closes(1));
  driver.fail_opens<ServerUnavailable>("down", FakeDriver::forever);

  std::atomic<bool> end_returned{false};
  std::optional<std::size_t> open_when_end_returned;
  std::thread ending([&] {
    pool.close();
    open_when_end_returned = driver.open_now();
    end_returned = true;
  });
  ASSERT_TRUE(eventually([&] { return ended(pool); }));
  EXPECT_FALSE(end_returned.load());  // the connection is not closed yet
  driver.release_closes();
  ending.join();
  releasing.join();

  EXPECT_EQ(open_when_end_returned, 0U);
}

TEST_F(LeaseLifetime, ALeaseOutlivesItsPoolAndClosesItsConnectionWhenReturned) {
  auto options = fake_pool_options(2);
  options.close_timeout = 1ms;  // a lease is still out: do not wait for it
  std::optional<FakePool::Lease> lease;
  {
    FakePool pool(options, driver);
    lease = pool.connect();
  }  // returns although the lease is out (before: waited for it forever)
  ASSERT_TRUE(*lease);
  EXPECT_EQ(driver.open_now(), 1U);

  lease.reset();

  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(LeaseLifetime, AServicePrincipalLeaseOutlivesItsRoutingPoolOnTheSameThread) {
  auto service_options = fake_pool_options(2);
  service_options.name = "sp";
  service_options.close_timeout = 1ms;
  BasicPoolManager<FakeDriver>::Options users;
  users.credentials_for = [](const UserContext&) { return std::shared_ptr<CredentialProvider>{}; };
  users.sweep_interval = 0ms;
  auto router = std::make_unique<BasicRoutingPool<FakeDriver>>(
      std::make_shared<BasicPool<FakeDriver>>(service_options, driver), std::move(users), driver);

  auto lease = router->connect();  // no user: the service principal's pool
  router.reset();                  // before: blocked forever on this thread's own lease
  ASSERT_TRUE(lease);
  EXPECT_EQ(driver.open_now(), 1U);

  lease.release();

  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(LeaseLifetime, AThrowingBudgetEvictorLeavesThePoolUsable) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto shared_pool =
      detail::PoolManagerGate<FakePool>::make_shared(fake_pool_options(2), driver, budget);
  FakePool& pool = *shared_pool;
  auto held = pool.connect();  // the budget's only permit
  budget->set_evictor([]() -> bool { throw std::runtime_error("evictor failed"); });

  EXPECT_THROW((void)pool.connect(), std::runtime_error);

  // The reservation for the failed open is gone: nothing is "opening".
  EXPECT_EQ(pool.total_count(), 1U);
  EXPECT_EQ(budget->waiting(), 0U);
  held.release();
  pool.close();  // before: waited close_timeout for an open that never came
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.is_idle_and_empty());
}

TEST_F(LeaseLifetime, ALoginInFlightWhenDrainingBeginsIsClosedNotKeptIdle) {
  auto options = fake_pool_options(2);
  options.min_idle = 1;
  FakePool pool(options, driver);
  driver.hang_opens();
  std::thread reaper([&] { pool.reap(); });  // min_idle: opens one
  ASSERT_TRUE(driver.wait_for_hanging_opens(1));

  pgobo::detail::PoolManagerGate{pool}.begin_drain();
  driver.release_opens();
  reaper.join();

  EXPECT_EQ(pool.idle_count(), 0U);
  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.is_drained());
}

}  // namespace
}  // namespace pgobo::test
