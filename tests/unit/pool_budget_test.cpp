// A budget shared by pools: each open takes a permit, each close gives it
// back, and at the limit an idle connection of another pool can be evicted
// to make room; otherwise the caller times out naming the global limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "fake_pool_test.hpp"
#include "pgobo/detail/budget.hpp"
#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PoolBudget : public FakePoolTest {
 protected:
  static PoolOptions options_named(std::string name) {
    auto options = fake_pool_options(3);
    options.name = std::move(name);
    return options;
  }
  // A pool whose opens count against `shared`, as PoolManager makes them.
  std::shared_ptr<FakePool> pool_sharing(std::shared_ptr<detail::Budget> shared,
                                         PoolOptions options) {
    return detail::PoolManagerGate<FakePool>::make_shared(std::move(options), driver,
                                                          std::move(shared));
  }
};

TEST_F(PoolBudget, EachOpenTakesAPermitAndEachCloseGivesItBack) {
  auto budget = std::make_shared<detail::Budget>(5);
  auto pool = pool_sharing(budget, options_named("alice"));
  {
    auto a = pool->connect();
    auto b = pool->connect();
    EXPECT_EQ(budget->in_use(), 2U);
  }

  pool->close_idle_connections();

  EXPECT_EQ(budget->in_use(), 0U);
}

TEST_F(PoolBudget, CallerAtTheGlobalLimitTimesOutNamingTheLimit) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto alice = pool_sharing(budget, options_named("alice"));
  auto bob_options = options_named("bob");
  bob_options.acquire_timeout = 20ms;
  auto bob = pool_sharing(budget, bob_options);
  auto held = alice->connect();

  try {
    (void)bob->connect();
    FAIL() << "bob got a connection beyond the global limit";
  } catch (const AcquireTimeout& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool 'bob'"));
    EXPECT_THAT(e.what(), HasSubstr("global connection limit (1)"));
  }
  EXPECT_EQ(bob->total_count(), 0U);
  EXPECT_EQ(bob->stats().timeouts, 1U);
}

TEST_F(PoolBudget, IdleConnectionOfAnotherPoolIsEvictedToMakeRoom) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto alice = pool_sharing(budget, options_named("alice"));
  auto bob = pool_sharing(budget, options_named("bob"));
  budget->set_evictor([&alice] { return pgobo::detail::PoolManagerGate{*alice}.close_one_idle(); });
  { auto idle = alice->connect(); }

  auto lease = bob->connect();

  EXPECT_TRUE(lease);
  EXPECT_EQ(alice->total_count(), 0U);
  EXPECT_EQ(alice->stats().closed.evicted, 1U);
  EXPECT_EQ(budget->in_use(), 1U);
}

TEST_F(PoolBudget, FailedOpenGivesItsPermitBack) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto pool = pool_sharing(budget, options_named("alice"));
  driver.fail_opens<ServerUnavailable>("connection refused");

  EXPECT_THROW((void)pool->connect(), ServerUnavailable);

  EXPECT_EQ(budget->in_use(), 0U);
}

TEST_F(PoolBudget, ReapFillsMinIdleOnlyAsFarAsTheBudgetAllowsWithoutWaiting) {
  auto budget = std::make_shared<detail::Budget>(1);
  auto options = options_named("alice");
  options.min_idle = 2;
  auto pool = pool_sharing(budget, options);

  pool->reap();

  EXPECT_EQ(pool->idle_count(), 1U);
  EXPECT_EQ(budget->in_use(), 1U);
}

}  // namespace
}  // namespace pgobo::test
