// Helpers of the fault-injection integration tests (tests/integration/fault_*):
// a RoutingPool wired to any server with counted connection attempts, a tally
// of outcomes by exception type, and small measuring tools.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "measure.hpp"
#include "pg_fixture.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "wait.hpp"  // poll_until(), eventually()

namespace pgobo::test {

using FaultClock = std::chrono::steady_clock;

// Counts get() calls of the provider it wraps. A pool fetches one credential
// per attempt to open a connection, so this counts connection attempts
// independently of the pool's own statistics.
class CountingCredentials final : public CredentialProvider {
 public:
  CountingCredentials(std::shared_ptr<CredentialProvider> inner,
                      std::shared_ptr<std::atomic<std::int64_t>> counter)
      : inner_(std::move(inner)), counter_(std::move(counter)) {}
  [[nodiscard]] Credential get() override {
    counter_->fetch_add(1);
    return inner_->get();
  }

 private:
  std::shared_ptr<CredentialProvider> inner_;
  std::shared_ptr<std::atomic<std::int64_t>> counter_;
};

// A RoutingPool on `server` whose service pool logs in as kServiceRole and
// whose user pools log in as the user's key, all with password_for(role),
// every attempt to open a connection counted in `attempts`. `tune` adjusts
// the options of both kinds of pool (sizes, timeouts, validation, backoff).
struct RouterSetup {
  std::unique_ptr<RoutingPool> router;
  std::shared_ptr<std::atomic<std::int64_t>> attempts =
      std::make_shared<std::atomic<std::int64_t>>(0);
};

inline RouterSetup make_counted_router(const PgServer& server, const std::string& application,
                                       const std::function<void(PoolOptions&)>& tune = {},
                                       std::chrono::milliseconds sweep_interval = {}) {
  using namespace std::chrono_literals;
  RouterSetup setup;
  PoolOptions base;
  base.connection.host = server.pool_host;
  base.connection.port = static_cast<std::uint16_t>(server.pool_port);
  base.connection.dbname = server.database;
  base.connection.sslmode = SslMode::disable;
  base.connection.application_name = application;
  base.connection.connect_timeout = 5s;
  base.max_size = 3;
  if (tune) tune(base);

  PoolOptions service = base;
  service.name = "sp";
  service.connection.user = kServiceRole;
  service.credentials = std::make_shared<CountingCredentials>(
      std::make_shared<StaticPassword>(Secret(password_for(kServiceRole))), setup.attempts);

  PoolManager::Options users;
  users.user_pool = base;
  users.sweep_interval = sweep_interval;
  users.credentials_for = [attempts = setup.attempts](const UserContext& user) {
    return std::make_shared<CountingCredentials>(
        std::make_shared<StaticPassword>(Secret(password_for(user.key()))), attempts);
  };
  // As RoutingPool::create(): user pools refuse roles that bypass RLS.
  setup.router = std::make_unique<RoutingPool>(std::make_shared<Pool>(std::move(service)),
                                               std::move(users), PqxxDriver(RlsBypass::refuse));
  return setup;
}

// What a request ended with, by kind. The order is the order of the catch
// clauses in classify().
enum class Outcome {
  ok,
  server_unavailable,
  too_many_connections,
  authentication_failed,
  other_connect_error,
  credential_error,
  acquire_timeout,
  pool_closed,
  other_pgobo_error,
  broken_connection,  // pqxx: the connection died under a statement
  sql_error,          // pqxx: e.g. "terminating connection due to administrator command"
  other,
};
inline constexpr int kOutcomes = static_cast<int>(Outcome::other) + 1;

inline const char* name_of(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok:
      return "ok";
    case Outcome::server_unavailable:
      return "ServerUnavailable";
    case Outcome::too_many_connections:
      return "TooManyConnections";
    case Outcome::authentication_failed:
      return "AuthenticationFailed";
    case Outcome::other_connect_error:
      return "ConnectError";
    case Outcome::credential_error:
      return "CredentialError";
    case Outcome::acquire_timeout:
      return "AcquireTimeout";
    case Outcome::pool_closed:
      return "PoolClosed";
    case Outcome::other_pgobo_error:
      return "pgobo::Error";
    case Outcome::broken_connection:
      return "pqxx::broken_connection";
    case Outcome::sql_error:
      return "pqxx::sql_error";
    case Outcome::other:
      return "other exception";
  }
  return "?";
}

