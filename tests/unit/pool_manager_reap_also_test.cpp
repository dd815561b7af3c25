// PoolManager::reap_also(): the sweep also ages the service principal's pool,
// which the manager does not own (RoutingPool registers it).
#include <gtest/gtest.h>

#include <memory>

#include "fake_pool_test.hpp"
#include "pgobo/pool_manager.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using Manager = FakeManager;

class PoolManagerReapAlso : public FakePoolTest {};

TEST_F(PoolManagerReapAlso, SweepReapsARegisteredPoolWhileItLives) {
  Manager manager(fake_manager_options(), driver);
  auto service_options = fake_pool_options(2);
  service_options.idle_timeout = 30s;
  auto service = std::make_shared<Manager::Pool>(service_options, driver);
  manager.reap_also(service);

  service->query("SELECT 1");
  ASSERT_EQ(service->idle_count(), 1U);
  FakeClock::advance(31s);
  manager.sweep();
  EXPECT_EQ(service->idle_count(), 0U);
  EXPECT_EQ(service->stats().closed.idle_timeout, 1U);

  service.reset();  // held weakly: a destroyed pool is simply skipped
  manager.sweep();
  EXPECT_EQ(manager.stats().sweeps, 2U);
}

}  // namespace
}  // namespace pgobo::test
