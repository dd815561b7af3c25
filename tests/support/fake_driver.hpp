// FakeDriver: a scriptable stand-in for libpq, so the pool's logic is tested
// and benchmarked without a server (the role HikariCP's StubDriver plays).
//
//   pgobo::test::FakeDriver driver;
//   pgobo::BasicPool<pgobo::test::FakeDriver, pgobo::test::FakeClock> pool(options, driver);
//
//   driver.fail_opens<pgobo::AuthenticationFailed>("password authentication failed");
//   driver.hang_opens();              // opens block until release_opens()
//   driver.wait_for_hanging_opens(1); // a latch: one open is now blocked
//
//   auto lease = pool.connect();
//   lease->begin();                   // leave it inside a transaction
//   lease->kill();                    // the server went away (pg_terminate_backend)
//
//   driver.hang_closes();             // closing a connection blocks until release_closes()
//   driver.opened(), driver.closed(), driver.open_now(), driver.peak_open(), driver.resets()
//
// FakeDriver is a cheap handle on shared state: the copy the pool holds and
// the test's copy script and observe the same driver. FakeClock is a steady
// clock that moves only when a test advances it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "pgobo/connection_params.hpp"
#include "pgobo/driver.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/secret.hpp"

namespace pgobo::test {

// A steady clock under the test's control. Shared by the whole process:
// call reset() in a fixture's SetUp.
struct FakeClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<FakeClock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept { return time_point(duration(ticks.load())); }
  static void advance(duration by) noexcept { ticks.fetch_add(by.count()); }
  // Starts at an arbitrary non-zero hour, so "time_point{}" is in the past.
  static void reset() noexcept {
    ticks.store(std::chrono::nanoseconds(std::chrono::hours(1)).count());
  }

  inline static std::atomic<rep> ticks{std::chrono::nanoseconds(std::chrono::hours(1)).count()};
};

namespace detail_fake {

struct DriverState {
  std::mutex mutex;
  std::condition_variable changed;

  // Scripted open failures, consumed one per open; `failing_forever` repeats
  // the last one.
  std::deque<std::exception_ptr> open_failures;
  std::exception_ptr failing_forever;
  bool hang = false;
  std::size_t hanging = 0;
  bool hang_closes = false;  // closing a connection blocks (a gate for races)
  std::size_t hanging_closes = 0;

  std::size_t open_calls = 0;
  std::size_t opened = 0;
  std::size_t closed = 0;
  std::size_t peak = 0;
  std::vector<std::string> passwords;  // test passwords only, kept to assert rotation

  std::atomic<bool> fail_pings{false};
  std::atomic<bool> fail_rollbacks{false};
  std::atomic<bool> fail_executes{false};
  std::atomic<bool> fail_resets{false};
  std::atomic<std::size_t> pings{0};
  std::atomic<std::size_t> resets{0};
};

}  // namespace detail_fake

// What the pool lends. The test, holding the lease, plays the application:
// begin() a transaction, kill() the backend, look at what ran on it.
class FakeConnection {
 public:
  FakeConnection(std::shared_ptr<detail_fake::DriverState> state, int id, std::string user)
      : state_(std::move(state)), id_(id), user_(std::move(user)) {}
  FakeConnection(const FakeConnection&) = delete;
  FakeConnection& operator=(const FakeConnection&) = delete;
  ~FakeConnection() {
    std::unique_lock lock(state_->mutex);
    if (state_->hang_closes) {
      ++state_->hanging_closes;
      state_->changed.notify_all();
      state_->changed.wait(lock, [&] { return !state_->hang_closes; });
      --state_->hanging_closes;
    }
    ++state_->closed;
    state_->changed.notify_all();
  }

  // 1, 2, 3… in the order the driver opened them.
  [[nodiscard]] int id() const noexcept { return id_; }
  // The role it logged in as (ConnectionParams::user at open).
  [[nodiscard]] const std::string& user() const noexcept { return user_; }

