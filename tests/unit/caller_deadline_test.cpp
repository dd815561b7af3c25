// The caller's deadline a pool hands down to its credential provider
// (pgobo/detail/caller_deadline.hpp): a scoped, per-thread value, set while
// the pool fetches a password for a caller, absent when no caller waits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fake_pool_test.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/detail/caller_deadline.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using pgobo::detail::caller_deadline;
using pgobo::detail::CallerDeadlineScope;
using SteadyTime = std::chrono::steady_clock::time_point;

TEST(CallerDeadline, ScopesNestAndOnlyBringItCloser) {
  const SteadyTime t = std::chrono::steady_clock::now() + 1h;
  EXPECT_EQ(caller_deadline(), std::nullopt);
  {
    const CallerDeadlineScope outer(t);
    EXPECT_EQ(caller_deadline(), t);
    {
      const CallerDeadlineScope later(t + 1s);
      EXPECT_EQ(caller_deadline(), t);
      const CallerDeadlineScope none(std::nullopt);
      EXPECT_EQ(caller_deadline(), t);
      const CallerDeadlineScope sooner(t - 1s);
      EXPECT_EQ(caller_deadline(), t - 1s);
    }
    EXPECT_EQ(caller_deadline(), t);
  }
  EXPECT_EQ(caller_deadline(), std::nullopt);
}

TEST(CallerDeadline, BelongsToItsThread) {
  const CallerDeadlineScope here(std::chrono::steady_clock::now() + 1h);
  std::optional<SteadyTime> there = SteadyTime{};
  std::thread([&there] { there = caller_deadline(); }).join();
  EXPECT_EQ(there, std::nullopt);
}

class PoolCallerDeadline : public FakePoolTest {
 protected:
  // A provider that records the deadline it was called under.
  PoolOptions recording_options() {
    PoolOptions options = fake_pool_options();
    options.acquire_timeout = 3s;
    options.credentials = make_credential_function([this] {
      const std::lock_guard lock(mutex);
      seen.push_back(caller_deadline());
      return Secret("pw");
    });
    return options;
  }

  std::mutex mutex;
  std::vector<std::optional<SteadyTime>> seen;
};

TEST_F(PoolCallerDeadline, APoolFetchesTheCallersPasswordUnderItsAcquireDeadline) {
  FakePool pool(recording_options(), driver);
  const SteadyTime before = std::chrono::steady_clock::now();
  { auto lease = pool.connect(); }
  const SteadyTime after = std::chrono::steady_clock::now();

  const std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 1U);
  ASSERT_TRUE(seen[0].has_value());
  EXPECT_GE(*seen[0], before + 3s);
  EXPECT_LE(*seen[0], after + 3s);
  EXPECT_EQ(caller_deadline(), std::nullopt) << "the scope ended with the open";
}

TEST_F(PoolCallerDeadline, NoDeadlineWhenNoCallerWaits) {
  PoolOptions options = recording_options();
  options.min_idle = 1;
  FakePool pool(options, driver);
  (void)pool.reap();  // opens the min_idle connection in the background's stead

  const std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], std::nullopt);
}

}  // namespace
}  // namespace pgobo::test
