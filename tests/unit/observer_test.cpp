// PoolObserver over FakeDriver: which hooks a pool, a manager and a router
// call, in which order, with what; lease-leak detection; pgobo's log lines
// as an observer. Against a real server: tests/integration/observer_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/except>
#include <string>
#include <vector>
#include "pgobo/source_location.hpp"

#include "fake_pool_test.hpp"
#include "log_capture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/routing_pool.hpp"
#include "recording_observer.hpp"
#include "secret_guard.hpp"
#include "test_users.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class Observer : public FakePoolTest {
 protected:
  // A pool with a registered password and the recording observer.
  PoolOptions observed_options(std::size_t max_size = 2) {
    PoolOptions o = fake_pool_options(max_size);
    o.credentials = std::make_shared<StaticPassword>(Secret(password));
    o.observer = seen;
    return o;
  }

  static void expect_non_negative(const std::vector<RecordingObserver::Event>& events) {
    for (const auto& e : events) EXPECT_GE(e.duration.count(), 0) << e.kind;
  }

  std::string password = [] {
    std::string p = "observer-test-password-5e1f0c";
    register_secret(p);
    return p;
  }();
  std::shared_ptr<RecordingObserver> seen = std::make_shared<RecordingObserver>();
};

TEST_F(Observer, AFirstConnectOpensAConnectionBetweenAcquireStartedAndEnded) {
  FakePool pool(observed_options(), driver);
  {
    auto lease = pool.connect();
    FakeClock::advance(25ms);
  }
  EXPECT_THAT(seen->kinds(), ElementsAre("acquire_started", "connection_opening",
                                         "credential_fetch_started", "credential_fetch_ended",
                                         "connection_opened", "acquire_ended", "lease_returned"));
  const auto ended = seen->of_kind("acquire_ended");
  ASSERT_EQ(ended.size(), 1U);
  EXPECT_EQ(ended[0].detail, "acquired");
  EXPECT_EQ(ended[0].text, "");  // no error type
  EXPECT_EQ(seen->of_kind("credential_fetch_ended")[0].detail, "");
  EXPECT_EQ(seen->of_kind("connection_opened")[0].detail, "1");  // 1 of max 2
  // The lease was held 25 ms on the pool's clock.
  EXPECT_EQ(seen->of_kind("lease_returned")[0].duration, 25ms);
  expect_non_negative(seen->events());
  for (const auto& e : seen->events()) EXPECT_EQ(e.pool, "test") << e.kind;
}

TEST_F(Observer, AnIdleConnectionIsLentWithoutOpeningOne) {
  FakePool pool(observed_options(), driver);
  { auto warm = pool.connect(); }
  seen->clear();
  { auto lease = pool.connect(); }
  EXPECT_THAT(seen->kinds(), ElementsAre("acquire_started", "acquire_ended", "lease_returned"));
}

TEST_F(Observer, AFailedOpenReportsItsTypeTheBackoffAndTheFailedAcquire) {
  FakePool pool(observed_options(), driver);
  driver.fail_opens<AuthenticationFailed>("password authentication failed for user \"alice\"");
  EXPECT_THROW((void)pool.connect(), AuthenticationFailed);
  EXPECT_THAT(seen->kinds(),
              ElementsAre("acquire_started", "connection_opening", "credential_fetch_started",
                          "credential_fetch_ended", "connection_open_failed", "backoff_started",
                          "acquire_ended"));
  const auto failed = seen->of_kind("connection_open_failed")[0];
  EXPECT_EQ(failed.detail, "pgobo::AuthenticationFailed");
  EXPECT_THAT(failed.text, HasSubstr("pool 'test': password authentication failed"));
  EXPECT_EQ(seen->of_kind("backoff_started")[0].duration, 50ms);  // the first backoff step
  const auto ended = seen->of_kind("acquire_ended")[0];
  EXPECT_EQ(ended.detail, "failed");
  EXPECT_EQ(ended.text, "pgobo::AuthenticationFailed");

  // The backoff passes; the next open succeeds and ends it.
  FakeClock::advance(1s);
  seen->clear();
  { auto lease = pool.connect(); }
  EXPECT_EQ(seen->count("connection_opened"), 1U);
  const auto recovered = seen->of_kind("backoff_ended");
  ASSERT_EQ(recovered.size(), 1U);
  EXPECT_EQ(recovered[0].detail, "1");  // one failure before
}

