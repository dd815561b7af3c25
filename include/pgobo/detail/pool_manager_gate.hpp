// pgobo/detail/pool_manager_gate.hpp — the pool operations only a manager of
// pools uses.
//
// BasicPool keeps what a manager needs to drain, evict and sweep its pools
// (a constructor taking a shared budget, begin_drain, is_drained,
// close_one_idle, last_used, login_failing, is_idle_and_empty, connect with a
// deadline, Lease's keep_alive) private, so
// the API every pool user sees stays what a pool user needs. BasicPoolManager
// (and tests of those operations) reach them through this gate, a friend of
// BasicPool and of its Lease:
//
//   pgobo::detail::PoolManagerGate{pool}.begin_drain();
//
// Not for applications: these members may change without notice.
#pragma once

#include <chrono>
#include <memory>
#include <utility>
#include "pgobo/source_location.hpp"

#include "pgobo/detail/budget.hpp"
#include "pgobo/pool_options.hpp"

namespace pgobo::detail {

template <class Pool>
class PoolManagerGate {
 public:
  explicit PoolManagerGate(Pool& pool) noexcept : pool_(pool) {}

  // A pool whose connections also count against `budget`, a limit shared
  // with other pools: a permit is taken before each open (waiting up to the
  // caller's deadline) and given back when the connection closes.
  template <class Driver>
  [[nodiscard]] static std::shared_ptr<Pool> make_shared(PoolOptions options, Driver driver,
                                                         std::shared_ptr<Budget> budget) {
    // The constructor is private: std::make_shared cannot reach it.
    return std::shared_ptr<Pool>(
        new Pool(std::move(options), std::move(driver), std::move(budget)));
  }

  // Stops taking new connect() calls (they get PoolClosed) but keeps serving
  // the callers already waiting and the leases already out; each connection
  // closes when it comes back with nobody waiting. For a pool replaced by a
  // newer one (token rotation).
  void begin_drain() const { pool_.begin_drain(); }
  // Draining or ended, and no connection, lease or waiter is left.
  [[nodiscard]] bool is_drained() const { return pool_.is_drained(); }
  // Closes the least recently returned idle connection, if any: how a
  // global connection budget makes room for another pool.
  bool close_one_idle() const { return pool_.close_one_idle(); }
  // When a connection was last lent or given back (construction time before
  // that): for least-recently-used eviction across pools.
  [[nodiscard]] auto last_used() const { return pool_.last_used(); }
  // The last attempt to open a connection was refused at login or for want
  // of a credential (and none has opened since): the pool's credential is
  // bad, so an older, working token may replace it.
  [[nodiscard]] bool login_failing() const { return pool_.login_failing(); }
  // No connection (idle, leased, opening or closing) and nobody waiting: the
  // pool can be dropped without anyone noticing.
  [[nodiscard]] bool is_idle_and_empty() const { return pool_.is_idle_and_empty(); }
  // connect(), waiting until `deadline` instead of acquire_timeout: for a
  // request that already spent part of its time waiting for room under
  // max_pools, so it never waits longer than its deadline in all.
  [[nodiscard]] auto connect(std::chrono::steady_clock::time_point deadline,
                             const SourceLocation& where) const {
    return pool_.connect(deadline, where);
  }

  // Keeps `owner` alive until the lease's connection is back: the manager
  // keeps the user's pool (and its place under max_pools) for as long as a
  // request holds one of its connections.
  static void keep_alive(typename Pool::Lease& lease, std::shared_ptr<const void> owner) noexcept {
    lease.keep_alive(std::move(owner));
  }

 private:
  Pool& pool_;
};

}  // namespace pgobo::detail
