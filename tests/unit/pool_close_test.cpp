// close() closes a pool: new callers and waiters get PoolClosed, outstanding
// leases are awaited up to close_timeout, every connection closes. Draining
// closes a replaced pool gently: waiters and leases are still served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <latch>
#include <optional>
#include <thread>

#include "fake_pool_test.hpp"
#include "joining_thread.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PoolClose : public FakePoolTest {};

bool is_closed(FakePool& pool) {
  try {
    (void)pool.connect();
    return false;
  } catch (const PoolClosed&) {
    return true;
  }
}

TEST_F(PoolClose, ConnectAfterCloseThrowsPoolClosedNamingThePool) {
  FakePool pool(fake_pool_options(), driver);
  pool.close();

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded on a closed pool";
  } catch (const PoolClosed& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'test'"));
  }
}

TEST_F(PoolClose, EndIsCloseUnderAppKitsName) {
  FakePool pool(fake_pool_options(), driver);
  { auto idle = pool.connect(); }

  pool.end();

  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_TRUE(is_closed(pool));
}

TEST_F(PoolClose, CloseClosesIdleConnections) {
  FakePool pool(fake_pool_options(), driver);
  {
    auto a = pool.connect();
    auto b = pool.connect();
  }

  pool.close();

  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_EQ(pool.stats().closed.pool_ended, 2U);
}

TEST_F(PoolClose, CloseWakesWaitersWithPoolClosed) {
  FakePool pool(fake_pool_options(1), driver);
  auto held = pool.connect();
  pgobo::test::JoiningThread waiter([&] { EXPECT_THROW((void)pool.connect(), PoolClosed); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));
  pgobo::test::JoiningThread ender([&] { pool.close(); });

  waiter.join();  // woken by close(), not by a returned connection
  EXPECT_TRUE(held);
  held.release();
}

TEST_F(PoolClose, CloseWaitsForOutstandingLeasesAndClosesThem) {
  FakePool pool(fake_pool_options(), driver);
  auto lease = pool.connect();
  std::atomic<bool> ended{false};
  pgobo::test::JoiningThread ender([&] {
    pool.close();
    ended = true;
  });
  ASSERT_TRUE(eventually([&] { return is_closed(pool); }));
  EXPECT_FALSE(ended.load());

  lease.release();
  ender.join();

  EXPECT_TRUE(ended.load());
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(PoolClose, CloseGivesUpAfterCloseTimeoutAndTheLateLeaseClosesOnReturn) {
  auto options = fake_pool_options();
  options.close_timeout = 20ms;
  FakePool pool(options, driver);
  auto lease = pool.connect();

  pool.close();
  EXPECT_EQ(driver.open_now(), 1U);
  lease.release();

  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_EQ(pool.total_count(), 0U);
}

TEST_F(PoolClose, CloseIsIdempotent) {
  FakePool pool(fake_pool_options(), driver);
  { auto lease = pool.connect(); }
  pool.close();

  pool.close();

  EXPECT_EQ(driver.closed(), 1U);
  EXPECT_TRUE(is_closed(pool));
}

TEST_F(PoolClose, DestructorClosesThePool) {
  {
    FakePool pool(fake_pool_options(), driver);
    auto a = pool.connect();
    auto b = pool.connect();
    a.release();
    b.release();
  }

  EXPECT_EQ(driver.opened(), 2U);
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(PoolClose, ConnectionFinishingItsOpenAfterCloseIsClosed) {
  FakePool pool(fake_pool_options(1), driver);  // so is_closed() queues instead of opening
  driver.hang_opens();
  pgobo::test::JoiningThread opener([&] { EXPECT_THROW((void)pool.connect(), PoolClosed); });
  ASSERT_TRUE(driver.wait_for_hanging_opens(1));
  pgobo::test::JoiningThread ender([&] { pool.close(); });
  ASSERT_TRUE(eventually([&] { return is_closed(pool); }));

  driver.release_opens();
  opener.join();
  ender.join();

  EXPECT_EQ(driver.opened(), 1U);
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(PoolClose, DrainingPoolRefusesNewCallers) {
  FakePool pool(fake_pool_options(), driver);

  pgobo::detail::PoolManagerGate{pool}.begin_drain();

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded on a draining pool";
  } catch (const PoolClosed& e) {
    EXPECT_THAT(e.what(), HasSubstr("draining"));
  }
}

TEST_F(PoolClose, DrainingPoolStillServesItsWaiters) {
  FakePool pool(fake_pool_options(1), driver);
  auto held = pool.connect();
  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] { waiter_got = pool.connect()->id(); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  pgobo::detail::PoolManagerGate{pool}.begin_drain();
  held.release();
  waiter.join();

  EXPECT_EQ(waiter_got, 1);
}

TEST_F(PoolClose, DrainingPoolClosesReturnedConnectionsAndReportsDrained) {
  FakePool pool(fake_pool_options(), driver);
  auto lease = pool.connect();
  { auto idle = pool.connect(); }

  pgobo::detail::PoolManagerGate{pool}.begin_drain();
  EXPECT_EQ(pool.idle_count(), 0U);  // idle ones close at once
  EXPECT_FALSE(pgobo::detail::PoolManagerGate{pool}.is_drained());
  lease.release();

  EXPECT_TRUE(pgobo::detail::PoolManagerGate{pool}.is_drained());
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(PoolClose, OpenPoolIsNeverDrained) {
  FakePool pool(fake_pool_options(), driver);

  EXPECT_FALSE(pgobo::detail::PoolManagerGate{pool}.is_drained());
}

}  // namespace
}  // namespace pgobo::test
