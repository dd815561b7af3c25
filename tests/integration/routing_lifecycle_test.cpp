// RoutingPool against a real PostgreSQL over time and under load: many users
// at once never see each other's connections, a token and password rotation
// mid-load fails no query, the sweeper closes what sits idle, the global
// connection limit holds on the server, and close() leaves nothing behind.
// pg_stat_activity, sampled from a thread of its own, is the judge of how many
// backends each role really had.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "measure.hpp"
#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/routing_pool.hpp"
#include "test_routing.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// Samples pgobo's connections (server backends, or PgBouncer's clients:
// connection_census.hpp) on its own thread and connection until stop(): the
// most seen at once for any one role, and for all roles together, among the
// roles whose name starts with a prefix.
class BackendSampler {
 public:
  struct Peaks {
    int per_role = 0;
    int total = 0;
    int samples = 0;
  };

  BackendSampler(ConnectionCensus census, std::string role_prefix)
      : census_(std::move(census)), prefix_(std::move(role_prefix)), thread_([this] { run(); }) {}
  BackendSampler(const BackendSampler&) = delete;
  BackendSampler& operator=(const BackendSampler&) = delete;
  ~BackendSampler() { (void)stop(); }

  Peaks stop() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    stop_requested_.notify_all();
    if (thread_.joinable()) thread_.join();
    return peaks_;  // written only by the joined thread
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      sample();
      lock.lock();
      stop_requested_.wait_for(lock, 1ms, [this] { return stopping_; });
    }
  }

  void sample() {
    int total = 0;
    for (const auto& [role, backends] : census_.by_role(prefix_)) {
      peaks_.per_role = std::max(peaks_.per_role, backends);
      total += backends;
    }
    peaks_.total = std::max(peaks_.total, total);
    ++peaks_.samples;
  }

  ConnectionCensus census_;
  std::string prefix_;
  Peaks peaks_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

// The first failure of many threads, for the assertion message.
class FirstFailure {
 public:
  void record(const std::string& what) {
    ++count_;
    const std::lock_guard lock(mutex_);
    if (first_.empty()) first_ = what;
  }
  [[nodiscard]] int count() const { return count_.load(); }
  [[nodiscard]] std::string first() const {
    const std::lock_guard lock(mutex_);
    return first_;
  }

 private:
  std::atomic<int> count_{0};
  mutable std::mutex mutex_;
  std::string first_;
};

class RoutingLifecycle : public PgTest {
 protected:
  [[nodiscard]] RoutingConfig config() const {
    RoutingConfig c = routing_config(server(), "pgobo-routing-test", 3);
    c.user_pool.max_size = 3;
    return c;
  }

  // Backend pids, or through PgBouncer client ports (connection_census.hpp).
  [[nodiscard]] std::set<int> backend_pids(const std::string& role) const {
    return server().census().ids_of(role);
  }

  static std::string current_role(pqxx::connection& connection) {
    pqxx::nontransaction tx(connection);
    return tx.exec("SELECT current_user")[0][0].as<std::string>();
  }
};

// --- isolation under load -------------------------------------------------------