// Call inside a catch block: the kind of the exception being handled and its text.
inline Outcome classify_current(std::string& message) {
  try {
    throw;
  } catch (const ServerUnavailable& e) {
    message = e.what();
    return Outcome::server_unavailable;
  } catch (const TooManyConnections& e) {
    message = e.what();
    return Outcome::too_many_connections;
  } catch (const AuthenticationFailed& e) {
    message = e.what();
    return Outcome::authentication_failed;
  } catch (const ConnectError& e) {
    message = e.what();
    return Outcome::other_connect_error;
  } catch (const CredentialError& e) {
    message = e.what();
    return Outcome::credential_error;
  } catch (const AcquireTimeout& e) {
    message = e.what();
    return Outcome::acquire_timeout;
  } catch (const PoolClosed& e) {
    message = e.what();
    return Outcome::pool_closed;
  } catch (const Error& e) {
    message = e.what();
    return Outcome::other_pgobo_error;
  } catch (const pqxx::broken_connection& e) {
    message = e.what();
    return Outcome::broken_connection;
  } catch (const pqxx::sql_error& e) {
    message = e.what();
    return Outcome::sql_error;
  } catch (const std::exception& e) {
    message = e.what();
    return Outcome::other;
  } catch (...) {
    message = "non-standard exception";
    return Outcome::other;
  }
}

// Counts of outcomes, the first message of each kind and the longest call of
// each kind; thread-safe.
class Tally {
 public:
  void add(Outcome outcome, const std::string& message, FaultClock::duration took) {
    const std::lock_guard lock(mutex_);
    const int i = static_cast<int>(outcome);
    ++counts_[i];
    if (first_[i].empty()) first_[i] = message;
    if (took > longest_[i]) longest_[i] = took;
  }
  void merge(const Tally& other) {
    const std::lock_guard theirs(other.mutex_);
    const std::lock_guard lock(mutex_);
    for (int i = 0; i < kOutcomes; ++i) {
      counts_[i] += other.counts_[i];
      if (first_[i].empty()) first_[i] = other.first_[i];
      if (other.longest_[i] > longest_[i]) longest_[i] = other.longest_[i];
    }
  }
  [[nodiscard]] std::int64_t count(Outcome outcome) const {
    const std::lock_guard lock(mutex_);
    return counts_[static_cast<int>(outcome)];
  }
  [[nodiscard]] std::int64_t total() const {
    const std::lock_guard lock(mutex_);
    std::int64_t sum = 0;
    for (auto c : counts_) sum += c;
    return sum;
  }
  // Every outcome but those listed.
  [[nodiscard]] std::int64_t count_except(std::initializer_list<Outcome> allowed) const {
    const std::lock_guard lock(mutex_);
    std::int64_t sum = 0;
    for (int i = 0; i < kOutcomes; ++i) {
      bool ok = false;
      for (Outcome a : allowed) ok = ok || static_cast<int>(a) == i;
      if (!ok) sum += counts_[i];
    }
    return sum;
  }
  [[nodiscard]] std::string first(Outcome outcome) const {
    const std::lock_guard lock(mutex_);
    return first_[static_cast<int>(outcome)];
  }
  [[nodiscard]] std::chrono::milliseconds longest(Outcome outcome) const {
    const std::lock_guard lock(mutex_);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        longest_[static_cast<int>(outcome)]);
  }
  // "ok 120 (max 5 ms), ServerUnavailable 3 (max 1 ms): pool 'sp': ..."
  [[nodiscard]] std::string describe() const {
    const std::lock_guard lock(mutex_);
    std::string out;
    for (int i = 0; i < kOutcomes; ++i) {
      if (counts_[i] == 0) continue;
      if (!out.empty()) out += "; ";
      out += std::string(name_of(static_cast<Outcome>(i))) + " " + std::to_string(counts_[i]) +
             " (max " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::milliseconds>(longest_[i]).count()) +
             " ms)";
      if (!first_[i].empty()) out += ": " + first_[i].substr(0, 300);
    }
    return out.empty() ? "nothing" : out;
  }

 private:
  mutable std::mutex mutex_;
  std::int64_t counts_[kOutcomes] = {};
  std::string first_[kOutcomes];
  FaultClock::duration longest_[kOutcomes] = {};
};

inline std::int64_t ms_between(FaultClock::time_point from, FaultClock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// Worker threads that are told to stop and joined however the test leaves
// (an ASSERT returning early included): a joinable std::thread destroyed
// would terminate the process. Declare it after everything the workers use.
class LoadThreads {
 public:
  explicit LoadThreads(std::atomic<bool>& stopping) : stopping_(stopping) {}
  ~LoadThreads() { stop(); }
  LoadThreads(const LoadThreads&) = delete;
  LoadThreads& operator=(const LoadThreads&) = delete;

  template <class F>
  void spawn(F&& body) {
    threads_.emplace_back(std::forward<F>(body));
  }
  void stop() {
    stopping_ = true;
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::atomic<bool>& stopping_;
  std::vector<std::thread> threads_;
};

// Ends the process if not disarmed in time: a test of "nothing hangs" must
// fail, not sit until ctest's timeout without saying where.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string what)
      : what_(std::move(what)), thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!disarmed_cv_.wait_for(lock, limit, [this] { return disarmed_; })) {
            std::cerr << "watchdog: " << what_ << " did not finish within " << limit.count()
                      << " s; aborting" << std::endl;
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      const std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    disarmed_cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable disarmed_cv_;
  bool disarmed_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace pgobo::test
