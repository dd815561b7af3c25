// BasicRoutingPool over FakeDriver: which pool each call reaches. The same
// against a real server (with RLS) is in tests/integration/routing_*_test.cpp.
#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "fake_driver.hpp"
#include "pgobo/context.hpp"
#include "pgobo/routing_pool.hpp"
#include "test_users.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using Router = BasicRoutingPool<FakeDriver>;

class RoutingPoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Router> make_router() {
    PoolOptions service = fake_pool_options(2);
    service.name = "service";
    service.connection.user = "pgobo_service";
    Router::Manager::Options users;
    users.user_pool = fake_pool_options(3);
    users.sweep_interval = 0ms;
    users.credentials_for = [](const UserContext& u) {
      return std::make_shared<StaticPassword>(Secret("pw-" + u.key()));
    };
    return std::make_unique<Router>(std::make_shared<Router::Pool>(service, driver),
                                    std::move(users), driver);
  }

  FakeDriver driver;
};

TEST_F(RoutingPoolTest, WithoutAUserContextQueriesRunAsTheServicePrincipal) {
  auto router = make_router();
  ASSERT_EQ(current_user_ptr(), nullptr);
  EXPECT_EQ(router->query("SELECT 1").user, "pgobo_service");
  EXPECT_EQ(router->manager().size(), 0U);
}

TEST_F(RoutingPoolTest, InsideAUserScopeQueriesRunInThatUsersPool) {
  auto router = make_router();
  {
    const UserScope scope(user_context("alice@example.com"));
    EXPECT_EQ(router->query("SELECT 1").user, "alice@example.com");
  }
  EXPECT_EQ(router->query("SELECT 1").user, "pgobo_service");
  EXPECT_TRUE(router->manager().has_pool("alice@example.com"));
}

TEST_F(RoutingPoolTest, AsUserIgnoresTheThreadsContext) {
  auto router = make_router();
  auto bob = router->as_user(user_context("bob@example.com"));
  EXPECT_EQ(bob.query("SELECT 1").user, "bob@example.com");
  {
    const UserScope scope(user_context("alice@example.com"));
    EXPECT_EQ(bob.query("SELECT 1").user, "bob@example.com");
    EXPECT_EQ(current_user_ptr()->key(), "alice@example.com");  // restored after the call
  }
  EXPECT_EQ(current_user_ptr(), nullptr);
  EXPECT_THROW((void)router->as_user(std::shared_ptr<const UserContext>{}), AuthenticationError);
}

TEST_F(RoutingPoolTest, ConnectLendsAConnectionOfTheActivePoolThatOutlivesItsPoolsRemoval) {
  auto router = make_router();
  Router::Lease lease;
  {
    const UserScope scope(user_context("alice@example.com"));
    lease = router->connect();
  }
  EXPECT_EQ(lease->user(), "alice@example.com");
  router->manager().close_pool("alice@example.com");  // the manager lets go of the pool
  EXPECT_EQ(lease->user(), "alice@example.com");      // the lease keeps it alive
  lease.release();
  EXPECT_EQ(driver.open_now(), 0U);  // drained pool closed the connection on return
}

TEST_F(RoutingPoolTest, CountsFollowThePoolTheCallerWouldBeRoutedTo) {
  auto router = make_router();
  auto service_lease = router->connect();
  EXPECT_EQ(router->total_count(), 1U);
  const UserScope scope(user_context("alice@example.com"));
  EXPECT_EQ(router->total_count(), 0U);  // alice has no pool yet; none is created
  EXPECT_FALSE(router->manager().has_pool("alice@example.com"));
  router->query("SELECT 1");
  EXPECT_EQ(router->total_count(), 1U);
  EXPECT_EQ(router->idle_count(), 1U);
  EXPECT_EQ(router->waiting_count(), 0U);
}

TEST_F(RoutingPoolTest, PgConfigDescribesTheActiveIdentity) {
  auto router = make_router();
  EXPECT_EQ(router->pg_config().user, "pgobo_service");
  const UserScope scope(user_context("alice@example.com"));
  EXPECT_EQ(router->pg_config().user, "alice@example.com");
}

TEST_F(RoutingPoolTest, ReadOnlyQueriesRunInsideAReadOnlyTransaction) {
  auto router = make_router();
  const auto result = router->query_read_only("SELECT * FROM app.notes WHERE id = $1", 7);
  EXPECT_EQ(result.parameter_count, 1U);
  auto lease = router->connect();
  const auto& statements = lease->statements();
  ASSERT_GE(statements.size(), 3U);
  EXPECT_EQ(statements[statements.size() - 3], "BEGIN READ ONLY");
  EXPECT_EQ(statements.back(), "ROLLBACK");
}

