// detail::Budget: a limit shared by pools (max_total_connections, max_pools).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

#include "pgobo/detail/budget.hpp"
#include "wait.hpp"

namespace pgobo::detail {
namespace {

using namespace std::chrono_literals;
using Clock = Budget::Clock;
using test::eventually;

TEST(Budget, GrantsUpToTheLimitThenRefusesTryAcquire) {
  Budget budget(2);
  EXPECT_TRUE(budget.try_acquire());
  EXPECT_TRUE(budget.acquire(Clock::now()));
  EXPECT_EQ(budget.in_use(), 2U);
  EXPECT_FALSE(budget.try_acquire());
  budget.release();
  EXPECT_EQ(budget.in_use(), 1U);
  EXPECT_TRUE(budget.try_acquire());
}

TEST(Budget, AcquireAtTheLimitTimesOutAtItsDeadlineAndCountsIt) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  const auto start = Clock::now();
  EXPECT_FALSE(budget.acquire(start + 20ms));
  EXPECT_GE(Clock::now() - start, 20ms);
  EXPECT_EQ(budget.timeouts(), 1U);
  EXPECT_EQ(budget.waiting(), 0U);
  EXPECT_EQ(budget.in_use(), 1U);
}

TEST(Budget, ReleaseHandsThePermitToWaitersInArrivalOrder) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  std::vector<int> order;
  std::mutex order_mutex;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      ASSERT_TRUE(budget.acquire(Clock::now() + 30s));
      {
        std::lock_guard lock(order_mutex);
        order.push_back(i);
      }
      budget.release();
    });
    // Queue them one by one so arrival order is known.
    ASSERT_TRUE(eventually([&] { return budget.waiting() == static_cast<std::size_t>(i + 1); }));
  }
  budget.release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(budget.in_use(), 0U);
}

TEST(Budget, NewcomerCannotTakeAPermitWhileOthersWait) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  std::thread waiter([&] {
    EXPECT_TRUE(budget.acquire(Clock::now() + 30s));
    budget.release();
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U; }));
  EXPECT_FALSE(budget.try_acquire());
  budget.release();
  waiter.join();
}

TEST(Budget, AtTheLimitTheEvictorMakesRoomBeforeWaiting) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());  // held by an "idle connection" elsewhere
  int evictions = 0;
  budget.set_evictor([&] {
    ++evictions;
    budget.release();  // closing the idle connection gives its permit back
    return true;
  });
  EXPECT_TRUE(budget.acquire(Clock::now() + 5s));
  EXPECT_EQ(evictions, 1);
  EXPECT_EQ(budget.evictions(), 1U);
  EXPECT_EQ(budget.in_use(), 1U);
}

TEST(Budget, WithNothingIdleTheWaiterWaitsForARelease) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  std::atomic<int> evictor_calls{0};
  budget.set_evictor([&] {
    ++evictor_calls;
    return false;
  });
  std::thread waiter([&] {
    EXPECT_TRUE(budget.acquire(Clock::now() + 30s));
    budget.release();
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U && evictor_calls.load() >= 1; }));
  budget.release();
  waiter.join();
  EXPECT_EQ(budget.evictions(), 0U);
  EXPECT_EQ(budget.in_use(), 0U);
}

// The permit can be handed over while the waiter runs the evictor (its lock
// down): another pool closes a connection at that moment, and the evictor
// itself then finds nothing idle. The waiter must notice the grant rather
// than sleep to its deadline holding it (the stall seen with 8 threads).
TEST(Budget, APermitGrantedWhileTheEvictorRunsIsTakenAtOnce) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  budget.set_evictor([&] {
    budget.release();  // someone else's connection closes: the permit is ours
    return false;      // and there was nothing idle to evict
  });
  const auto start = Clock::now();
  EXPECT_TRUE(budget.acquire(start + 60s));
  // Without the re-check this returns only at the 60 s deadline.
  EXPECT_LT(Clock::now() - start, 30s);
  EXPECT_EQ(budget.in_use(), 1U);
  EXPECT_EQ(budget.waiting(), 0U);
  EXPECT_EQ(budget.timeouts(), 0U);
}

// The waiter is linked from the caller's stack while its evictor runs; an
// evictor that throws must not leave it linked, or the next release() writes
// into a dead frame (seen as signal 11).
TEST(Budget, AThrowingEvictorLeavesNoWaiterBehind) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  budget.set_evictor([]() -> bool { throw std::runtime_error("evictor failed"); });

  EXPECT_THROW((void)budget.acquire(Clock::now() + 60s), std::runtime_error);

  EXPECT_EQ(budget.waiting(), 0U);
  budget.release();  // before the fix: a write through the dead waiter
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_TRUE(budget.try_acquire());
}

// A permit handed to the waiter while its evictor ran, and then the evictor
// throws: the permit goes on (here: back to the budget), not lost.
TEST(Budget, APermitGrantedBeforeTheEvictorThrowsIsNotLost) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  budget.set_evictor([&]() -> bool {
    budget.release();  // granted to the waiter running this evictor
    throw std::runtime_error("evictor failed");
  });

  EXPECT_THROW((void)budget.acquire(Clock::now() + 60s), std::runtime_error);

  EXPECT_EQ(budget.waiting(), 0U);
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_TRUE(budget.try_acquire());
}

TEST(Budget, CloseWakesWaitersWithARefusalAndRefusesLaterCalls) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  std::thread waiter([&] { EXPECT_FALSE(budget.acquire(Clock::now() + 30s)); });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U; }));
  const auto start = Clock::now();
  budget.close();
  waiter.join();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_FALSE(budget.acquire(Clock::now() + 1s));
  EXPECT_FALSE(budget.try_acquire());
  EXPECT_EQ(budget.timeouts(), 0U);
}

TEST(Budget, ConcurrentUseNeverExceedsTheLimit) {
  constexpr std::size_t kLimit = 3;
  Budget budget(kLimit);
  std::atomic<std::size_t> holding{0};
  std::atomic<std::size_t> peak{0};
  std::latch start(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 2000; ++i) {
        ASSERT_TRUE(budget.acquire(Clock::now() + 30s));
        const auto now = ++holding;
        auto seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        --holding;
        budget.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), kLimit);
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_EQ(budget.waiting(), 0U);
}

}  // namespace
}  // namespace pgobo::detail