TEST_F(Observer, ASecondFailureInARowDoesNotStartAnotherBackoff) {
  PoolOptions o = observed_options();
  o.connect_backoff_max = 0ms;  // retry at once
  FakePool pool(o, driver);
  driver.fail_opens<ServerUnavailable>("connection refused", 2);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  EXPECT_THROW((void)pool.connect(), ServerUnavailable);
  EXPECT_EQ(seen->count("connection_open_failed"), 2U);
  EXPECT_EQ(seen->count("backoff_started"), 1U);
}

TEST_F(Observer, ATimedOutAcquireSaysSo) {
  PoolOptions o = observed_options(1);
  o.acquire_timeout = 20ms;
  FakePool pool(o, driver);
  auto held = pool.connect();
  seen->clear();
  EXPECT_THROW((void)pool.connect(), AcquireTimeout);
  EXPECT_THAT(seen->kinds(), ElementsAre("acquire_started", "acquire_ended"));
  const auto ended = seen->of_kind("acquire_ended")[0];
  EXPECT_EQ(ended.detail, "timed_out");
  EXPECT_EQ(ended.text, "pgobo::AcquireTimeout");
  EXPECT_GE(ended.duration, 20ms);  // it waited its acquire_timeout
}

TEST_F(Observer, AConnectOnAClosedPoolEndsClosed) {
  FakePool pool(observed_options(), driver);
  pool.close();
  EXPECT_THROW((void)pool.connect(), PoolClosed);
  const auto ended = seen->of_kind("acquire_ended");
  ASSERT_EQ(ended.size(), 1U);
  EXPECT_EQ(ended[0].detail, "closed");
}

TEST_F(Observer, EveryCloseSaysWhyAndWhetherTheConnectionMisbehaved) {
  FakePool pool(observed_options(), driver);
  {
    auto lease = pool.connect();
    lease.discard();
  }
  {
    auto lease = pool.connect();
    lease->kill();
  }
  { auto lease = pool.connect(); }
  pool.close();
  const auto closed = seen->of_kind("connection_closed");
  ASSERT_EQ(closed.size(), 3U);
  EXPECT_EQ(closed[0].detail, "discarded");
  EXPECT_FALSE(closed[0].flag);
  EXPECT_EQ(closed[1].detail, "broken");
  EXPECT_TRUE(closed[1].flag);
  EXPECT_EQ(closed[2].detail, "pool_ended");
  EXPECT_FALSE(closed[2].flag);
}

class ThrowingProvider final : public CredentialProvider {
 public:
  Credential get() override { throw std::runtime_error("token endpoint down"); }
};

TEST_F(Observer, CloseGivingUpOnALeaseStillOutIsReported) {
  PoolOptions o = observed_options();
  o.close_timeout = 20ms;
  FakePool pool(o, driver);
  auto held = pool.connect();
  pool.close();  // waits 20 ms for `held`, then gives up
  const auto gave_up = seen->of_kind("close_gave_up");
  ASSERT_EQ(gave_up.size(), 1U);
  EXPECT_EQ(gave_up[0].detail, "1");  // one lease still out
  EXPECT_EQ(gave_up[0].duration, 20ms);
  held.release();  // closes on return: the pool has ended
  EXPECT_EQ(seen->of_kind("connection_closed").back().detail, "pool_ended");
}

TEST_F(Observer, AFailingCredentialProviderIsReportedByType) {
  PoolOptions o = observed_options();
  o.credentials = std::make_shared<ThrowingProvider>();
  FakePool pool(o, driver);
  EXPECT_THROW((void)pool.connect(), CredentialError);
  const auto fetched = seen->of_kind("credential_fetch_ended");
  ASSERT_EQ(fetched.size(), 1U);
  EXPECT_EQ(fetched[0].detail, "pgobo::CredentialError");
  const auto failed = seen->of_kind("connection_open_failed");
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0].detail, "pgobo::CredentialError");
  EXPECT_THAT(failed[0].text, HasSubstr("the credential provider failed: token endpoint down"));
}

TEST_F(Observer, NoHookArgumentEverHoldsThePassword) {
  FakePool pool(observed_options(), driver);
  { auto lease = pool.connect(); }
  driver.fail_opens<AuthenticationFailed>("password authentication failed");
  pool.close_idle_connections();
  EXPECT_THROW((void)pool.connect(), AuthenticationFailed);
  ASSERT_FALSE(seen->events().empty());
  EXPECT_THAT(seen->transcript(), Not(HasSubstr(password)));
  EXPECT_THAT(known_secrets_in(seen->transcript()), IsEmpty());
}