TEST_F(RoutingLifecycle, UnderLoadEveryQueryRunsAsItsOwnUserWithinItsPoolsSize) {
  constexpr int kThreads = 8;
  constexpr int kUsers = 20;
  constexpr int kQueriesPerThread = 2'000;
  constexpr std::size_t kPerUser = 3;
  const auto users = make_users("load", kUsers);
  RoutingConfig c = config();
  c.user_pool.max_size = kPerUser;
  auto db = RoutingPool::create(std::move(c));
  BackendSampler sampler(server().census(), "load");

  std::atomic<int> mismatches{0};
  std::atomic<int> queries{0};
  FirstFailure failures;
  std::latch start(kThreads);
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<std::mt19937::result_type>(t));
      std::uniform_int_distribution<std::size_t> pick(0, users.size() - 1);
      start.arrive_and_wait();
      for (int i = 0; i < kQueriesPerThread; ++i) {
        const UserPtr& who = users[pick(random)];
        try {
          std::string role;
          std::string expected = who->key();
          switch (random() % 5) {
            case 0: {  // now and then the service principal, between users
              role = db->query("SELECT current_user")[0][0].as<std::string>();
              expected = kServiceRole;
              break;
            }
            case 1:
            case 2: {
              const UserScope scope(who);
              role = db->query("SELECT current_user")[0][0].as<std::string>();
              break;
            }
            default:
              role = db->as_user(who).query("SELECT current_user")[0][0].as<std::string>();
          }
          if (role != expected) ++mismatches;
          ++queries;
        } catch (const std::exception& e) {
          failures.record(e.what());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto elapsed = Clock::now() - started;
  const auto peaks = sampler.stop();

  EXPECT_EQ(failures.count(), 0) << failures.first();
  EXPECT_EQ(queries.load(), kThreads * kQueriesPerThread);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_LE(peaks.per_role, static_cast<int>(kPerUser));
  EXPECT_GE(peaks.per_role, 1) << "the sampler saw the load";
  EXPECT_EQ(db->stats().users.pools, static_cast<std::size_t>(kUsers));
  report(std::to_string(queries.load()) + " queries (" + std::to_string(kThreads) + " threads x " +
         std::to_string(kQueriesPerThread) + ", " + std::to_string(kUsers) + " users) in " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
         " ms; most backends of one role seen: " + std::to_string(peaks.per_role) +
         ", of all load roles: " + std::to_string(peaks.total) + " over " +
         std::to_string(peaks.samples) + " samples");
}

// --- token and password rotation --------------------------------------------------

TEST_F(RoutingLifecycle, RotatingPasswordAndTokenMidLoadFailsNoQueryAndRebuildsOnce) {
  const std::string old_password = password_for(kAlice);
  const std::string new_password = password_for(kAlice) + "-rotated";
  const UserPtr old_token = shared_user(kAlice, "token-before-rotation");
  const UserPtr new_token = shared_user(kAlice, "token-after-rotation");
  RoutingConfig c = config();
  // The token buys the password, as a Lakebase credential would.
  c.user_credentials = [old_password, new_password](const UserContext& u) {
    const bool old = u.access_token().reveal() == "token-before-rotation";
    return std::make_shared<StaticPassword>(Secret(old ? old_password : new_password));
  };
  auto db = RoutingPool::create(std::move(c));

  // The old pool at its full size: after the password changes it must not
  // need a new login (PostgreSQL keeps one password per role, Lakebase does
  // not), only serve and drain.
  std::set<int> old_pids;
  {
    std::vector<Lease> leases;
    for (int i = 0; i < 3; ++i) leases.push_back(db->as_user(old_token).connect());
    for (auto& lease : leases) old_pids.insert(server().connection_id(*lease));
  }
  ASSERT_EQ(old_pids.size(), 3U);
  const auto old_pool = db->manager().find_pool(kAlice);

  std::atomic<bool> rotated{false};
  std::atomic<bool> stopping{false};
  std::atomic<int> before{0};
  std::atomic<int> after{0};
  std::atomic<int> mismatches{0};
  FirstFailure failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<std::mt19937::result_type>(t));
      while (!stopping) {
        const bool now_rotated = rotated;
        // Requests already under way still carry the old token for a while.
        const UserPtr& token = now_rotated && random() % 4 != 0 ? new_token : old_token;
        try {
          if (db->as_user(token).query("SELECT current_user")[0][0].as<std::string>() != kAlice) {
            ++mismatches;
          }
          ++(now_rotated ? after : before);
        } catch (const std::exception& e) {
          failures.record(e.what());
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return before >= 200 || failures.count() > 0; }));
  {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER ROLE " + tx.quote_name(kAlice) + " PASSWORD " + tx.quote(new_password));
  }
  rotated = true;
  const bool enough = eventually([&] { return after >= 400 || failures.count() > 0; });
  stopping = true;
  for (auto& thread : threads) thread.join();

  EXPECT_TRUE(enough);
  EXPECT_EQ(failures.count(), 0) << failures.first();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(db->stats().users.rebuilds, 1U);
  EXPECT_NE(db->manager().find_pool(kAlice), old_pool);
  EXPECT_TRUE(eventually([&] { return pgobo::detail::PoolManagerGate{*old_pool}.is_drained(); }));
  EXPECT_TRUE(eventually([&] {
    const auto live = backend_pids(kAlice);
    return std::none_of(old_pids.begin(), old_pids.end(),
                        [&](int pid) { return live.count(pid) > 0; });
  })) << "the old pool's backends are gone once it drained";
  EXPECT_GE(backend_pids(kAlice).size(), 1U) << "the new pool's";
  report(std::to_string(before.load()) + " queries before and " + std::to_string(after.load()) +
         " after the rotation; rebuilds: " + std::to_string(db->stats().users.rebuilds));
}

