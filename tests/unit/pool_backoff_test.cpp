// After connect failures the pool stops hammering the server: it waits 50 ms,
// doubling per consecutive failure up to connect_backoff_max, before opening
// again; meanwhile callers wait for a returned connection or, if there is
// none, fail at once with the last error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "fake_pool_test.hpp"
#include "joining_thread.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PoolBackoff : public FakePoolTest {};

TEST_F(PoolBackoff, CallerDuringBackoffFailsFastWithTheLastErrorWithoutOpening) {
  driver.fail_opens<ServerUnavailable>("connection refused");
  FakePool pool(fake_pool_options(), driver);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);

  try {
    (void)pool.connect();
    FAIL() << "connect() succeeded during backoff";
  } catch (const ServerUnavailable& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'test'"));
    EXPECT_THAT(e.what(), HasSubstr("connection refused"));
    EXPECT_THAT(e.what(), HasSubstr("1 consecutive failure"));
  }
  EXPECT_EQ(driver.open_calls(), 1U);
}

TEST_F(PoolBackoff, PoolOpensAgainOnceTheBackoffHasPassed) {
  driver.fail_opens<ServerUnavailable>("connection refused");
  FakePool pool(fake_pool_options(), driver);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  FakeClock::advance(50ms);

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(driver.open_calls(), 2U);
}

TEST_F(PoolBackoff, BackoffDoublesWithEachConsecutiveFailure) {
  driver.fail_opens<ServerUnavailable>("connection refused", 2);
  FakePool pool(fake_pool_options(), driver);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  FakeClock::advance(50ms);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);  // second failure: 100 ms

  FakeClock::advance(99ms);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  EXPECT_EQ(driver.open_calls(), 2U);
  FakeClock::advance(1ms);
  EXPECT_NO_THROW((void)pool.connect());
  EXPECT_EQ(driver.open_calls(), 3U);
}

TEST_F(PoolBackoff, BackoffNeverExceedsConnectBackoffMax) {
  auto options = fake_pool_options();
  options.connect_backoff_max = 200ms;
  driver.fail_opens<ServerUnavailable>("connection refused", 6);
  FakePool pool(options, driver);
  for (int failure = 0; failure < 6; ++failure) {
    EXPECT_THROW((void)pool.connect(), ServerUnavailable);
    FakeClock::advance(200ms);
  }

  EXPECT_NO_THROW((void)pool.connect());
  EXPECT_EQ(driver.open_calls(), 7U);
}

TEST_F(PoolBackoff, SuccessfulOpenResetsTheBackoff) {
  driver.fail_opens<ServerUnavailable>("connection refused");
  FakePool pool(fake_pool_options(), driver);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  FakeClock::advance(50ms);
  auto first = pool.connect();

  auto second = pool.connect();  // no backoff left to wait out

  EXPECT_EQ(second->id(), 2);
}

TEST_F(PoolBackoff, ZeroConnectBackoffMaxDisablesBackoff) {
  auto options = fake_pool_options();
  options.connect_backoff_max = 0ms;
  driver.fail_opens<ServerUnavailable>("connection refused");
  FakePool pool(options, driver);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);

  EXPECT_NO_THROW((void)pool.connect());
  EXPECT_EQ(driver.open_calls(), 2U);
}

TEST_F(PoolBackoff, CallerDuringBackoffWaitsForAReturnedConnection) {
  FakePool pool(fake_pool_options(2), driver);
  auto held = pool.connect();
  driver.fail_opens<ServerUnavailable>("connection refused");
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] { waiter_got = pool.connect()->id(); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  held.release();
  waiter.join();

  EXPECT_EQ(waiter_got, 1);
  EXPECT_EQ(driver.open_calls(), 2U);
}

TEST_F(PoolBackoff, ACallerWaitingWithEveryConnectionOutOpensOnceTheBackoffEnds) {
  FakePool pool(fake_pool_options(2), driver);  // acquire_timeout 10 s
  auto held = pool.connect();                   // never returned in this test
  driver.fail_opens<ServerUnavailable>("connection refused");
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);  // backing off for 50 ms

  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] { waiter_got = pool.connect()->id(); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));
  // The backoff ends; no connection comes back and none closes. The waiter
  // must notice by itself and open, not wait for its 10 s deadline.
  FakeClock::advance(50ms);
  waiter.join();

  EXPECT_EQ(waiter_got, 2);  // a new connection: 1 is still held
  EXPECT_EQ(driver.open_calls(), 3U);
  EXPECT_EQ(pool.stats().timeouts, 0U);
}

TEST_F(PoolBackoff, ACallerQueuedBeforeTheBackoffBeganOpensOnceItEnds) {
  FakePool pool(fake_pool_options(2), driver);
  auto held = pool.connect();  // never returned in this test
  driver.hang_opens();
  driver.fail_opens<ServerUnavailable>("connection refused");
  pgobo::test::JoiningThread opener([&] { EXPECT_THROW((void)pool.connect(), ServerUnavailable); });
  driver.wait_for_hanging_opens(1);

  // The pool is full (one lease, one open under way): this caller queues
  // with its deadline as its only wake-up...
  std::string waiter_error;
  int waiter_got = 0;
  pgobo::test::JoiningThread waiter([&] {
    try {
      waiter_got = pool.connect()->id();
    } catch (const std::exception& e) {
      waiter_error = e.what();
    }
  });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));
  // ...then the open fails and a backoff begins, then ends.
  driver.release_opens();
  opener.join();
  FakeClock::advance(50ms);
  waiter.join();

  EXPECT_EQ(waiter_error, "");
  EXPECT_EQ(waiter_got, 2);
  EXPECT_EQ(pool.stats().timeouts, 0U);
}

TEST_F(PoolBackoff, ANewcomerWhoLetsTheQueueOpenDoesNotQueueBehindNobody) {
  FakePool pool(fake_pool_options(3), driver);
  auto held = pool.connect();
  driver.fail_opens<ServerUnavailable>("connection refused");
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);  // backing off for 50 ms
  pgobo::test::JoiningThread first([&] { EXPECT_NO_THROW((void)pool.connect()); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  // The backoff ends; a newcomer arrives (most likely before the queued
  // caller wakes) and lets that caller open. The pool still has room for
  // the newcomer: it must open too, not queue until its deadline.
  FakeClock::advance(50ms);
  std::string error;
  try {
    auto lease = pool.connect();
  } catch (const std::exception& e) {
    error = e.what();
  }
  first.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(pool.stats().timeouts, 0U);
}

TEST_F(PoolBackoff, WaitersFailWithTheLastErrorWhenTheLastConnectionBreaksDuringBackoff) {
  FakePool pool(fake_pool_options(2), driver);
  auto held = pool.connect();
  driver.fail_opens<AuthenticationFailed>("password authentication failed");
  EXPECT_THROW((void)pool.connect(), AuthenticationFailed);
  pgobo::test::JoiningThread waiter(
      [&] { EXPECT_THROW((void)pool.connect(), AuthenticationFailed); });
  ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));

  held->kill();
  held.release();  // nothing left to wait for
  waiter.join();

  EXPECT_EQ(pool.waiting_count(), 0U);
  EXPECT_EQ(driver.open_calls(), 2U);
}

}  // namespace
}  // namespace pgobo::test