  void begin() noexcept { in_transaction_ = true; }
  void commit() noexcept { in_transaction_ = false; }
  // The server ended this backend: every later use fails.
  void kill() noexcept { broken_ = true; }
  [[nodiscard]] bool in_transaction() const noexcept { return in_transaction_; }
  [[nodiscard]] bool broken() const noexcept { return broken_; }
  // How often the pool reset its session (reset_session()).
  [[nodiscard]] std::size_t resets() const noexcept { return resets_; }

  // Statements the pool ran on it (ROLLBACK, the reset query, SELECT 1) and
  // those sent through query(), in order.
  [[nodiscard]] const std::vector<std::string>& statements() const noexcept { return statements_; }

 private:
  friend class FakeDriver;
  std::shared_ptr<detail_fake::DriverState> state_;
  int id_;
  std::string user_;
  bool in_transaction_ = false;
  bool broken_ = false;
  std::size_t resets_ = 0;
  std::vector<std::string> statements_;
};

// What FakeDriver::query returns: enough to see where a statement ran.
struct FakeResult {
  int connection_id = 0;
  std::string sql;
  std::size_t parameter_count = 0;
  std::string user;  // the role of the connection it ran on
};

class FakeDriver {
 public:
  using Connection = FakeConnection;

  FakeDriver() : state_(std::make_shared<detail_fake::DriverState>()) {}

  // --- scripting ---------------------------------------------------------

  // The next `times` opens throw E(message); times = forever keeps failing
  // until succeed_opens().
  static constexpr std::size_t forever = std::numeric_limits<std::size_t>::max();
  template <class E>
  void fail_opens(std::string message, std::size_t times = 1) {
    auto error = std::make_exception_ptr(E(std::move(message)));
    std::lock_guard lock(state_->mutex);
    if (times == forever) {
      state_->failing_forever = error;
    } else {
      for (std::size_t i = 0; i < times; ++i) state_->open_failures.push_back(error);
    }
  }
  void succeed_opens() {
    std::lock_guard lock(state_->mutex);
    state_->failing_forever = nullptr;
    state_->open_failures.clear();
  }