TEST_F(RoutingLifecycle, TwoLiveTokensInterleavedRebuildTheUsersPoolOnce) {
  const UserPtr laptop = shared_user(kAlice, "token-of-the-laptop");
  const UserPtr phone = shared_user(kAlice, "token-of-the-phone");
  RoutingConfig c = config();
  c.sweep_interval = 50ms;  // drops the replaced pool once it drained
  auto db = RoutingPool::create(std::move(c));

  FirstFailure failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const UserPtr& token = (i + t) % 2 == 0 ? laptop : phone;
        try {
          (void)db->as_user(token).query("SELECT current_user");
        } catch (const std::exception& e) {
          failures.record(e.what());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(failures.count(), 0) << failures.first();
  EXPECT_EQ(db->stats().users.rebuilds, 1U);
  EXPECT_EQ(db->stats().users.pools_created, 1U);
  EXPECT_TRUE(eventually([&] {
    return db->stats().users.draining_pools == 0 && backends_of(kAlice) <= 3;
  })) << "the replaced pool's backends are gone";
}

// --- the sweeper --------------------------------------------------------------------

TEST_F(RoutingLifecycle, SweeperClosesIdleUserConnectionsAndDropsTheirPools) {
  constexpr auto kIdleTimeout = 100ms;
  RoutingConfig c = config();
  c.sweep_interval = 50ms;
  c.user_pool.idle_timeout = kIdleTimeout;
  auto db = RoutingPool::create(std::move(c));

  Clock::time_point released;
  {
    const Lease alice = db->as_user(shared_user(kAlice, "t")).connect();
    const Lease bob = db->as_user(shared_user(kBob, "t")).connect();
    ASSERT_EQ(db->manager().size(), 2U);
    ASSERT_EQ(backends_of(kAlice), 1);
    ASSERT_EQ(backends_of(kBob), 1);
    released = Clock::now();
  }

  EXPECT_TRUE(eventually([&] { return db->manager().size() == 0; }));
  EXPECT_GE(Clock::now() - released, kIdleTimeout) << "not before the idle timeout";
  EXPECT_FALSE(db->manager().has_pool(kAlice));
  EXPECT_EQ(db->stats().users.pools_removed, 2U);
  EXPECT_EQ(db->stats().users.connections, 0U);
  EXPECT_TRUE(eventually([&] { return backends_of(kAlice) == 0 && backends_of(kBob) == 0; }));
}

TEST_F(RoutingLifecycle, SweeperAlsoClosesTheServicePrincipalsIdleConnections) {
  RoutingConfig c = config();
  c.sweep_interval = 50ms;
  c.service.pool.idle_timeout = 100ms;
  auto db = RoutingPool::create(std::move(c));

  {
    const Lease lease = db->connect();
    ASSERT_EQ(backends_of(kServiceRole), 1);
  }

  EXPECT_TRUE(eventually([&] { return db->total_count() == 0; }));
  EXPECT_TRUE(eventually([&] { return backends_of(kServiceRole) == 0; }));
}

// --- the global connection limit ------------------------------------------------------

// The wait proper of each acquire: its whole wait less the logins it did
// itself. Opening a connection runs on the caller's thread between
// on_acquire_started and on_acquire_ended, after the deadline was checked,
// and is bounded by connect_timeout rather than by the acquire deadline.
class WaitProper final : public PoolObserver {
 public:
  void on_acquire_started(const AcquireStarted&) noexcept override { logins_ = {}; }
  void on_connection_opened(const ConnectionOpened& e) noexcept override { logins_ += e.duration; }
  void on_connection_open_failed(const ConnectionOpenFailed& e) noexcept override {
    logins_ += e.duration;
  }
  void on_acquire_ended(const AcquireEnded& e) noexcept override {
    const std::int64_t proper = (e.wait - logins_).count();
    std::int64_t longest = longest_ns_.load();
    while (proper > longest && !longest_ns_.compare_exchange_weak(longest, proper)) {
    }
    ++acquires_;
  }
  [[nodiscard]] std::chrono::nanoseconds longest() const {
    return std::chrono::nanoseconds(longest_ns_.load());
  }
  [[nodiscard]] int acquires() const { return acquires_.load(); }

 private:
  static thread_local std::chrono::nanoseconds logins_;
  std::atomic<std::int64_t> longest_ns_{0};
  std::atomic<int> acquires_{0};
};
thread_local std::chrono::nanoseconds WaitProper::logins_{};

TEST_F(RoutingLifecycle, GlobalLimitHoldsOnTheServerAndNoRequestWaitsPastItsDeadline) {
  constexpr int kUsers = 30;
  constexpr int kThreads = 12;
  constexpr int kRequestsPerThread = 30;
  constexpr std::size_t kLimit = 10;
  constexpr auto kAcquireTimeout = 1000ms;
  // The wait proper (WaitProper: the logins a request did itself taken out)
  // ends at the deadline; this is the scheduling slack of a busy 2-core
  // machine around it.
  constexpr auto kMargin = 250ms;
  const auto users = make_users("budget", kUsers);
  const auto waits = std::make_shared<WaitProper>();
  RoutingConfig c = config();
  c.max_total_connections = kLimit;
  c.user_pool.acquire_timeout = kAcquireTimeout;
  c.observer = waits;
  auto db = RoutingPool::create(std::move(c));
  BackendSampler sampler(server().census(), "budget");

  std::atomic<int> completed{0};
  std::atomic<int> timed_out{0};
  std::atomic<std::int64_t> longest_wait_us{0};
  FirstFailure failures;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<std::mt19937::result_type>(t));
      std::uniform_int_distribution<std::size_t> pick(0, users.size() - 1);
      start.arrive_and_wait();
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const UserPtr& who = users[pick(random)];
        const auto asked = Clock::now();
        const auto note_wait = [&] {
          const auto waited =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - asked).count();
          auto longest = longest_wait_us.load();
          while (waited > longest && !longest_wait_us.compare_exchange_weak(longest, waited)) {
          }
        };
        try {
          Lease lease = db->as_user(who).connect();
          note_wait();
          pqxx::nontransaction tx(*lease);
          if (tx.exec("SELECT current_user, pg_sleep(0.002)")[0][0].as<std::string>() ==
              who->key()) {
            ++completed;
          } else {
            failures.record("ran as another role than " + who->key());
          }
        } catch (const AcquireTimeout& e) {
          note_wait();
          ++timed_out;
        } catch (const std::exception& e) {
          failures.record(e.what());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto peaks = sampler.stop();
  const auto stats = db->stats().users;

  EXPECT_EQ(failures.count(), 0) << failures.first();
  EXPECT_EQ(completed + timed_out, kThreads * kRequestsPerThread);
  EXPECT_LE(peaks.total, static_cast<int>(kLimit));
  EXPECT_EQ(waits->acquires(), kThreads * kRequestsPerThread);
  EXPECT_LE(waits->longest(), kAcquireTimeout + kMargin);
  EXPECT_GT(stats.connection_evictions, 0U) << "the limit was reached and made room";
  report(std::to_string(completed.load()) + " requests completed, " +
         std::to_string(timed_out.load()) + " timed out; most user backends seen: " +
         std::to_string(peaks.total) + " (limit " + std::to_string(kLimit) + ", " +
         std::to_string(peaks.samples) + " samples); longest wait for a connection: " +
         std::to_string(longest_wait_us.load() / 1000) + " ms, of which waiting proper " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(waits->longest()).count()) +
         " ms; evictions: " + std::to_string(stats.connection_evictions));
}

