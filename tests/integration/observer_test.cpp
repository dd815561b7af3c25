// PoolObserver against a real PostgreSQL: what a RoutingPool's hooks carry
// for traces (the server, the pool, rows, SQLSTATEs), real logins and their
// failures without the password, and a leak reported with where the lease was
// taken. The hooks' order over FakeDriver: tests/unit/observer_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include "pgobo/source_location.hpp"

#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "recording_observer.hpp"
#include "secret_guard.hpp"
#include "test_routing.hpp"
#include "test_users.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ObserverIntegration : public PgTest {
 protected:
  [[nodiscard]] RoutingConfig config() const {
    RoutingConfig c = routing_config(server(), "pgobo-observer-test", 2);
    c.observer = seen;
    return c;
  }

  // The events of one kind whose pool is `pool`.
  [[nodiscard]] std::vector<RecordingObserver::Event> of(std::string_view kind,
                                                         std::string_view pool) const {
    std::vector<RecordingObserver::Event> out;
    for (const auto& e : seen->of_kind(kind)) {
      if (e.pool == pool) out.push_back(e);
    }
    return out;
  }

  std::shared_ptr<RecordingObserver> seen = std::make_shared<RecordingObserver>();
};

TEST_F(ObserverIntegration, EachQueryNamesItsServerPoolAndRowsAsATraceNeeds) {
  auto db = RoutingPool::create(config());
  const auto all = db->query("SELECT owner FROM app.notes");
  const auto alice = shared_user(kAlice);
  const auto hers = db->as_user(alice).query("SELECT owner FROM app.notes");
  ASSERT_GT(all.size(), hers.size());  // RLS: she sees only hers

  const auto sp = of("query_ended", "sp");
  ASSERT_EQ(sp.size(), 1U);
  EXPECT_EQ(sp[0].rows, static_cast<std::size_t>(all.size()));
  EXPECT_EQ(sp[0].detail, "");
  const std::string where =
      server().host + ":" + std::to_string(server().port) + "/" + server().database;
  EXPECT_THAT(sp[0].text, HasSubstr("SELECT owner FROM app.notes | "));
  EXPECT_THAT(sp[0].text, HasSubstr(where + " as " + kServiceRole));

  const auto user = of("query_ended", "user:" + std::string(kAlice));
  ASSERT_EQ(user.size(), 1U);
  EXPECT_EQ(user[0].rows, static_cast<std::size_t>(hers.size()));
  EXPECT_THAT(user[0].text, HasSubstr(where + " as " + std::string(kAlice)));
  // Her pool's login is part of her first query's time.
  const auto opened = of("connection_opened", "user:" + std::string(kAlice));
  ASSERT_EQ(opened.size(), 1U);
  EXPECT_LE(opened[0].duration, user[0].duration);
}

TEST_F(ObserverIntegration, AServerErrorEndsTheQueryWithItsSqlstate) {
  auto db = RoutingPool::create(config());
  EXPECT_THROW((void)db->query("SELECT 1 / 0"), pqxx::sql_error);
  EXPECT_THROW((void)db->as_user(shared_user(kAlice)).query("SELECT * FROM pg_authid"),
               pqxx::sql_error);
  const auto ended = seen->of_kind("query_ended");
  ASSERT_EQ(ended.size(), 2U);
  EXPECT_EQ(ended[0].detail, "22012");  // division_by_zero: error.type is the SQLSTATE
  EXPECT_THAT(ended[0].text, HasSubstr("| 22012 |"));
  EXPECT_EQ(ended[1].detail, "42501");  // insufficient_privilege
  EXPECT_FALSE(ended[1].rows.has_value());
}

TEST_F(ObserverIntegration, ARealLoginIsOpeningFetchOpenedInOrder) {
  auto db = RoutingPool::create(config());
  (void)db->as_user(shared_user(kAlice)).query("SELECT 1");
  const std::string pool = "user:" + std::string(kAlice);
  EXPECT_THAT(seen->kinds(pool),
              ElementsAre("query_started", "pool_changed", "acquire_started", "connection_opening",
                          "credential_fetch_started", "credential_fetch_ended", "connection_opened",
                          "acquire_ended", "lease_returned", "query_ended"));
  const auto opened = of("connection_opened", pool);
  ASSERT_EQ(opened.size(), 1U);
  EXPECT_GT(opened[0].duration.count(), 0);  // a scram login over TCP takes time
  EXPECT_EQ(db->stats().users.create_time.count, 1U);
}

TEST_F(ObserverIntegration, AWrongPasswordIsAnOpenFailureThatNeverShowsIt) {
  const std::string wrong = "wrong-observer-password-" + std::to_string(server().port) + "-x9";
  register_secret(wrong);
  RoutingConfig c = config();
  c.user_credentials = [wrong](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret(wrong));
  };
  auto db = RoutingPool::create(std::move(c));
  EXPECT_THROW((void)db->as_user(shared_user(kAlice)).query("SELECT 1"), AuthenticationFailed);
  const auto failed = seen->of_kind("connection_open_failed");
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0].detail, "pgobo::AuthenticationFailed");
  EXPECT_THAT(failed[0].text, HasSubstr("password authentication failed"));
  EXPECT_EQ(seen->of_kind("query_ended")[0].detail, "pgobo::AuthenticationFailed");
  EXPECT_THAT(seen->transcript(), Not(HasSubstr(wrong)));
  EXPECT_THAT(known_secrets_in(seen->transcript()), IsEmpty());
}

TEST_F(ObserverIntegration, ALeaseHeldPastTheThresholdIsReportedWithWhereItWasTaken) {
  RoutingConfig c = config();
  c.service.pool.leak_detection_threshold = 5ms;
  auto db = RoutingPool::create(std::move(c));
  const SourceLocation here = SourceLocation::current();
  {
    auto lease = db->connect();  // two lines after `here`
    pqxx::nontransaction tx(*lease);
    tx.exec("SELECT pg_sleep(0.02)");  // held at least 20 ms, measured by the server
  }
  const auto leaks = seen->of_kind("lease_leak_suspected");
  ASSERT_EQ(leaks.size(), 1U);
  EXPECT_EQ(leaks[0].pool, "sp");
  EXPECT_GE(leaks[0].duration, 20ms);
  EXPECT_EQ(leaks[0].where.line(), here.line() + 2);
  EXPECT_THAT(leaks[0].text, HasSubstr("observer_test.cpp"));
  EXPECT_EQ(db->stats().service.leaks_suspected, 1U);
}

}  // namespace
}  // namespace pgobo::test
