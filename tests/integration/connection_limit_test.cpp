// The automatic connection limit across processes: three replicas of a
// service (tests/helpers/connection_limit_replica.cpp, each a RoutingPool
// with PGOBO_CONNECTION_LIMIT=auto running several users' requests) share one
// private server with a small max_connections.
//
// Proves that together they never hold more than the server allows less the
// reserve (sampled from pg_stat_activity while they run), that a replica
// killed with SIGKILL stops counting after the timeout and its share goes to
// the others, and that no request fails while the shares move.
//
// ConnectionLimitTable: the heartbeat table itself, two directories in one
// process (a replica stuck while it holds the table's lock).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pg_fixture.hpp"
#include "pgobo/pqxx_pool.hpp"
#include "pgobo/pqxx_replica_directory.hpp"
#include "private_pg.hpp"
#include "wait.hpp"

extern char** environ;  // NOLINT: POSIX

#ifndef PGOBO_CONNECTION_LIMIT_REPLICA
#error "PGOBO_CONNECTION_LIMIT_REPLICA must be defined (tests/CMakeLists.txt does it)"
#endif

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

// The server and the limit's settings.
constexpr int kMaxConnections = 30;
constexpr int kSuperuserReserved = 3;  // PostgreSQL's default
constexpr int kReserve = 3;
constexpr int kCapacity = kMaxConnections - kSuperuserReserved - kReserve;  // 24
constexpr int kServicePoolSize = 2;
constexpr int kUsersPerReplica = 4;
constexpr int kThreadsPerUser = 3;  // 12 callers for a share of 6 to 10

constexpr const char* kService = "connlimit_service";

// One replica process: its stdout read line by line on a thread of ours.
class Replica {
 public:
  struct Report {
    std::size_t share = 0;
    std::size_t user_limit = 0;
    std::size_t replicas = 0;
    long ok = 0;
    long failed = 0;
  };

  explicit Replica(const std::vector<std::string>& env) {
    int fds[2];
    // Close-on-exec: a replica spawned later must not hold this one's pipe
    // open (its reader would never see the end).
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::string path = PGOBO_CONNECTION_LIMIT_REPLICA;
    char* argv[] = {path.data(), nullptr};
    const int rc = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("posix_spawn " + path + " failed: " + std::to_string(rc));
    }
    reader_ = std::thread([this, fd = fds[0]] { read_lines(fd); });
  }

  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // However the test ends, no replica outlives it.
  ~Replica() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      (void)wait_exit();
    }
    if (reader_.joinable()) reader_.join();
  }

  [[nodiscard]] Report latest() const {
    const std::lock_guard lock(mutex_);
    return latest_;
  }
  [[nodiscard]] std::string done_line() const {
    const std::lock_guard lock(mutex_);
    return done_;
  }
  // The counts of the "done" line, once the replica has ended cleanly.
  [[nodiscard]] std::optional<Report> final_counts() const {
    const std::lock_guard lock(mutex_);
    if (!has_final_) return std::nullopt;
    return final_;
  }

  void signal(int sig) const { kill(pid_, sig); }

  // The exit status (waitpid), once; by its return every line the replica
  // wrote has been read (its end of the pipe closed with it).
  int wait_exit() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    if (reader_.joinable()) reader_.join();
    return status;
  }

 private:
  void read_lines(int fd) {
    std::unique_ptr<FILE, int (*)(FILE*)> in(fdopen(fd, "r"), fclose);
    char buffer[512];
    while (in && std::fgets(buffer, sizeof buffer, in.get()) != nullptr) {
      const std::string line(buffer);
      const std::lock_guard lock(mutex_);
      if (line.rfind("done", 0) == 0) {
        done_ = line;
        if (std::sscanf(line.c_str(), "done ok=%ld failed=%ld", &final_.ok, &final_.failed) == 2) {
          has_final_ = true;
        }
        continue;
      }
      Report r;
      if (std::sscanf(line.c_str(),
                      "stats share=%zu user_limit=%zu replicas=%zu capacity=%*u ok=%ld failed=%ld",
                      &r.share, &r.user_limit, &r.replicas, &r.ok, &r.failed) == 5) {
        latest_ = r;
      }
    }
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  mutable std::mutex mutex_;
  Report latest_;
  std::string done_;
  Report final_;
  bool has_final_ = false;
  std::thread reader_;
};

