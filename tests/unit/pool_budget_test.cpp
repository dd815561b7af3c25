// A ConnectionBudget shared by pools: each open takes a slot, each close gives
// it back, and at the limit an idle connection of another pool can be evicted
// to make room; otherwise the caller times out naming the global limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "fake_pool_test.hpp"
#include "pgobo/connection_budget.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PoolBudget : public FakePoolTest {
 protected:
  PoolOptions options_with(std::shared_ptr<ConnectionBudget> shared, std::string name) {
    auto options = fake_pool_options(3);
    options.name = std::move(name);
    options.budget = std::move(shared);
    return options;
  }
};

TEST_F(PoolBudget, EachOpenTakesASlotAndEachCloseGivesItBack) {
  auto budget = std::make_shared<ConnectionBudget>(5);
  FakePool pool(options_with(budget, "alice"), driver);
  {
    auto a = pool.connect();
    auto b = pool.connect();
    EXPECT_EQ(budget->in_use(), 2U);
  }

  pool.close_idle_connections();

  EXPECT_EQ(budget->in_use(), 0U);
}

TEST_F(PoolBudget, CallerAtTheGlobalLimitTimesOutNamingTheLimit) {
  auto budget = std::make_shared<ConnectionBudget>(1);
  FakePool alice(options_with(budget, "alice"), driver);
  auto bob_options = options_with(budget, "bob");
  bob_options.acquire_timeout = 20ms;
  FakePool bob(bob_options, driver);
  auto held = alice.connect();

  try {
    (void)bob.connect();
    FAIL() << "bob got a connection beyond the global limit";
  } catch (const AcquireTimeout& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'bob'"));
    EXPECT_THAT(e.what(), HasSubstr("global connection limit (1)"));
  }
  EXPECT_EQ(bob.total_count(), 0U);
  EXPECT_EQ(bob.stats().timeouts, 1U);
}

TEST_F(PoolBudget, IdleConnectionOfAnotherPoolIsEvictedToMakeRoom) {
  auto budget = std::make_shared<ConnectionBudget>(1);
  FakePool alice(options_with(budget, "alice"), driver);
  FakePool bob(options_with(budget, "bob"), driver);
  budget->set_evictor([&alice] { return pgobo::detail::PoolManagerGate{alice}.close_one_idle(); });
  { auto idle = alice.connect(); }

  auto lease = bob.connect();

  EXPECT_TRUE(lease);
  EXPECT_EQ(alice.total_count(), 0U);
  EXPECT_EQ(alice.stats().closed.evicted, 1U);
  EXPECT_EQ(budget->in_use(), 1U);
}

TEST_F(PoolBudget, FailedOpenGivesItsSlotBack) {
  auto budget = std::make_shared<ConnectionBudget>(1);
  FakePool pool(options_with(budget, "alice"), driver);
  driver.fail_opens<ServerUnavailable>("connection refused");

  EXPECT_THROW((void)pool.connect(), ServerUnavailable);

  EXPECT_EQ(budget->in_use(), 0U);
}

TEST_F(PoolBudget, ReapFillsMinIdleOnlyAsFarAsTheBudgetAllowsWithoutWaiting) {
  auto budget = std::make_shared<ConnectionBudget>(1);
  auto options = options_with(budget, "alice");
  options.min_idle = 2;
  FakePool pool(options, driver);

  pool.reap();

  EXPECT_EQ(pool.idle_count(), 1U);
  EXPECT_EQ(budget->in_use(), 1U);
}

}  // namespace
}  // namespace pgobo::test
