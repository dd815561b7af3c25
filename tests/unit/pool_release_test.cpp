// What happens to a connection when its lease ends: healthy ones go back,
// broken ones close, open transactions are rolled back, the reset query runs,
// and stale idle ones are checked before they are lent again.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "fake_pool_test.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

class PoolRelease : public FakePoolTest {};

TEST_F(PoolRelease, BrokenConnectionIsClosedAndNeverLentAgain) {
  FakePool pool(fake_pool_options(), driver);
  {
    auto lease = pool.connect();
    lease->kill();
  }

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 2);
  EXPECT_EQ(driver.closed(), 1U);
  EXPECT_EQ(pool.stats().closed.broken, 1U);
}

TEST_F(PoolRelease, ConnectionLeftInATransactionIsRolledBackAndReused) {
  FakePool pool(fake_pool_options(), driver);
  {
    auto lease = pool.connect();
    lease->begin();
  }

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
  EXPECT_FALSE(lease->in_transaction());
  EXPECT_EQ(lease->statements(), (std::vector<std::string>{"ROLLBACK"}));
}

TEST_F(PoolRelease, ConnectionWhoseRollbackFailsIsClosed) {
  FakePool pool(fake_pool_options(), driver);
  driver.fail_rollbacks();
  {
    auto lease = pool.connect();
    lease->begin();
  }

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(driver.closed(), 1U);
  EXPECT_EQ(pool.stats().closed.rollback_failed, 1U);
}

TEST_F(PoolRelease, ResetQueryRunsOnEveryRelease) {
  auto options = fake_pool_options();
  options.reset_query = "DISCARD TEMP";
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  { auto lease = pool.connect(); }

  auto lease = pool.connect();

  EXPECT_EQ(lease->statements(), (std::vector<std::string>{"DISCARD TEMP", "DISCARD TEMP"}));
}

TEST_F(PoolRelease, ConnectionWhoseResetQueryFailsIsClosed) {
  auto options = fake_pool_options();
  options.reset_query = "DISCARD TEMP";
  FakePool pool(options, driver);
  driver.fail_executes();

  { auto lease = pool.connect(); }

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(pool.stats().closed.reset_failed, 1U);
}

TEST_F(PoolRelease, DiscardClosesTheConnectionInsteadOfReturningIt) {
  FakePool pool(fake_pool_options(), driver);
  auto lease = pool.connect();

  lease.discard();

  EXPECT_FALSE(lease);
  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(driver.closed(), 1U);
  EXPECT_EQ(pool.stats().closed.discarded, 1U);
}

TEST_F(PoolRelease, MovedLeaseReturnsItsConnectionOnlyOnce) {
  FakePool pool(fake_pool_options(), driver);
  auto lease = pool.connect();

  FakePool::Lease moved = std::move(lease);
  EXPECT_FALSE(lease);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(pool.idle_count(), 0U);
  moved.release();

  EXPECT_EQ(pool.idle_count(), 1U);
  EXPECT_EQ(pool.stats().leased, 0U);
}

TEST_F(PoolRelease, MoveAssignmentReturnsTheConnectionItReplaces) {
  FakePool pool(fake_pool_options(), driver);
  auto first = pool.connect();
  auto second = pool.connect();

  first = std::move(second);

  EXPECT_EQ(first->id(), 2);
  EXPECT_EQ(pool.idle_count(), 1U);
}

TEST_F(PoolRelease, ConnectionIdleLongerThanValidateIdleAfterIsCheckedBeforeLending) {
  auto options = fake_pool_options();
  options.validate_idle_after = 1s;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(2s);

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(driver.pings(), 1U);
}

TEST_F(PoolRelease, RecentlyUsedConnectionIsLentWithoutACheck) {
  auto options = fake_pool_options();
  options.validate_idle_after = 1s;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(500ms);

  auto lease = pool.connect();

  EXPECT_EQ(driver.pings(), 0U);
}

TEST_F(PoolRelease, ZeroValidateIdleAfterChecksEveryIdleConnectionEvenInTheSameClockTick) {
  auto options = fake_pool_options();
  options.validate_idle_after = std::chrono::milliseconds{0};
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  // FakeClock stands still: the connection was returned "just now".
  auto lease = pool.connect();

  EXPECT_EQ(driver.pings(), 1U);
}

TEST_F(PoolRelease, ConnectionFailingTheCheckIsClosedAndReplaced) {
  auto options = fake_pool_options();
  options.validate_idle_after = 1s;
  FakePool pool(options, driver);
  { auto lease = pool.connect(); }
  FakeClock::advance(2s);
  driver.fail_pings();

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 2);
  EXPECT_EQ(pool.total_count(), 1U);
  EXPECT_EQ(pool.stats().closed.validation_failed, 1U);
}

// --- the session reset between borrowers (PoolOptions::session_reset) -------

TEST_F(PoolRelease, ALeaseFromConnectIsResetWhenItComesBack) {
  FakePool pool(fake_pool_options(1), driver);
  { auto lease = pool.connect(); }

  auto lease = pool.connect();

  EXPECT_EQ(lease->resets(), 1U);
  EXPECT_EQ(pool.stats().created, 1U);
}

TEST_F(PoolRelease, ThePoolsOwnQueryIsNotFollowedByAReset) {
  FakePool pool(fake_pool_options(1), driver);

  (void)pool.query("SELECT 1");
  (void)pool.query("SELECT 2");

  EXPECT_EQ(driver.resets(), 0U);
}

TEST_F(PoolRelease, ALeaseReturnedInATransactionIsRolledBackAndResetEvenIfMarkedClean) {
  FakePool pool(fake_pool_options(1), driver);
  {
    auto lease = pool.connect();
    lease.set_session_reset(false);
    lease->begin();
  }

  auto lease = pool.connect();

  EXPECT_EQ(lease->statements(), (std::vector<std::string>{"ROLLBACK"}));
  EXPECT_EQ(lease->resets(), 1U);
}

TEST_F(PoolRelease, ALeaseMarkedCleanSkipsTheReset) {
  FakePool pool(fake_pool_options(1), driver);
  {
    auto lease = pool.connect();
    lease.set_session_reset(false);
  }

  EXPECT_EQ(driver.resets(), 0U);
}

TEST_F(PoolRelease, SessionResetAlwaysResetsAfterQueryToo) {
  auto options = fake_pool_options(1);
  options.session_reset = SessionReset::always;
  FakePool pool(options, driver);

  (void)pool.query("SELECT 1");

  EXPECT_EQ(driver.resets(), 1U);
}

TEST_F(PoolRelease, SessionResetNeverStillRollsBackButDoesNotReset) {
  auto options = fake_pool_options(1);
  options.session_reset = SessionReset::never;
  FakePool pool(options, driver);
  {
    auto lease = pool.connect();
    lease->begin();
  }

  auto lease = pool.connect();

  EXPECT_EQ(lease->statements(), (std::vector<std::string>{"ROLLBACK"}));
  EXPECT_EQ(driver.resets(), 0U);
}

TEST_F(PoolRelease, AConnectionWhoseSessionResetFailsIsClosed) {
  FakePool pool(fake_pool_options(1), driver);
  driver.fail_resets();

  { auto lease = pool.connect(); }

  EXPECT_EQ(pool.total_count(), 0U);
  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_EQ(pool.stats().closed.reset_failed, 1U);
}

}  // namespace
}  // namespace pgobo::test
