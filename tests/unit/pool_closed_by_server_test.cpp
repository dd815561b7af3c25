// A driver that can see, locally, that the server closed an idle connection
// (the optional PoolDriver member closed_by_server(), which PqxxDriver has):
// the pool looks before every lend of an idle connection, closes what the
// server closed (a shutdown, a failover) and lends another, so no caller gets
// a connection whose first statement fails. Fresh connections and connections
// handed straight from a release are not looked at.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "fake_pool_test.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

// FakeDriver plus closed_by_server(): a killed connection reads as closed.
class SeeingDriver : public FakeDriver {
 public:
  bool closed_by_server(FakeConnection& connection) const noexcept {
    ++*looks_;
    return connection.broken();
  }
  [[nodiscard]] int looks() const { return looks_->load(); }

 private:
  std::shared_ptr<std::atomic<int>> looks_ = std::make_shared<std::atomic<int>>(0);
};

static_assert(DriverSeesClosedConnections<SeeingDriver>);
static_assert(!DriverSeesClosedConnections<FakeDriver>);

using SeeingPool = BasicPool<SeeingDriver, FakeClock>;

class PoolClosedByServer : public FakePoolTest {
 protected:
  SeeingDriver seeing;
};

TEST_F(PoolClosedByServer, IdleConnectionsTheServerClosedAreReplacedNotLent) {
  SeeingPool pool(fake_pool_options(3), seeing);
  FakeConnection* first = nullptr;
  FakeConnection* second = nullptr;
  {
    auto a = pool.connect();
    auto b = pool.connect();
    first = &*a;
    second = &*b;
  }
  ASSERT_EQ(pool.idle_count(), 2U);
  // The server goes away while both sit idle.
  first->kill();
  second->kill();

  auto lease = pool.connect();

  EXPECT_FALSE(lease->broken());
  EXPECT_EQ(lease->id(), 3);
  EXPECT_EQ(seeing.looks(), 2);
  EXPECT_EQ(pool.stats().closed.broken, 2U);
  EXPECT_EQ(pool.total_count(), 1U);
}

TEST_F(PoolClosedByServer, ALiveIdleConnectionIsLookedAtOnceAndLent) {
  SeeingPool pool(fake_pool_options(3), seeing);
  { auto lease = pool.connect(); }  // opened: not looked at
  EXPECT_EQ(seeing.looks(), 0);

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 1);
  EXPECT_EQ(seeing.looks(), 1);
  EXPECT_EQ(seeing.pings(), 0U) << "no round trip without validate_idle_after";
}

TEST_F(PoolClosedByServer, WithValidationTheLocalLookComesFirstAndSparesThePing) {
  auto options = fake_pool_options(3);
  options.validate_idle_after = 0ms;
  SeeingPool pool(options, seeing);
  FakeConnection* raw = nullptr;
  {
    auto lease = pool.connect();
    raw = &*lease;
  }
  raw->kill();

  auto lease = pool.connect();

  EXPECT_EQ(lease->id(), 2);
  EXPECT_EQ(seeing.pings(), 0U);
  EXPECT_EQ(pool.stats().closed.broken, 1U);
  EXPECT_EQ(pool.stats().closed.validation_failed, 0U);
}

}  // namespace
}  // namespace pgobo::test
