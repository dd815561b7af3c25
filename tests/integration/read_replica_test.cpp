// Read replicas (RoutingConfig::read_hosts) against a real streaming replica:
// a private primary and a hot standby made from it with pg_basebackup -R
// (PrivatePg::standby_of). The shared server must stay as it is.
//
// query_read_only() of the service principal and of a user lands on the
// standby (pg_is_in_recovery() is true there); query() stays on the primary,
// so a write is never tried on the standby; an SQL error on the standby is not
// run again on the primary; with the standby stopped, query_read_only() runs
// on the primary. And target_session_attrs=read-write skips the hot standby.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "pg_fixture.hpp"
#include "pgobo/routing_pool.hpp"
#include "private_pg.hpp"
#include "test_routing.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

// Runs under the shared fixture only for its rule on a missing server. The
// primary and its standby are made once for the suite (a base backup costs
// seconds); the test that stops the standby starts it again and waits until
// reads land on it.
class ReadReplica : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!primary_) {
      primary_ = std::make_unique<PrivatePg>();
      primary_->create_login_role(kServiceRole);
      primary_->create_login_role(kAlice);
      standby_ = PrivatePg::standby_of(*primary_);
    }
  }
  static void TearDownTestSuite() {
    standby_.reset();
    primary_.reset();
  }

  [[nodiscard]] static HostPort server_of(const PrivatePg& pg) {
    return HostPort{pg.server().host, static_cast<std::uint16_t>(pg.server().port)};
  }

  // A router on the primary whose query_read_only() goes to the standby.
  [[nodiscard]] std::unique_ptr<RoutingPool> router() const {
    RoutingConfig c = routing_config(primary_->server(), "pgobo-read-replica");
    c.service.pool.connect_backoff_max = 200ms;
    c.user_pool.connect_backoff_max = 200ms;
    c.read_hosts = {server_of(*standby_)};
    return RoutingPool::create(std::move(c));
  }

  static inline std::unique_ptr<PrivatePg> primary_;
  static inline std::unique_ptr<PrivatePg> standby_;
};

bool in_recovery(const pqxx::result& result) { return result[0][0].as<bool>(); }

// One test for what needs the standby up (each test costs a primary and a
// base backup): where reads and writes go, SQL errors, read-write.
TEST_F(ReadReplica, ReadsLandOnTheStandbyWritesStayOnThePrimaryAndReadWriteSkipsTheStandby) {
  {
    SCOPED_TRACE("reads on the standby, query() on the primary");
    auto db = router();
    ASSERT_NE(db->read_service_pool(), nullptr);
    const auto alice = make_user_context("id-alice", kAlice, "token-of-alice");

    EXPECT_TRUE(in_recovery(db->query_read_only("SELECT pg_is_in_recovery()")));
    EXPECT_TRUE(in_recovery(db->as_user(alice).query_read_only("SELECT pg_is_in_recovery()")));
    EXPECT_EQ(db->as_user(alice).query_read_only("SELECT current_user")[0][0].as<std::string>(),
              kAlice)
        << "the user's replica pool logs in as the user";
    EXPECT_EQ(db->read_pg_config().port, standby_->server().port);

    // query() is never sent to the standby: a write there would fail.
    EXPECT_FALSE(in_recovery(db->query("SELECT pg_is_in_recovery()")));
    EXPECT_NO_THROW(db->query("CREATE TEMP TABLE written_on_the_primary (x int)"));
    EXPECT_FALSE(in_recovery(db->as_user(alice).query("SELECT pg_is_in_recovery()")));
    EXPECT_EQ(db->service_pool().stats().acquired, 2U);
    EXPECT_EQ(db->read_service_pool()->stats().acquired, 1U);
  }
  {
    SCOPED_TRACE("an SQL error on the standby is not run again on the primary");
    auto db = router();
    EXPECT_THROW((void)db->query_read_only("SELECT 1 / 0"), pqxx::data_exception);
    EXPECT_EQ(db->service_pool().stats().acquired, 0U) << "the primary was not asked";
    EXPECT_EQ(db->read_service_pool()->stats().acquired, 1U);
  }
  for (const auto attrs : {TargetSessionAttrs::any, TargetSessionAttrs::read_write}) {
    SCOPED_TRACE(std::string("the standby listed first, target_session_attrs=") +
                 std::string(to_string(attrs)));
    RoutingConfig c = routing_config(standby_->server(), "pgobo-read-replica-rw");
    c.service.pool.connection.additional_hosts = {server_of(*primary_)};
    c.service.pool.connection.target_session_attrs = attrs;
    auto db = RoutingPool::create(std::move(c));
    EXPECT_EQ(in_recovery(db->query("SELECT pg_is_in_recovery()")),
              attrs == TargetSessionAttrs::any);
  }
}

TEST_F(ReadReplica, WithTheStandbyStoppedReadsRunOnThePrimary) {
  auto db = router();
  const auto alice = make_user_context("id-alice", kAlice, "token-of-alice");
  ASSERT_TRUE(in_recovery(db->query_read_only("SELECT pg_is_in_recovery()")));
  ASSERT_TRUE(in_recovery(db->as_user(alice).query_read_only("SELECT pg_is_in_recovery()")));

  standby_->stop();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(in_recovery(db->query_read_only("SELECT pg_is_in_recovery()")));
    EXPECT_FALSE(in_recovery(db->as_user(alice).query_read_only("SELECT pg_is_in_recovery()")));
  }
  const auto took = std::chrono::steady_clock::now() - started;
  std::cout << "[ measured ] 40 reads with the standby down, all on the primary, in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";

  // Back up: the replica pools serve again once their backoff has passed.
  standby_->start();
  EXPECT_TRUE(poll_until(
      [&] { return in_recovery(db->query_read_only("SELECT pg_is_in_recovery()")); }, 10s));
  EXPECT_TRUE(poll_until(
      [&] { return in_recovery(db->as_user(alice).query_read_only("SELECT pg_is_in_recovery()")); },
      10s));
}

}  // namespace
}  // namespace pgobo::test