// A hook may look at the pool: hooks never run under its lock.
class StatsReadingObserver : public PoolObserver {
 public:
  void on_acquire_ended(const AcquireEnded&) noexcept override { read(); }
  void on_lease_returned(const LeaseReturned&) noexcept override { read(); }
  void on_connection_opened(const ConnectionOpened&) noexcept override { read(); }
  void on_connection_closed(const ConnectionClosed&) noexcept override { read(); }
  FakePool* pool = nullptr;
  int reads = 0;

 private:
  void read() noexcept {
    if (pool != nullptr) {
      (void)pool->stats();
      ++reads;
    }
  }
};

TEST_F(Observer, AHookMayReadThePoolsStats) {
  PoolOptions o = fake_pool_options(2);
  auto reader = std::make_shared<StatsReadingObserver>();
  o.observer = reader;
  FakePool pool(o, driver);
  reader->pool = &pool;
  {
    auto lease = pool.connect();
    lease.discard();
  }
  EXPECT_EQ(reader->reads, 4);  // opened, acquire ended, returned, closed
  reader->pool = nullptr;
}

// Writes its name into a shared order on each acquire.
class NamedObserver final : public PoolObserver {
 public:
  NamedObserver(std::string name, std::vector<std::string>& order)
      : name_(std::move(name)), order_(order) {}
  void on_acquire_started(const AcquireStarted&) noexcept override { order_.push_back(name_); }

 private:
  std::string name_;
  std::vector<std::string>& order_;
};

TEST_F(Observer, AnObserverListTellsEachInOrderAndSkipsNull) {
  std::vector<std::string> order;
  auto recorder = std::make_shared<RecordingObserver>();
  PoolOptions o = fake_pool_options(1);
  o.observer = std::make_shared<ObserverList>(std::initializer_list<std::shared_ptr<PoolObserver>>{
      std::make_shared<NamedObserver>("first", order), nullptr,
      std::make_shared<NamedObserver>("second", order), recorder});
  FakePool pool(o, driver);
  { auto lease = pool.connect(); }
  { auto lease = pool.connect(); }
  EXPECT_THAT(order, ElementsAre("first", "second", "first", "second"));
  EXPECT_EQ(recorder->count("acquire_started"), 2U);
}

TEST_F(Observer, WithoutAnObserverThePoolStillLogs) {
  const LogCapture log;
  FakePool pool(fake_pool_options(1), driver);
  {
    auto lease = pool.connect();
    lease.discard();
  }
  EXPECT_THAT(log.text(), HasSubstr("pool 'test': opened a connection (1 of max 1)"));
  EXPECT_THAT(log.text(), HasSubstr("pool 'test': closing a connection: discarded by its lease"));
}

TEST_F(Observer, TheStatsCountDurationsInHistograms) {
  FakePool pool(observed_options(), driver);
  for (int i = 0; i < 3; ++i) {
    auto lease = pool.connect();
    FakeClock::advance(2ms);  // held 2 ms each: the (0.001, 0.005] bucket
  }
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.create_time.count, 1U);  // one connection, lent three times
  EXPECT_EQ(s.wait_time.count, 3U);
  EXPECT_EQ(s.wait_time.buckets[0], 3U);  // none waited
  EXPECT_EQ(s.use_time.count, 3U);
  EXPECT_EQ(s.use_time.buckets[1], 3U);
  EXPECT_EQ(s.use_time.sum_nanoseconds, 6'000'000U);
  EXPECT_DOUBLE_EQ(s.use_time.sum_seconds(), 0.006);
}

// --- lease-leak detection ---------------------------------------------------

class LeakDetection : public Observer {
 protected:
  PoolOptions leak_options() {
    PoolOptions o = observed_options();
    o.leak_detection_threshold = 100ms;
    return o;
  }
};

TEST_F(LeakDetection, ReapReportsALeaseOutPastTheThresholdOnceWithWhereItWasTaken) {
  const LogCapture log;
  FakePool pool(leak_options(), driver);
  const SourceLocation here = SourceLocation::current();
  auto lease = pool.connect();  // the line after `here`
  FakeClock::advance(99ms);
  pool.reap();
  EXPECT_EQ(seen->count("lease_leak_suspected"), 0U);
  FakeClock::advance(1ms);
  pool.reap();
  pool.reap();  // once only
  const auto leaks = seen->of_kind("lease_leak_suspected");
  ASSERT_EQ(leaks.size(), 1U);
  EXPECT_TRUE(leaks[0].flag);  // still out
  EXPECT_EQ(leaks[0].duration, 100ms);
  EXPECT_EQ(leaks[0].detail, "100");
  EXPECT_STREQ(leaks[0].where.file_name(), here.file_name());
  EXPECT_EQ(leaks[0].where.line(), here.line() + 1);
  EXPECT_EQ(pool.stats().leaks_suspected, 1U);
  EXPECT_THAT(log.text(), HasSubstr("pool 'test': a lease has been out for 100 ms "
                                    "(leak_detection_threshold 100 ms); acquired at "));
  EXPECT_THAT(log.text(), HasSubstr("observer_test.cpp:" + std::to_string(here.line() + 1)));
  lease.release();  // reported already: not again
  EXPECT_EQ(seen->count("lease_leak_suspected"), 1U);
  EXPECT_EQ(pool.stats().leaks_suspected, 1U);
}

