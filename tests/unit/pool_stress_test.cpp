// Many threads over few connections: the bound holds, nobody starves, and
// the counters add up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "fake_driver.hpp"
#include "joining_thread.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using FakePool = BasicPool<FakeDriver, FakeClock>;

TEST(PoolStress, EightThreadsTimesTenThousandOverThreeConnectionsStayWithinMaxSize) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 10'000;
  FakeDriver driver;
  auto options = fake_pool_options(3);
  options.acquire_timeout = std::chrono::seconds(30);
  FakePool pool(options, driver);
  std::atomic<int> in_use{0};
  std::atomic<int> most_in_use{0};
  std::vector<int> completed(kThreads, 0);

  {
    std::vector<pgobo::test::JoiningThread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kIterations; ++i) {
          auto lease = pool.connect();
          const int now_in_use = ++in_use;
          int seen = most_in_use.load();
          while (now_in_use > seen && !most_in_use.compare_exchange_weak(seen, now_in_use)) {
          }
          if (i % 1000 == 0) lease->begin();  // some come back needing a rollback
          --in_use;
          ++completed[static_cast<std::size_t>(t)];
        }
      });
    }
  }

  const PoolStats stats = pool.stats();
  EXPECT_LE(driver.peak_open(), 3U);
  EXPECT_LE(most_in_use.load(), 3);
  for (int done : completed) EXPECT_EQ(done, kIterations);  // nobody starved or timed out
  EXPECT_EQ(stats.acquired, static_cast<std::uint64_t>(kThreads) * kIterations);
  EXPECT_EQ(stats.timeouts, 0U);
  EXPECT_EQ(stats.leased, 0U);
  EXPECT_EQ(stats.waiting, 0U);
  EXPECT_EQ(stats.created, driver.opened());
  EXPECT_EQ(stats.created, stats.closed.total() + stats.total);
  EXPECT_EQ(stats.total, stats.idle);
}

}  // namespace
}  // namespace pgobo::test