// Counts the test roles' client backends as often as it can, on its own
// superuser connection, keeping the peak.
class BackendSampler {
 public:
  explicit BackendSampler(const PgServer& server)
      : thread_([this, conninfo = server.superuser_conninfo()] { run(conninfo); }) {}
  ~BackendSampler() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] int peak() const { return peak_.load(); }
  [[nodiscard]] long samples() const { return samples_.load(); }

 private:
  void run(const std::string& conninfo) {
    pqxx::connection conn(conninfo);
    while (!stop_) {
      pqxx::nontransaction tx(conn);
      const int now = tx.exec(
                            "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'connlimit%' "
                            "AND backend_type = 'client backend'")[0][0]
                          .as<int>();
      tx.commit();
      int seen = peak_.load();
      while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
      }
      ++samples_;
      std::this_thread::sleep_for(2ms);  // a sample's pace, not a wait for a state
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> peak_{0};
  std::atomic<long> samples_{0};
  std::thread thread_;
};

// For the shared fixture's rule on a missing server only; all of it runs on
// a private server.
class ConnectionLimit : public PgTest {};

TEST_F(ConnectionLimit, ReplicasShareTheServerAndADeadOnesShareGoesToTheOthers) {
  const auto started = std::chrono::steady_clock::now();
  PrivatePg pg("-c max_connections=" + std::to_string(kMaxConnections));
  const std::string password = password_for("connlimit");  // every test role's
  std::vector<std::string> users;
  {
    auto conn = pg.superuser();
    pqxx::work tx(conn);
    tx.exec("CREATE ROLE " + std::string(kService) + " LOGIN NOSUPERUSER PASSWORD " +
            tx.quote(password));
    for (int i = 0; i < kUsersPerReplica; ++i) {
      users.push_back("connlimit-u" + std::to_string(i) + "@example.com");
      tx.exec("CREATE ROLE " + tx.quote_name(users.back()) +
              " LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD " + tx.quote(password));
    }
    // The operator's one-time SQL (docs/operations.md), in a schema of its own.
    tx.exec("CREATE SCHEMA ops");
    tx.exec(
        "CREATE TABLE ops.pgobo_replicas (replica_id text PRIMARY KEY, "
        "claimed integer NOT NULL, seen_at timestamptz NOT NULL)");
    tx.exec("GRANT USAGE ON SCHEMA ops TO " + std::string(kService));
    tx.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON ops.pgobo_replicas TO " +
            std::string(kService));
    tx.commit();
  }
  std::string user_list;
  for (const auto& u : users) user_list += (user_list.empty() ? "" : ",") + u;
  std::vector<std::string> env{
      "PATH=/usr/bin:/bin",
      "PGHOST=" + pg.server().host,
      "PGPORT=" + std::to_string(pg.server().port),
      "PGDATABASE=" + pg.server().database,
      "PGUSER=" + std::string(kService),
      "PGPASSWORD=" + password,
      "PGSSLMODE=disable",
      "PGOBO_MAX_SIZE=" + std::to_string(kServicePoolSize),
      "PGOBO_USER_POOL_MAX_SIZE=3",
      "PGOBO_CONNECTION_LIMIT=auto",
      "PGOBO_CONNECTION_LIMIT_RESERVE=" + std::to_string(kReserve),
      "PGOBO_CONNECTION_LIMIT_INTERVAL_MS=200",
      "PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS=1000",
      "PGOBO_CONNECTION_LIMIT_TABLE=ops.pgobo_replicas",
      "CONNLIMIT_USERS=" + user_list,
      "CONNLIMIT_USER_PASSWORD=" + password,
      "CONNLIMIT_THREADS_PER_USER=" + std::to_string(kThreadsPerUser),
      "CONNLIMIT_RUN_MS=40000",  // a backstop: the test ends them sooner
  };
  // Sanitizer builds: the replicas run under the same options.
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var(*e);
    for (const char* prefix :
         {"ASAN_OPTIONS=", "TSAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="}) {
      if (var.rfind(prefix, 0) == 0) env.push_back(var);
    }
  }

  BackendSampler sampler(pg.server());
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(std::make_unique<Replica>(env));

  // Fair share: 24 / 3 = 8, of which the service pool's 2: 6 for user pools.
  constexpr std::size_t kFairUsers3 = kCapacity / 3 - kServicePoolSize;
  constexpr std::size_t kFairUsers2 = kCapacity / 2 - kServicePoolSize;  // 10
  const auto all_at = [&](std::size_t count, std::size_t n, std::size_t user_limit) {
    for (std::size_t i = 0; i < count; ++i) {
      const Replica::Report r = replicas[i]->latest();
      if (r.replicas != n || r.user_limit != user_limit || r.ok == 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(poll_until([&] { return all_at(3, 3, kFairUsers3); }, 15s))
      << "replica 0: limit " << replicas[0]->latest().user_limit << " of "
      << replicas[0]->latest().replicas << "; replica 2: limit "
      << replicas[2]->latest().user_limit;
  const auto converged = std::chrono::steady_clock::now();

  replicas[2]->signal(SIGKILL);
  (void)replicas[2]->wait_exit();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(poll_until([&] { return all_at(2, 2, kFairUsers2); }, 10s))
      << "replica 0: limit " << replicas[0]->latest().user_limit << " of "
      << replicas[0]->latest().replicas;
  const auto grown = std::chrono::steady_clock::now();
  // The survivors keep serving under their new shares for a few heartbeats.
  const long ok_at_growth = replicas[0]->latest().ok;
  ASSERT_TRUE(poll_until([&] { return replicas[0]->latest().ok > ok_at_growth + 50; }, 10s));

  long served = 0;
  long failed = 0;
  for (int i = 0; i < 2; ++i) replicas[static_cast<std::size_t>(i)]->signal(SIGTERM);
  for (int i = 0; i < 2; ++i) {
    Replica& r = *replicas[static_cast<std::size_t>(i)];
    const int status = r.wait_exit();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "replica " << i << " status " << status << ": " << r.done_line();
    const auto counts = r.final_counts();
    ASSERT_TRUE(counts) << "replica " << i << " ended without its counts: " << r.done_line();
    EXPECT_EQ(counts->failed, 0) << "replica " << i;
    EXPECT_GT(counts->ok, 0) << "replica " << i;
    served += counts->ok;
    failed += counts->failed;
  }
  sampler.stop();

  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << "[connection limit] peak backends " << sampler.peak() << " of " << kCapacity
            << " (max_connections " << kMaxConnections << " - " << kSuperuserReserved
            << " reserved - reserve " << kReserve << ") over " << sampler.samples()
            << " samples; converged in " << ms(converged - started)
            << " ms; a dead replica's share moved in " << ms(grown - killed)
            << " ms; the two survivors served " << served << " requests, " << failed
            << " failed; test " << ms(std::chrono::steady_clock::now() - started) << " ms\n";
  EXPECT_LE(sampler.peak(), kCapacity);
  // The load wants 12 connections per replica: the shares were what held it.
  EXPECT_GE(sampler.peak(), 2 * static_cast<int>(kFairUsers3));
}

class ConnectionLimitTable : public PgTest {
 protected:
  static constexpr const char* kTable = "connlimit_stuck_replicas";

  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto conn = superuser();
    pqxx::work tx(conn);
    tx.exec(std::string("DROP TABLE IF EXISTS ") + kTable);
    tx.exec(std::string("CREATE TABLE ") + kTable +
            " (replica_id text PRIMARY KEY, claimed integer NOT NULL, seen_at timestamptz NOT "
            "NULL)");
    tx.exec(std::string("GRANT SELECT, INSERT, UPDATE, DELETE ON ") + kTable + " TO " +
            kServiceRole);
    tx.commit();
  }

  [[nodiscard]] std::shared_ptr<Pool> service_pool(const std::string& name) const {
    PoolOptions options;
    options.name = name;
    options.connection.host = server().pool_host;
    options.connection.port = static_cast<std::uint16_t>(server().pool_port);
    options.connection.dbname = server().database;
    options.connection.user = kServiceRole;
    options.connection.sslmode = SslMode::disable;
    options.connection.connect_timeout = 5s;
    options.credentials = std::make_shared<StaticPassword>(Secret{password_for(kServiceRole)});
    options.max_size = 1;
    return std::make_shared<Pool>(std::move(options));
  }

  [[nodiscard]] std::vector<std::string> rows() const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    std::vector<std::string> ids;
    for (const auto& row :
         tx.exec(std::string("SELECT replica_id FROM ") + kTable + " ORDER BY replica_id")) {
      ids.push_back(row[0].as<std::string>());
    }
    return ids;
  }
};