TEST_F(RoutingLifecycle, AtTheGlobalLimitWithNothingIdleARequestTimesOutAtItsDeadline) {
  constexpr auto kAcquireTimeout = 300ms;
  constexpr auto kMargin = 250ms;
  const auto users = make_users("full", 4);
  RoutingConfig c = config();
  c.user_pool.max_size = 1;
  c.max_total_connections = 3;
  c.user_pool.acquire_timeout = kAcquireTimeout;
  auto db = RoutingPool::create(std::move(c));
  std::vector<Lease> held;
  for (std::size_t i = 0; i < 3; ++i) held.push_back(db->as_user(users[i]).connect());

  const auto asked = Clock::now();
  try {
    (void)db->as_user(users[3]).connect();
    FAIL() << "a fourth connection opened under a limit of three";
  } catch (const AcquireTimeout& e) {
    const auto waited = Clock::now() - asked;
    EXPECT_THAT(e.what(), HasSubstr("global connection limit (3)"));
    EXPECT_GE(waited, kAcquireTimeout);
    EXPECT_LE(waited, kAcquireTimeout + kMargin);
  }
  EXPECT_EQ(backends_of(users[3]->key()), 0);
  EXPECT_EQ(db->stats().users.budget_timeouts, 1U);

  held.pop_back();  // an idle connection the limit can close to make room
  auto next = db->as_user(users[3]);
  EXPECT_EQ(next.query("SELECT current_user")[0][0].as<std::string>(), users[3]->key());
  EXPECT_TRUE(eventually([&] { return backends_of(users[2]->key()) == 0; }));
}

