// Fault: the server kills every backend of the pools (pg_terminate_backend,
// as an operator, a failover or an idle-session killer would), several times,
// while 8 threads run queries for 20 users and the service principal.
//
// What is "after the kill": the killer counts kills started and kills done.
// A kill is done once every terminated backend has left pg_stat_activity and
// one connect backoff (connect_backoff_max) has passed, the longest a pool
// may refuse to open after an open that the kill itself broke. A query is
// "clean" when no kill was in progress when it started and none started
// before it ended; clean queries must all succeed. The others may fail, but
// only with a connection error.
//
// With validate_idle_after = 0 the pools check an idle connection before
// lending it, so no connection the kill ended is ever lent. Without it (the
// default) a pool still sees locally that the server closed an idle
// connection (PqxxDriver::closed_by_server) and does not lend it; what it
// could not see would fail its first query, once: the second test proves that
// only killed connections ever fail, each at most once, and that none is lent
// again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/routing_pool.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

class FaultBackendsKilled : public PgTest {
 protected:
  // Terminates every client backend of the load's roles; returns their pids.
  [[nodiscard]] std::vector<int> terminate_pool_backends() const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    std::vector<int> pids;
    for (const auto& row : pgobo::pqxx_compat::exec_params(
             tx,
             "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE (usename LIKE 'kill%' OR usename = $1) AND backend_type = 'client backend'",
             std::string(kServiceRole))) {
      pids.push_back(row[0].as<int>());
    }
    return pids;
  }

  [[nodiscard]] bool any_alive(const std::vector<int>& pids) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    std::string list = "{";
    for (int pid : pids) list += (list.size() > 1 ? "," : "") + std::to_string(pid);
    list += "}";
    return pgobo::pqxx_compat::exec_params(
               tx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list)[0][0]
               .as<int>() > 0;
  }

  // The load and the kills; `validate`: validate_idle_after = 0.
  void run(bool validate) {
    constexpr int kThreads = 8;
    constexpr int kUsers = 20;
    constexpr int kKills = 4;
    constexpr int kQueriesBetweenKills = 300;
    constexpr std::size_t kPoolSize = 3;
    constexpr auto kBackoffMax = 200ms;
    const auto users = make_users("kill", kUsers);
    auto setup = make_counted_router(server(), "pgobo-fault-kill", [&](PoolOptions& p) {
      p.max_size = kPoolSize;
      if (validate) p.validate_idle_after = 0ms;
      p.connect_backoff_max = kBackoffMax;
      p.acquire_timeout = 5s;
    });
    RoutingPool& db = *setup.router;

    std::atomic<int> kills_started{0};
    std::atomic<int> kills_done{0};
    std::atomic<bool> stopping{false};
    std::atomic<std::int64_t> sequence{0};  // orders query starts and failures
    std::atomic<int> clean_ok{0};
    std::atomic<int> mismatches{0};
    Tally clean;      // outcomes of clean queries: only ok is right
    Tally disturbed;  // outcomes of queries that overlapped a kill

    // Bookkeeping of dead connections, by backend pid (the OS does not reuse a
    // pid within seconds).
    std::mutex dead_mutex;
    std::map<int, int> killed_in;           // pid → the kill (1-based) that ended it
    std::map<int, std::int64_t> broke;      // pid → sequence number of the failure seen on it
    std::atomic<int> dead_lent{0};          // a connection lent after its kill was done
    std::atomic<int> lent_twice{0};         // a connection lent again after failing
    std::atomic<int> clean_failed_live{0};  // a clean query failed on a connection not killed
    std::string first_violation;

    std::latch start(kThreads);
    LoadThreads threads(stopping);
    for (int t = 0; t < kThreads; ++t) {
      threads.spawn([&, t] {
        std::mt19937 random(static_cast<std::mt19937::result_type>(t));
        std::uniform_int_distribution<std::size_t> pick(0, users.size() - 1);
        start.arrive_and_wait();
        while (!stopping) {
          const bool as_service = random() % 5 == 0;
          const UserPtr& who = users[pick(random)];
          const std::string expected = as_service ? std::string(kServiceRole) : who->key();
          const int started_kills = kills_started;
          const int done_kills = kills_done;
          const std::int64_t seq = ++sequence;
          const auto began = FaultClock::now();
          Outcome outcome = Outcome::ok;
          std::string message;
          int pid = 0;
          try {
            Lease lease = as_service ? db.connect() : db.as_user(who).connect();
            // Through PgBouncer, backendpid() is PgBouncer's cancel key, not
            // a server pid: name the connection by its local port instead.
            pid = server().via_pgbouncer ? server().connection_id(*lease) : lease->backendpid();
            {
              const std::lock_guard lock(dead_mutex);
              if (auto it = killed_in.find(pid);
                  it != killed_in.end() && it->second <= done_kills) {
                if (dead_lent++ == 0) {
                  first_violation = "pid " + std::to_string(pid) + " lent after kill " +
                                    std::to_string(it->second) + " was done";
                }
              }
              if (auto it = broke.find(pid); it != broke.end() && it->second < seq) {
                if (lent_twice++ == 0) {
                  first_violation = "pid " + std::to_string(pid) + " lent again after failing";
                }
              }
            }
            pqxx::nontransaction tx(*lease);
            if (tx.exec("SELECT current_user, pg_sleep(0.001)")[0][0].as<std::string>() !=
                expected) {
              ++mismatches;
            }
          } catch (...) {
            outcome = classify_current(message);
            if (pid != 0) {
              const std::lock_guard lock(dead_mutex);
              broke.emplace(pid, ++sequence);
            }
          }
          const bool is_clean = started_kills == done_kills && kills_started == started_kills;
          if (is_clean && outcome != Outcome::ok) {
            const std::lock_guard lock(dead_mutex);
            if (pid == 0 || killed_in.count(pid) == 0) ++clean_failed_live;
          }
          (is_clean ? clean : disturbed).add(outcome, message, FaultClock::now() - began);
          if (is_clean && outcome == Outcome::ok) ++clean_ok;
        }
      });
    }

    std::vector<int> killed_per_round;
    const auto run_clean_queries = [&] {
      const int target = clean_ok + kQueriesBetweenKills;
      return eventually([&] { return clean_ok >= target || clean.total() > clean_ok + 50; });
    };
    ASSERT_TRUE(run_clean_queries()) << "the load did not get going: " << clean.describe();
    for (int kill = 1; kill <= kKills; ++kill) {
      ++kills_started;
      const std::vector<int> pids = terminate_pool_backends();
      killed_per_round.push_back(static_cast<int>(pids.size()));
      EXPECT_TRUE(eventually([&] { return !any_alive(pids); })) << "kill " << kill;
      // The backoff a pool may have started because an open failed under the
      // kill: part of the kill's aftermath, not of what follows it.
      std::this_thread::sleep_for(kBackoffMax);
      {
        const std::lock_guard lock(dead_mutex);
        for (int pid : pids) killed_in.emplace(pid, kill);
      }
      ++kills_done;
      EXPECT_TRUE(run_clean_queries()) << "after kill " << kill << ": " << clean.describe();
    }
    threads.stop();

    if (validate) {
      EXPECT_EQ(clean.count_except({Outcome::ok}), 0)
          << "a query started after a kill was done failed: " << clean.describe();
      // Through PgBouncer the kills end PgBouncer's server connections, never
      // one of pgobo's (named by port), so there is nothing to look up: the
      // check above (every query after a kill succeeds) is the one that holds.
      if (!server().via_pgbouncer) {
        EXPECT_EQ(dead_lent.load(), 0) << first_violation;
      }
    } else {
      // Only a connection the kill ended may fail a later query, once.
      EXPECT_EQ(clean.count_except({Outcome::ok, Outcome::broken_connection, Outcome::sql_error}),
                0)
          << clean.describe();
      EXPECT_EQ(clean_failed_live.load(), 0)
          << "a query started after a kill failed on a connection the kill did not end: "
          << clean.describe();
      int killed = 0;
      for (int k : killed_per_round) killed += k;
      EXPECT_LE(clean.count_except({Outcome::ok}), killed);
    }
    EXPECT_EQ(disturbed.count_except({Outcome::ok, Outcome::broken_connection, Outcome::sql_error,
                                      Outcome::server_unavailable}),
              0)
        << "only connection errors may hit queries running at a kill: " << disturbed.describe();
    EXPECT_EQ(lent_twice.load(), 0) << first_violation;
    EXPECT_EQ(mismatches.load(), 0);
    for (int killed : killed_per_round) EXPECT_GE(killed, 1) << "each kill hit the pools";

    // Counts back to normal: nothing leased, opening or waiting; every pool
    // within its size; and after each identity has used its pool's full size
    // once (which validates every idle connection), the server has exactly the
    // backends the pools count.
    const auto stats = db.stats();
    EXPECT_EQ(stats.users.leased, 0U);
    EXPECT_EQ(stats.users.waiting, 0U);
    EXPECT_EQ(stats.service.leased + stats.service.opening + stats.service.waiting, 0U);
    std::uint64_t replaced = stats.service.closed.validation_failed + stats.service.closed.broken;
    for (const auto& pool : db.manager().pool_stats()) {
      EXPECT_LE(pool.total, kPoolSize) << pool.name;
      EXPECT_EQ(pool.leased + pool.opening + pool.waiting, 0U) << pool.name;
      replaced += pool.closed.validation_failed + pool.closed.broken;
    }
    EXPECT_GT(replaced, 0U) << "dead connections were found and closed";
    // Without validation a dead idle connection is found only by using it:
    // the first pass may meet the last of them (each fails once and is
    // closed), the second must not.
    for (int pass = 0; pass < (validate ? 1 : 2); ++pass) {
      for (std::size_t i = 0; i <= users.size(); ++i) {
        std::vector<Lease> full;
        for (std::size_t n = 0; n < kPoolSize; ++n) {
          full.push_back(i == users.size() ? db.connect() : db.as_user(users[i]).connect());
        }
        for (auto& lease : full) {
          try {
            (void)pqxx::nontransaction(*lease).exec("SELECT 1");
          } catch (const std::exception& e) {
            if (validate || pass > 0) ADD_FAILURE() << "pass " << pass << ": " << e.what();
          }
        }
      }
    }
    std::size_t pool_connections = db.stats().service.total;
    for (const auto& pool : db.manager().pool_stats()) pool_connections += pool.total;
    EXPECT_EQ(pool_connections, (users.size() + 1) * kPoolSize);
    int backends = 0;
    EXPECT_TRUE(eventually([&] {
      backends = load_backends("kill");
      return backends == static_cast<int>(pool_connections);
    })) << "the server's backends are the pools' connections, no more, no fewer: "
        << backends << " backends for " << pool_connections << " connections";

    std::string killed_text;
    for (int k : killed_per_round)
      killed_text += (killed_text.empty() ? "" : ",") + std::to_string(k);
    report("killed backends per round: " + killed_text + "; clean queries: " + clean.describe() +
           "; queries overlapping a kill: " + disturbed.describe() + "; connections replaced: " +
           std::to_string(replaced) + "; open attempts: " + std::to_string(setup.attempts->load()));
  }
};

TEST_F(FaultBackendsKilled, QueriesStartedAfterEachKillSucceedAndNoDeadConnectionIsLent) {
  run(/*validate=*/true);
}

TEST_F(FaultBackendsKilled, WithoutValidationOnlyKilledConnectionsFailAndEachAtMostOnce) {
  run(/*validate=*/false);
}

}  // namespace
}  // namespace pgobo::test