TEST_F(RoutingPoolTest, AReadOnlyQueryIsFollowedByASessionResetARoutedQueryIsNot) {
  auto router = make_router();
  const UserScope scope(user_context("alice@example.com"));

  (void)router->query("SELECT 1");
  const std::size_t after_query = driver.resets();
  (void)router->query_read_only("SELECT 1");

  EXPECT_EQ(after_query, 0U);
  EXPECT_EQ(driver.resets(), 1U);
}

TEST_F(RoutingPoolTest, ReadOnlyPolicyRefusesWritesBeforeTakingAConnection) {
  auto router = make_router();
  EXPECT_THROW((void)router->query_read_only("DELETE FROM app.notes"), SqlPolicyError);
  EXPECT_EQ(driver.open_calls(), 0U);
}

TEST_F(RoutingPoolTest, CloseClosesTheServicePoolAndEveryUserPool) {
  auto router = make_router();
  router->query("SELECT 1");
  router->as_user(user_context("alice@example.com")).query("SELECT 1");
  router->as_user(user_context("bob@example.com")).query("SELECT 1");
  EXPECT_EQ(driver.open_now(), 3U);
  router->close();
  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_THROW(router->query("SELECT 1"), PoolClosed);
  EXPECT_THROW(router->as_user(user_context("alice@example.com")).query("SELECT 1"), PoolClosed);
  router->close();  // idempotent
}

// Gives the replica the whole capacity; records what was open when it left.
class LeavingDirectory final : public ReplicaDirectory {
 public:
  explicit LeavingDirectory(std::function<void()> on_leave) : on_leave_(std::move(on_leave)) {}
  void heartbeat(const Decide& decide) override {
    View view;
    view.server = {100, 3, 0};
    (void)decide(view);
  }
  void leave() noexcept override { on_leave_(); }

 private:
  std::function<void()> on_leave_;
};

TEST_F(RoutingPoolTest, UnderTheConnectionLimitTheClaimIsWithdrawnOnlyOnceTheUserPoolsClosed) {
  PoolOptions service = fake_pool_options(2);
  service.name = "service";
  service.connection.user = "pgobo_service";
  Router::Manager::Options users;
  users.user_pool = fake_pool_options(3);
  users.sweep_interval = 0ms;
  users.max_total_connections_adjustable = true;
  users.credentials_for = [](const UserContext& u) {
    return std::make_shared<StaticPassword>(Secret("pw-" + u.key()));
  };
  auto router = std::make_unique<Router>(std::make_shared<Router::Pool>(service, driver),
                                         std::move(users), driver);
  Router::Manager& manager = router->manager();
  ConnectionLimitOptions limit;
  limit.automatic = true;
  limit.interval = 1h;  // one heartbeat, at start
  limit.dead_replica_timeout = 3h;
  std::size_t open_at_leave = 99;
  std::size_t user_permits_at_leave = 99;
  bool service_open_at_leave = false;
  auto directory = std::make_unique<LeavingDirectory>([&] {
    open_at_leave = driver.open_now();
    user_permits_at_leave = manager.budget_in_use();
    service_open_at_leave = router->service_pool().total_count() == 1;
  });
  router->attach_connection_limit(std::make_unique<ConnectionLimitCoordinator>(
      limit, 2, 0, std::move(directory),
      ConnectionLimitCoordinator::Target{
          [&manager](std::size_t n) { manager.set_max_total_connections(n); },
          [&manager] { return manager.budget_in_use(); }}));
  ASSERT_TRUE(eventually([&] { return router->stats().connection_limit.user_limit > 0U; }));
  router->query("SELECT 1");
  router->as_user(user_context("alice@example.com")).query("SELECT 1");
  ASSERT_EQ(driver.open_now(), 2U);

  router->close();

  // The user pools' connections were gone when the row was deleted (the
  // others may take them only then), and the service pool it was deleted
  // through still open.
  EXPECT_EQ(user_permits_at_leave, 0U);
  EXPECT_EQ(open_at_leave, 1U);
  EXPECT_TRUE(service_open_at_leave);
  EXPECT_EQ(driver.open_now(), 0U);
}

TEST_F(RoutingPoolTest, EndIsCloseUnderAppKitsName) {
  auto router = make_router();
  router->as_user(user_context("alice@example.com")).query("SELECT 1");

  router->end();

  EXPECT_EQ(driver.open_now(), 0U);
  EXPECT_THROW(router->query("SELECT 1"), PoolClosed);
}

TEST_F(RoutingPoolTest, StatsCoverTheServiceAndAllUserPools) {
  auto router = make_router();
  router->query("SELECT 1");
  router->as_user(user_context("alice@example.com")).query("SELECT 1");
  router->as_user(user_context("bob@example.com")).query("SELECT 1");
  const RoutingStats s = router->stats();
  EXPECT_EQ(s.service.acquired, 1U);
  EXPECT_EQ(s.users.pools, 2U);
  EXPECT_EQ(s.users.acquired, 2U);
}

}  // namespace
}  // namespace pgobo::test