TEST_F(LeakDetection, WithoutAReapALeaseComingBackLateIsReportedThen) {
  FakePool pool(leak_options(), driver);
  {
    auto lease = pool.connect();
    FakeClock::advance(150ms);
  }
  const auto leaks = seen->of_kind("lease_leak_suspected");
  ASSERT_EQ(leaks.size(), 1U);
  EXPECT_FALSE(leaks[0].flag);  // noticed when it came back
  EXPECT_EQ(leaks[0].duration, 150ms);
  EXPECT_EQ(pool.stats().leaks_suspected, 1U);
}

TEST_F(LeakDetection, ALeaseBackInTimeIsNoLeakAndOffMeansOff) {
  {
    FakePool pool(leak_options(), driver);
    {
      auto lease = pool.connect();
      FakeClock::advance(99ms);
    }
    pool.reap();
    EXPECT_EQ(pool.stats().leaks_suspected, 0U);
  }
  FakePool off(observed_options(), driver);  // threshold 0
  {
    auto lease = off.connect();
    FakeClock::advance(1h);
    off.reap();
  }
  EXPECT_EQ(off.stats().leaks_suspected, 0U);
  EXPECT_EQ(seen->count("lease_leak_suspected"), 0U);
}

TEST_F(LeakDetection, AStatementsLeaseIsNotWatched) {
  FakePool pool(leak_options(), driver);
  (void)pool.query("SELECT 1");
  FakeClock::advance(1h);
  pool.reap();
  EXPECT_EQ(pool.stats().leaks_suspected, 0U);
}

TEST_F(LeakDetection, ANegativeOrHugeThresholdIsAConfigError) {
  PoolOptions o = leak_options();
  o.leak_detection_threshold = -1ms;
  EXPECT_THROW(FakePool(o, driver), ConfigError);
  o.leak_detection_threshold = std::chrono::hours(24 * 32);
  EXPECT_THROW(FakePool(o, driver), ConfigError);
}

// --- the manager and the router ----------------------------------------------

TEST_F(Observer, TheManagerTellsOfCreatedRebuiltRemovedAndEvictedPools) {
  FakeManager::Options o = fake_manager_options();
  o.user_pool.observer = seen;
  o.user_pool.idle_timeout = 1s;
  o.max_pools = 1;
  FakeManager manager(o, driver);
  { auto lease = manager.connect(user_context("alice@example.com", "token-1")); }
  { auto lease = manager.connect(user_context("alice@example.com", "token-2")); }
  manager.sweep();  // the replaced pool drained: gone
  // bob needs alice's place under max_pools: her idle pool is evicted.
  { auto lease = manager.connect(user_context("bob@example.com", "token-3")); }
  FakeClock::advance(2s);
  manager.sweep();
  std::vector<std::string> changes;
  for (const auto& e : seen->of_kind("pool_changed")) changes.push_back(e.pool + " " + e.detail);
  EXPECT_THAT(changes,
              ElementsAre("user:alice@example.com created", "user:alice@example.com rebuilt",
                          "user:alice@example.com evicted", "user:bob@example.com created",
                          "user:bob@example.com removed"));
}

// A hook that reads the manager, as a metrics adapter might.
class ManagerReadingObserver final : public PoolObserver {
 public:
  void on_connection_closed(const ConnectionClosed&) noexcept override { read(); }
  void on_pool_changed(const PoolChanged&) noexcept override { read(); }
  void on_connection_opened(const ConnectionOpened&) noexcept override { read(); }
  FakeManager* manager = nullptr;
  int reads = 0;

 private:
  void read() noexcept {
    if (manager != nullptr) {
      (void)manager->stats();
      ++reads;
    }
  }
};

TEST_F(Observer, AHookMayReadTheManagersStatsAlsoWhileAPoolIsRebuilt) {
  FakeManager::Options o = fake_manager_options();
  auto reader = std::make_shared<ManagerReadingObserver>();
  o.user_pool.observer = reader;
  FakeManager manager(o, driver);
  reader->manager = &manager;
  { auto lease = manager.connect(user_context("alice@example.com", "token-1")); }
  // A new token: the old pool drains, closing its idle connection.
  { auto lease = manager.connect(user_context("alice@example.com", "token-2")); }
  // created, opened, rebuilt, closed (pool_ended), opened
  EXPECT_EQ(reader->reads, 5);
  reader->manager = nullptr;
}

