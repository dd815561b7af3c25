// The base of the tests of the pool's logic over FakeDriver (tests/unit/
// pool_*_test.cpp): a fresh FakeClock and a driver per test, and the pool and
// manager types they test. A suite derives its fixture from it and adds only
// what is its own.
//
//   class PoolAcquire : public FakePoolTest {};
//   TEST_F(PoolAcquire, ...) { FakePool pool(fake_pool_options(), driver); ... }
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "fake_driver.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/pool_manager.hpp"
#include "wait.hpp"

namespace pgobo::test {

using FakePool = BasicPool<FakeDriver, FakeClock>;
using FakeManager = BasicPoolManager<FakeDriver, FakeClock>;

class FakePoolTest : public ::testing::Test {
 protected:
  void SetUp() override { FakeClock::reset(); }

  FakeDriver driver;
};

// Manager options for tests: fake_pool_options(3) per user, no sweeper
// thread (tests call sweep() themselves), password "pw-for-<user id>".
inline FakeManager::Options fake_manager_options() {
  FakeManager::Options o;
  o.user_pool = fake_pool_options(3);
  o.sweep_interval = std::chrono::milliseconds(0);
  o.credentials_for = [](const UserContext& u) {
    return std::make_shared<StaticPassword>(Secret("pw-for-" + u.user_id()));
  };
  return o;
}

}  // namespace pgobo::test