// --- close() ----------------------------------------------------------------------------

TEST_F(RoutingLifecycle, EndLeavesNoBackendOfAnyRoleAndStopsTheSweeper) {
  const std::size_t threads_before = thread_count();
  RoutingConfig c = config();
  c.sweep_interval = 50ms;
  auto db = RoutingPool::create(std::move(c));
  const std::size_t threads_running = thread_count();
  const UserPtr alice = shared_user(kAlice, "t");
  (void)db->query("SELECT 1");
  (void)db->as_user(alice).query("SELECT 1");
  (void)db->as_user(shared_user(kBob, "t")).query("SELECT 1");
  ASSERT_EQ(backends_of(kServiceRole) + backends_of(kAlice) + backends_of(kBob), 3);

  db->close();

  // Relative counts: ThreadSanitizer starts a thread of its own with the
  // process's first std::thread (here, the sweeper), which stays.
  EXPECT_GE(threads_running, threads_before + 1) << "the sweeper ran";
  EXPECT_EQ(thread_count(), threads_running - 1) << "and has exited";
  EXPECT_TRUE(eventually(
      [&] { return backends_of(kServiceRole) + backends_of(kAlice) + backends_of(kBob) == 0; }));
  EXPECT_THROW((void)db->query("SELECT 1"), PoolClosed);
  EXPECT_THROW((void)db->as_user(alice).query("SELECT 1"), PoolClosed);
}

}  // namespace
}  // namespace pgobo::test