  // Later opens block (as on a slow network) until release_opens().
  void hang_opens() {
    std::lock_guard lock(state_->mutex);
    state_->hang = true;
  }
  void release_opens() {
    std::lock_guard lock(state_->mutex);
    state_->hang = false;
    state_->changed.notify_all();
  }
  // Blocks until `count` opens are hanging (bounded: false after 10 s).
  bool wait_for_hanging_opens(std::size_t count) {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, std::chrono::seconds(10),
                                    [&] { return state_->hanging >= count; });
  }

  // Later closes (destroying a connection) block until release_closes():
  // holds a thread inside the pool's close path, exactly there.
  void hang_closes() {
    std::lock_guard lock(state_->mutex);
    state_->hang_closes = true;
  }
  void release_closes() {
    std::lock_guard lock(state_->mutex);
    state_->hang_closes = false;
    state_->changed.notify_all();
  }
  // Blocks until `count` closes are hanging (bounded: false after 10 s).
  bool wait_for_hanging_closes(std::size_t count) {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, std::chrono::seconds(10),
                                    [&] { return state_->hanging_closes >= count; });
  }

  void fail_pings(bool fail = true) { state_->fail_pings = fail; }
  void fail_rollbacks(bool fail = true) { state_->fail_rollbacks = fail; }
  void fail_executes(bool fail = true) { state_->fail_executes = fail; }
  void fail_resets(bool fail = true) { state_->fail_resets = fail; }

  // --- observing ---------------------------------------------------------

  [[nodiscard]] std::size_t open_calls() const {
    return locked([](detail_fake::DriverState& s) { return s.open_calls; });
  }
  [[nodiscard]] std::size_t opened() const {
    return locked([](detail_fake::DriverState& s) { return s.opened; });
  }
  [[nodiscard]] std::size_t closed() const {
    return locked([](detail_fake::DriverState& s) { return s.closed; });
  }
  [[nodiscard]] std::size_t open_now() const {
    return locked([](detail_fake::DriverState& s) { return s.opened - s.closed; });
  }
  // The most connections open at the same moment.
  [[nodiscard]] std::size_t peak_open() const {
    return locked([](detail_fake::DriverState& s) { return s.peak; });
  }
  [[nodiscard]] std::size_t pings() const { return state_->pings.load(); }
  // Session resets over all connections (FakeConnection::resets() per one).
  [[nodiscard]] std::size_t resets() const { return state_->resets.load(); }
  // The password each open was given, in order.
  [[nodiscard]] std::vector<std::string> passwords() const {
    return locked([](detail_fake::DriverState& s) { return s.passwords; });
  }

  // --- the PoolDriver interface ------------------------------------------

  std::unique_ptr<FakeConnection> open(const ConnectionParams& params, const Secret& password) {
    std::unique_lock lock(state_->mutex);
    ++state_->open_calls;
    state_->passwords.push_back(password.reveal());
    if (state_->hang) {
      ++state_->hanging;
      state_->changed.notify_all();
      state_->changed.wait(lock, [&] { return !state_->hang; });
      --state_->hanging;
    }
    if (!state_->open_failures.empty()) {
      auto error = state_->open_failures.front();
      state_->open_failures.pop_front();
      std::rethrow_exception(error);
    }
    if (state_->failing_forever) std::rethrow_exception(state_->failing_forever);
    const int id = static_cast<int>(++state_->opened);
    state_->peak = std::max(state_->peak, state_->opened - state_->closed);
    return std::make_unique<FakeConnection>(state_, id, params.user);
  }

  ConnectionState state(FakeConnection& connection) noexcept {
    if (connection.broken_) return ConnectionState::broken;
    return connection.in_transaction_ ? ConnectionState::in_transaction : ConnectionState::idle;
  }

  bool rollback(FakeConnection& connection) noexcept {
    connection.statements_.emplace_back("ROLLBACK");
    if (connection.broken_ || state_->fail_rollbacks) return false;
    connection.in_transaction_ = false;
    return true;
  }

  bool execute(FakeConnection& connection, const std::string& sql) noexcept {
    connection.statements_.push_back(sql);
    return !connection.broken_ && !state_->fail_executes;
  }

  // Counted, not recorded in statements(): a benchmark lends one connection
  // millions of times.
  bool reset_session(FakeConnection& connection) noexcept {
    ++connection.resets_;
    ++state_->resets;
    return !connection.broken_ && !state_->fail_resets;
  }

  bool ping(FakeConnection& connection) noexcept {
    ++state_->pings;
    connection.statements_.emplace_back("SELECT 1");
    return !connection.broken_ && !state_->fail_pings;
  }

  template <class... Params>
  FakeResult query(FakeConnection& connection, std::string_view sql, const Params&...) {
    connection.statements_.emplace_back(sql);
    return FakeResult{connection.id(), std::string(sql), sizeof...(Params), connection.user()};
  }

  template <class... Params>
  FakeResult query_read_only(FakeConnection& connection, std::string_view sql, const Params&...) {
    connection.statements_.emplace_back("BEGIN READ ONLY");
    connection.statements_.emplace_back(sql);
    connection.statements_.emplace_back("ROLLBACK");
    return FakeResult{connection.id(), std::string(sql), sizeof...(Params), connection.user()};
  }

 private:
  template <class F>
  std::invoke_result_t<F&, detail_fake::DriverState&> locked(F read) const {
    std::lock_guard lock(state_->mutex);
    return read(*state_);
  }

  std::shared_ptr<detail_fake::DriverState> state_;
};

static_assert(PoolDriver<FakeDriver>);

// --- helpers for tests of the pool over FakeDriver ---------------------------

// Options for a pool under test: small, no jitter, deadlines long enough
// never to fire unless a test shortens them.
inline PoolOptions fake_pool_options(std::size_t max_size = 3) {
  PoolOptions options;
  options.name = "test";
  options.connection.user = "alice@example.com";
  options.max_size = max_size;
  options.acquire_timeout = std::chrono::seconds(10);
  options.max_lifetime_jitter = 0.0;
  options.close_timeout = std::chrono::seconds(10);
  return options;
}

}  // namespace pgobo::test
