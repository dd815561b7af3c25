// Two invariants of PoolManager, each pinned at the moment it used to break:
// - a pool serves only the identity it was built for: a context that shares
//   only the key (one user's email is another's user id) is refused, and a
//   key too long for a PostgreSQL role name is refused, not cut;
// - counters never go down, also while a pool leaves the manager (stats()
//   during an eviction, after close()).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fake_pool_test.hpp"
#include "pgobo/pool_manager.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using Manager = FakeManager;

class ManagerInvariants : public FakePoolTest {
 protected:
  static FakeManager::Options options() { return fake_manager_options(); }
};

TEST_F(ManagerInvariants, AContextSharingOnlyTheKeyWithAnotherIdentityIsRefused) {
  auto o = options();
  o.role_for = [](const UserContext& u) { return "role-" + u.user_id(); };
  Manager manager(o, driver);
  const UserContext a = make_user_context("a", "shared@example.com", "token-a");
  const UserContext b = make_user_context("shared@example.com", "", "token-b");
  ASSERT_EQ(a.key(), b.key());
  auto lease = manager.connect(a);
  ASSERT_EQ(lease->user(), "role-a");

  try {
    (void)manager.connect(b);  // before: a rebuilt pool... or a's pool, as role-a
    FAIL() << "b was given the pool built for a";
  } catch (const IdentityConflict& e) {
    EXPECT_THAT(e.what(), HasSubstr("user id and email"));
    EXPECT_THAT(e.what(), Not(HasSubstr("shared@example.com")));  // no header value echoed
  }
  EXPECT_EQ(manager.stats().pools_created, 1U);
  EXPECT_EQ(manager.stats().rebuilds, 0U);
}

TEST_F(ManagerInvariants, TheSameIdentityWithTheSameTokenKeepsItsPool) {
  Manager manager(options(), driver);
  auto first = manager.get_pool(make_user_context("a", "alice@example.com", "token"));

  auto again = manager.get_pool(make_user_context("a", "alice@example.com", "token"));

  EXPECT_EQ(first, again);
}

TEST_F(ManagerInvariants, AnEmailUsedWithAnotherUserIdIsRefusedEvenWithItsOwnToken) {
  Manager manager(options(), driver);
  (void)manager.get_pool(make_user_context("a", "alice@example.com", "token-1"));

  EXPECT_THROW((void)manager.get_pool(make_user_context("z", "alice@example.com", "token-2")),
               IdentityConflict);
}

TEST_F(ManagerInvariants, AKeyLongerThanARoleNameIsRefusedNotCut) {
  Manager manager(options(), driver);
  const std::string local(60, 'x');  // two such emails would meet at 63 bytes

  try {
    (void)manager.get_pool(make_user_context("id", local + "@example.com", "token"));
    FAIL() << "a 72-byte role name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("72 bytes"));
    EXPECT_THAT(e.what(), HasSubstr("63 bytes"));
  }
  EXPECT_EQ(manager.size(), 0U);
}

TEST_F(ManagerInvariants, CountersDoNotDropWhileAnEvictedPoolClosesItsConnections) {
  auto o = options();
  o.max_pools = 1;
  Manager manager(o, driver);
  { auto lease = manager.connect(make_user_context("a", "alice@example.com", "t")); }
  ASSERT_EQ(manager.stats().connections_created, 1U);
  driver.hang_closes();

  // Bob needs alice's place: her pool is evicted, and ending it closes her
  // idle connection, which the gate holds.
  std::thread bob([&] { (void)manager.get_pool(make_user_context("b", "bob@example.com", "t")); });
  ASSERT_TRUE(driver.wait_for_hanging_closes(1));
  const auto during = manager.stats();  // before: 0, alice's pool unlinked, not yet absorbed
  driver.release_closes();
  bob.join();

  EXPECT_EQ(during.connections_created, 1U);
  EXPECT_EQ(during.acquired, 1U);
  EXPECT_EQ(manager.stats().connections_created, 1U);
}

TEST_F(ManagerInvariants, CountersSurviveCloseAll) {
  Manager manager(options(), driver);
  { auto lease = manager.connect(make_user_context("a", "alice@example.com", "t")); }
  { auto lease = manager.connect(make_user_context("b", "bob@example.com", "t")); }

  manager.close();

  const auto after = manager.stats();  // before: 0 and 0
  EXPECT_EQ(after.connections_created, 2U);
  EXPECT_EQ(after.acquired, 2U);
}

}  // namespace
}  // namespace pgobo::test
