// detail::Budget whose limit moves at run time (the automatic connection
// limit): lowered, no permit is granted until in_use falls below the new
// limit and permits coming back are retired, not handed on; raised, waiters
// get the room at once. Interleavings are driven with latches, not sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "pgobo/detail/budget.hpp"
#include "wait.hpp"

namespace pgobo::detail {
namespace {

using namespace std::chrono_literals;
using Clock = Budget::Clock;
using test::eventually;

TEST(BudgetLimit, LoweredItGrantsNothingUntilInUseFallsBelowIt) {
  Budget budget(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(budget.try_acquire());

  EXPECT_EQ(budget.set_max_total(1), 2U);  // two permits over the new limit

  EXPECT_EQ(budget.max_total(), 1U);
  EXPECT_TRUE(budget.over_limit());
  EXPECT_EQ(budget.excess(), 2U);
  EXPECT_EQ(budget.in_use(), 3U);  // nothing taken away
  EXPECT_FALSE(budget.try_acquire());
  budget.release();
  EXPECT_FALSE(budget.try_acquire());
  budget.release();
  EXPECT_FALSE(budget.over_limit());
  EXPECT_FALSE(budget.try_acquire());  // at the limit, not under it
  budget.release();
  EXPECT_TRUE(budget.try_acquire());
  EXPECT_EQ(budget.in_use(), 1U);
}

TEST(BudgetLimit, ReleasesOverALoweredLimitAreRetiredNotHandedToAWaiter) {
  Budget budget(2);
  ASSERT_TRUE(budget.try_acquire());
  ASSERT_TRUE(budget.try_acquire());
  std::atomic<bool> granted{false};
  std::thread waiter([&] {
    granted = budget.acquire(Clock::now() + 30s);
    budget.release();
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U; }));
  budget.set_max_total(1);

  budget.release();  // 2 > 1: retired; the grant would happen inside release()

  EXPECT_EQ(budget.in_use(), 1U);
  EXPECT_EQ(budget.waiting(), 1U);
  EXPECT_FALSE(granted.load());

  budget.release();  // at the limit now: handed to the waiter
  waiter.join();
  EXPECT_TRUE(granted.load());
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_EQ(budget.timeouts(), 0U);
}

TEST(BudgetLimit, RaisedItGrantsTheLongestWaitersAtOnce) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());
  std::vector<int> order;
  std::mutex order_mutex;
  std::latch both_granted(2);
  std::latch done(1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      const bool got = budget.acquire(Clock::now() + (i < 2 ? 30s : 200ms));
      if (got) {
        {
          std::lock_guard lock(order_mutex);
          order.push_back(i);
        }
        both_granted.count_down();
        done.wait();  // hold the permit until the test has looked
        budget.release();
      }
    });
    ASSERT_TRUE(eventually([&] { return budget.waiting() == static_cast<std::size_t>(i + 1); }));
  }

  EXPECT_EQ(budget.set_max_total(3), 0U);  // room for two more: the first two waiters

  both_granted.wait();
  EXPECT_EQ(budget.in_use(), 3U);
  {
    // The two queued first, not the third; they wake in any order.
    std::lock_guard lock(order_mutex);
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, (std::vector<int>{0, 1}));
  }
  threads[2].join();  // the third had no room: its (short) deadline passed
  EXPECT_EQ(budget.timeouts(), 1U);
  done.count_down();
  threads[0].join();
  threads[1].join();
  budget.release();
  EXPECT_EQ(budget.in_use(), 0U);
}

TEST(BudgetLimit, ZeroGrantsNothingUntilRaised) {
  Budget budget(0);
  EXPECT_FALSE(budget.try_acquire());
  std::atomic<bool> granted{false};
  std::thread waiter([&] { granted = budget.acquire(Clock::now() + 30s); });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U; }));
  EXPECT_FALSE(granted.load());

  budget.set_max_total(1);

  waiter.join();
  EXPECT_TRUE(granted.load());
  EXPECT_EQ(budget.in_use(), 1U);
}