using Router = BasicRoutingPool<FakeDriver>;

class RouterObserver : public Observer {
 protected:
  std::unique_ptr<Router> make_router() {
    PoolOptions service = fake_pool_options(2);
    service.name = "service";
    service.connection.user = "pgobo_service";
    service.observer = seen;
    Router::Manager::Options users;
    users.user_pool = fake_pool_options(3);
    users.sweep_interval = 0ms;
    users.credentials_for = [](const UserContext& u) {
      return std::make_shared<StaticPassword>(Secret("pw-for-router-observer-" + u.key()));
    };
    return std::make_unique<Router>(std::make_shared<Router::Pool>(service, driver),
                                    std::move(users), driver);
  }
};

TEST_F(RouterObserver, EachQueryIsAStartAndAnEndNamingThePoolAndTheStatement) {
  auto router = make_router();
  (void)router->query("SELECT 1");
  {
    const UserScope scope(user_context("alice@example.com"));
    (void)router->query("SELECT 2");
  }
  const auto started = seen->of_kind("query_started");
  const auto ended = seen->of_kind("query_ended");
  ASSERT_EQ(started.size(), 2U);
  ASSERT_EQ(ended.size(), 2U);
  EXPECT_EQ(started[0].pool, "service");
  EXPECT_THAT(started[0].text, HasSubstr("SELECT 1 | localhost:5432/postgres as pgobo_service"));
  EXPECT_EQ(started[1].pool, "user:alice@example.com");
  EXPECT_THAT(started[1].text, HasSubstr("as alice@example.com"));
  EXPECT_EQ(ended[1].detail, "");  // no error
  EXPECT_FALSE(ended[1].flag);     // not read-only
  expect_non_negative(ended);
}

TEST_F(RouterObserver, ARefusedReadOnlyStatementEndsWithItsErrorType) {
  auto router = make_router();
  EXPECT_THROW((void)router->query_read_only("DELETE FROM app.notes"), SqlPolicyError);
  const auto ended = seen->of_kind("query_ended");
  ASSERT_EQ(ended.size(), 1U);
  EXPECT_EQ(ended[0].detail, "pgobo::SqlPolicyError");
  EXPECT_TRUE(ended[0].flag);  // read-only
  EXPECT_FALSE(ended[0].rows.has_value());
}

TEST_F(RouterObserver, DescribeCurrentExceptionNamesPgobosErrorsAndOthers) {
  const auto describe = [](auto thrown) {
    try {
      throw thrown;
    } catch (...) {
      return describe_current_exception();
    }
  };
  EXPECT_EQ(describe(AcquireTimeout("t")).type, "pgobo::AcquireTimeout");
  EXPECT_EQ(describe(TooManyConnections("t")).type, "pgobo::TooManyConnections");
  EXPECT_EQ(describe(std::runtime_error("t")).type, "std::exception");
  EXPECT_EQ(describe(42).type, "unknown");
  EXPECT_EQ(describe(AcquireTimeout("t")).sqlstate, "");
  // libpqxx 6.4 throws some subclasses without the server's SQLSTATE: the
  // class stands for it.
  const ErrorDescription denied = describe(pqxx::insufficient_privilege("permission denied"));
  EXPECT_EQ(denied.sqlstate, "42501");
  EXPECT_EQ(denied.type, "42501");
  EXPECT_EQ(describe(pqxx::undefined_table("no such table")).sqlstate, "42P01");
  EXPECT_EQ(describe(pqxx::sql_error("no state")).type, "pqxx::sql_error");
  EXPECT_EQ(describe(pqxx::broken_connection("gone")).type, "pqxx::broken_connection");
  // The retryable ones: 6.4 derives them from failure, without a SQLSTATE.
#if PQXX_VERSION_MAJOR < 7
  const pqxx::serialization_failure serialization("could not serialize access");
  const pqxx::deadlock_detected deadlock("deadlock detected");
#else
  const pqxx::serialization_failure serialization("could not serialize access", "");
  const pqxx::deadlock_detected deadlock("deadlock detected", "");
#endif
  EXPECT_EQ(describe(serialization).sqlstate, "40001");
  EXPECT_EQ(describe(deadlock).type, "40P01");
}

}  // namespace
}  // namespace pgobo::test
