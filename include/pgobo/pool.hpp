// pgobo/pool.hpp — a bounded pool of PostgreSQL connections for one identity.
//
//   pgobo::PoolOptions options;
//   options.name = "sp";
//   options.connection.host = "db.internal";
//   options.connection.user = "pgobo_service";
//   options.credentials = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{"s3cret"});
//   pgobo::Pool pool(options);                   // #include "pgobo/pqxx_pool.hpp"
//
//   auto rows = pool.query("SELECT body FROM app.notes WHERE id = $1", 42);
//
//   {
//     pgobo::Lease lease = pool.connect();       // waits up to acquire_timeout
//     pqxx::work tx(*lease);
//     tx.exec_params("UPDATE app.notes SET body = $1 WHERE id = $2", "new", 42);
//     // (libpqxx 7.10+: tx.exec(sql, pqxx::params{"new", 42}); code for
//     // several versions: pgobo::pqxx_compat::exec_params, pqxx_compat.hpp)
//     tx.commit();
//   }                                            // the connection goes back
//
// Every connection of a pool logs in as the same role, with a password the
// CredentialProvider hands out at the moment that connection opens; the pool
// stores none. Connections open lazily up to max_size. Callers that find none
// free wait first-come first-served and get AcquireTimeout at their deadline.
// A returned connection is lent again only if it is open and outside any
// transaction (rolled back otherwise); idle and old connections are closed
// when the pool is next used and by reap(), which a sweeper may call.
//
// BasicPool is generic over its driver (pgobo/driver.hpp: PqxxDriver in
// production, FakeDriver in tests) and its clock (for ages: idle time,
// lifetime, backoff; deadlines of blocking waits always use
// std::chrono::steady_clock). This header does not include libpqxx: Pool
// (= BasicPool<PqxxDriver>) and Lease are declared in pgobo/pqxx_pool.hpp.
//
// Thread-safe. A lease may outlive its pool: it holds the pool's core, and
// a connection given back after the pool ended is closed. When a lease comes
// back from connect(), its session is reset (advisory locks, settings,
// LISTEN, portals, temp tables; prepared statements stay): see
// PoolOptions::session_reset.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include "pgobo/source_location.hpp"

#include "pgobo/detail/pool_core.hpp"
#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/driver.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/stats.hpp"

namespace pgobo {

template <PoolDriver Driver, class Clock = std::chrono::steady_clock>
class BasicPool;

template <PoolDriver Driver, class Clock>
class BasicPool {
  using Core = detail::PoolCore<Driver, Clock>;

 public:
  using Connection = typename Driver::Connection;
  using time_point = typename Clock::time_point;
  using Lease = typename Core::Lease;

  // Throws ConfigError if options.validate() does.
  explicit BasicPool(PoolOptions options, Driver driver = Driver{})
      : BasicPool(std::move(options), std::move(driver), nullptr) {}

  BasicPool(const BasicPool&) = delete;
  BasicPool& operator=(const BasicPool&) = delete;

  // close(), so waits up to close_timeout for leases still out. It never waits
  // longer: a lease returned later finds the pool ended and closes its
  // connection (each lease holds what it needs of the pool).
  ~BasicPool() { core_->close(); }

  // A connection for the caller's exclusive use, waiting up to
  // acquire_timeout. Throws AcquireTimeout, PoolClosed, a ConnectError
  // subclass or CredentialError (when a new connection had to be opened for
  // this caller and that failed). Its session is reset when it comes back
  // (PoolOptions::session_reset). `where` is for leak reports
  // (PoolOptions::leak_detection_threshold): leave it to its default.
  [[nodiscard]] Lease connect(SourceLocation where = SourceLocation::current()) {
    return core_->connect(core_, std::nullopt, /*exposed=*/true, where);
  }

  // Runs one statement outside a transaction on a leased connection and
  // returns its result (for Pool: pqxx::result, parameters bound to $1, $2…).
  // The pool's own statement: no session reset follows (unless
  // SessionReset::always).
  template <class... Params>
  auto query(std::string_view sql, const Params&... params) {
    return core_->query(core_, sql, params...);
  }

  // Closes the pool: connect() and waiters get PoolClosed, idle connections
  // close, outstanding leases are awaited up to close_timeout and close when
  // they come back. Idempotent; the destructor calls it.
  void close() { core_->close(); }
  // close() under node-postgres' (and AppKit's) name, for code ported from it.
  void end() { close(); }

  // Closes idle connections past idle_timeout (keeping min_idle) or past
  // their lifetime, then opens connections until min_idle are idle. What a
  // sweeper calls periodically. Returns how many connections it closed.
  std::size_t reap() { return core_->reap(); }
  // Closes every idle connection (leases are untouched). Returns how many.
  std::size_t close_idle_connections() { return core_->close_idle_connections(); }
  // Idle + leased + opening.
  [[nodiscard]] std::size_t total_count() const { return core_->total_count(); }
  [[nodiscard]] std::size_t idle_count() const { return core_->idle_count(); }
  [[nodiscard]] std::size_t waiting_count() const { return core_->waiting_count(); }
  [[nodiscard]] PoolStats stats() const { return core_->stats(); }
  [[nodiscard]] const PoolOptions& options() const noexcept { return core_->options(); }

 private:
  template <class Pool>
  friend class detail::PoolManagerGate;

  // Manager-only operations, reached through detail::PoolManagerGate
  // (documented there).
  BasicPool(PoolOptions options, Driver driver, std::shared_ptr<detail::Budget> budget)
      : core_(std::make_shared<Core>(std::move(options), std::move(driver), std::move(budget))) {}
  [[nodiscard]] Lease connect(std::chrono::steady_clock::time_point deadline,
                              const SourceLocation& where) {
    return core_->connect(core_, deadline, /*exposed=*/true, where);
  }
  void begin_drain() { core_->begin_drain(); }
  [[nodiscard]] bool is_drained() const { return core_->is_drained(); }
  bool close_one_idle() { return core_->close_one_idle(); }
  [[nodiscard]] time_point last_used() const { return core_->last_used(); }
  [[nodiscard]] bool login_failing() const { return core_->login_failing(); }
  [[nodiscard]] bool is_idle_and_empty() const { return core_->is_idle_and_empty(); }

  std::shared_ptr<Core> core_;
};

}  // namespace pgobo