TEST(BudgetLimit, RaisedAfterCloseGrantsNothing) {
  Budget budget(0);
  std::atomic<bool> granted{true};
  std::thread waiter([&] { granted = budget.acquire(Clock::now() + 30s); });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1U; }));
  budget.close();
  budget.set_max_total(1);  // e.g. a last heartbeat racing with shutdown
  waiter.join();
  EXPECT_FALSE(granted.load());
  EXPECT_EQ(budget.in_use(), 0U);
}

// A waiter evicting idle things after the limit was lowered: each eviction
// retires a permit until in_use is back at the limit; the next one hands the
// freed permit to the waiter itself.
TEST(BudgetLimit, AWaiterEvictsDownToTheLoweredLimitThenTakesTheNextPermit) {
  Budget budget(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(budget.try_acquire());  // three idle things
  int idle = 3;
  budget.set_evictor([&] {
    if (idle == 0) return false;
    --idle;
    budget.release();
    return true;
  });
  budget.set_max_total(1);

  EXPECT_TRUE(budget.acquire(Clock::now() + 30s));

  EXPECT_EQ(idle, 0);  // 2 retired, the third handed over
  EXPECT_EQ(budget.in_use(), 1U);
  EXPECT_FALSE(budget.over_limit());
  EXPECT_EQ(budget.evictions(), 3U);
}

// The limit is lowered and a permit comes back while the waiter's evictor
// runs (the budget's lock down): that release must retire the permit, not
// grant it, and the waiter must then wait for the limit to be raised.
TEST(BudgetLimit, AReleaseDuringTheEvictorAfterALoweringIsRetired) {
  Budget budget(1);
  ASSERT_TRUE(budget.try_acquire());  // a lease out, nothing idle
  std::latch evictor_running(1);
  std::latch go_on(1);
  std::atomic<int> calls{0};
  budget.set_evictor([&] {
    if (calls++ == 0) {
      evictor_running.count_down();
      go_on.wait();
    }
    return false;
  });
  std::atomic<bool> granted{false};
  std::thread waiter([&] { granted = budget.acquire(Clock::now() + 30s); });
  evictor_running.wait();

  budget.set_max_total(0);
  budget.release();  // the lease comes back: over the limit of 0, retired
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_FALSE(granted.load());
  go_on.count_down();
  // The evictor found nothing: the waiter now sleeps (it does not spin).
  ASSERT_TRUE(eventually([&] { return calls.load() >= 1 && budget.waiting() == 1U; }));
  EXPECT_FALSE(granted.load());

  budget.set_max_total(1);

  waiter.join();
  EXPECT_TRUE(granted.load());
  EXPECT_EQ(budget.in_use(), 1U);
}

// Many threads take and give back permits while another moves the limit
// between 2 and 6: no permit is ever granted beyond the limit in force, and
// once the limit settles at 2 and the holders come back, 2 is all there is.
TEST(BudgetLimit, ConcurrentUseWhileTheLimitMovesStaysWithinIt) {
  Budget budget(4);
  std::atomic<std::size_t> holding{0};
  std::atomic<std::size_t> peak{0};
  std::atomic<bool> stop{false};
  constexpr int kThreads = 6;
  std::latch start(kThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 1500; ++i) {
        if (!budget.acquire(Clock::now() + 30s)) continue;
        const auto now = ++holding;
        auto seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        --holding;
        budget.release();
      }
    });
  }
  std::thread mover([&] {
    start.arrive_and_wait();
    for (std::size_t i = 0; !stop.load(); ++i) budget.set_max_total(i % 2 == 0 ? 2 : 6);
  });
  for (auto& t : threads) t.join();
  stop = true;
  mover.join();

  EXPECT_LE(peak.load(), 6U);
  budget.set_max_total(2);
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_EQ(budget.waiting(), 0U);
  EXPECT_TRUE(budget.try_acquire());
  EXPECT_TRUE(budget.try_acquire());
  EXPECT_FALSE(budget.try_acquire());
}

}  // namespace
}  // namespace pgobo::detail