TEST_F(ConnectionLimitTable, AReplicaStuckHoldingTheLockDoesNotStopTheOthersHeartbeats) {
  ConnectionLimitOptions options;
  options.automatic = true;
  options.interval = 1000ms;
  options.dead_replica_timeout = 3000ms;
  options.table = kTable;
  auto stuck_pool = service_pool("stuck");
  auto live_pool = service_pool("live");
  auto stuck = make_pqxx_replica_directory(stuck_pool, options, "a-stuck");
  auto live = make_pqxx_replica_directory(live_pool, options, "b-live");

  // "a-stuck" stops (SIGSTOP, a blackholed network, a slow client) between
  // its statements, the table locked: here, inside its `decide`.
  std::latch locked(1);
  std::latch release(1);
  std::atomic<bool> stuck_failed{false};
  std::thread stuck_thread([&] {
    try {
      stuck->heartbeat([&](const ReplicaDirectory::View&) {
        locked.count_down();
        release.wait();
        return std::size_t{5};
      });
    } catch (const std::exception&) {
      stuck_failed = true;  // its session was ended under it
    }
  });
  locked.wait();

  // The other replica's heartbeat gets the table once the server has ended
  // the stuck session (idle in transaction for half an interval), within
  // its own lock wait of one interval: its first attempt succeeds.
  const auto began = std::chrono::steady_clock::now();
  ReplicaDirectory::View seen;
  EXPECT_NO_THROW(live->heartbeat([&](const ReplicaDirectory::View& view) {
    seen = view;
    return std::size_t{3};
  }));
  const auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_LT(waited, options.interval + 500ms);
  EXPECT_EQ(seen.others, 0U);  // the stuck one never published a claim

  release.count_down();
  stuck_thread.join();
  EXPECT_TRUE(stuck_failed.load());
  EXPECT_EQ(rows(), (std::vector<std::string>{"b-live"}));
  std::cout << "[connection limit] a heartbeat behind a stuck replica's lock took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
            << " ms (interval " << options.interval.count() << " ms)\n";

  // Leaving is bounded too: behind a lock held by another session it gives
  // up after about an interval instead of holding a shutdown.
  auto admin = superuser();
  pqxx::work holder(admin);
  holder.exec(std::string("LOCK TABLE ") + kTable + " IN ACCESS EXCLUSIVE MODE");
  const auto leave_began = std::chrono::steady_clock::now();
  live->leave();  // logs that it failed
  const auto left_in = std::chrono::steady_clock::now() - leave_began;
  EXPECT_LT(left_in, options.interval + 1000ms);
  holder.abort();
  EXPECT_EQ(rows(), (std::vector<std::string>{"b-live"}));  // the row expires instead
}

}  // namespace
}  // namespace pgobo::test
