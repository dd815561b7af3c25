// pgobo/pool_manager_stats.hpp — totals over every user pool of a
// PoolManager, plus the manager's own counters.
//
//   // given: pgobo::PoolManager manager
//   pgobo::PoolManagerStats s = manager.stats();
//   nlohmann::json j = s;                     // via to_json below
//
// Contains no user key: safe to export as metrics without per-user series.
// Counters never go down, also when the pools they were counted in are
// swept, evicted or replaced.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>

#include "pgobo/stats.hpp"

namespace pgobo {

struct PoolManagerStats {
  std::size_t pools = 0;           // live user pools (current ones)
  std::size_t draining_pools = 0;  // replaced pools still finishing their work
  std::size_t connections = 0;     // open or opening, over all user pools
  std::size_t idle = 0;
  std::size_t leased = 0;
  std::size_t waiting = 0;                // connect() calls queued in user pools
  std::size_t budget_waiting = 0;         // waiting for a permit under max_total_connections
  std::size_t pool_budget_waiting = 0;    // waiting for room for a new pool under max_pools
  std::size_t max_total_connections = 0;  // the limit now; 0 = no limit unless adjustable
  // The limit moves at run time (the automatic connection limit): 0 is then
  // a limit of nothing (yet), not "no limit".
  bool max_total_connections_adjustable = false;
  std::size_t budget_in_use = 0;  // permits held under max_total_connections
  std::size_t max_pools = 0;      // 0 = no limit

  std::uint64_t pools_created = 0;
  std::uint64_t rebuilds = 0;              // pools replaced because of a new token
  std::uint64_t pools_removed = 0;         // dropped by the sweeper or for max_pools
  std::uint64_t connection_evictions = 0;  // idle connections closed to make room
  std::uint64_t pool_evictions = 0;        // idle pools closed to make room
  std::uint64_t budget_timeouts = 0;       // acquires that hit the global limit's deadline
  std::uint64_t pool_budget_timeouts = 0;  // new pools refused at max_pools at the deadline
  std::uint64_t sweeps = 0;
  std::uint64_t connections_created = 0;  // summed over live pools
  std::uint64_t acquired = 0;             // summed over live pools
  std::uint64_t timeouts = 0;             // summed over live pools
  std::uint64_t connect_errors = 0;       // summed over live pools
  std::uint64_t leaks_suspected = 0;      // summed over live pools
  // Over every user pool, also those no longer tracked (as the counters).
  DurationHistogram create_time;
  DurationHistogram wait_time;
  DurationHistogram use_time;
};

void to_json(nlohmann::json& out, const PoolManagerStats& stats);

namespace detail {

// The manager's own counters, and those of the pools it no longer tracks
// (swept, evicted, drained), which it keeps so that totals never go down
// (Prometheus would read a reset). Lock-free; each counter on its own.
class ManagerCounters {
 public:
  std::atomic<std::uint64_t> pools_created{0};
  std::atomic<std::uint64_t> rebuilds{0};
  std::atomic<std::uint64_t> pools_removed{0};
  std::atomic<std::uint64_t> pool_evictions{0};
  std::atomic<std::uint64_t> sweeps{0};

  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  // A pool leaves the manager: its counters move here. The caller makes
  // that step and the unlinking one, as seen by stats(), under the manager's
  // exclusive totals lock (which also guards the dropped histograms; fill()
  // runs under the shared one).
  void absorb(const PoolStats& p) noexcept {
    add(dropped_created_, p.created);
    add(dropped_acquired_, p.acquired);
    add(dropped_timeouts_, p.timeouts);
    add(dropped_connect_errors_, p.connect_errors);
    add(dropped_leaks_suspected_, p.leaks_suspected);
    dropped_create_time_.add(p.create_time);
    dropped_wait_time_.add(p.wait_time);
    dropped_use_time_.add(p.use_time);
  }

  // Adds one live pool's part to `s`; `current`: not a replaced one.
  static void add_pool(PoolManagerStats& s, const PoolStats& p, bool current) noexcept {
    (current ? s.pools : s.draining_pools) += 1;
    s.connections += p.total;
    s.idle += p.idle;
    s.leased += p.leased;
    s.waiting += p.waiting;
    s.connections_created += p.created;
    s.acquired += p.acquired;
    s.timeouts += p.timeouts;
    s.connect_errors += p.connect_errors;
    s.leaks_suspected += p.leaks_suspected;
    s.create_time.add(p.create_time);
    s.wait_time.add(p.wait_time);
    s.use_time.add(p.use_time);
  }

  // Adds the manager's counters and those of the pools it dropped.
  void fill(PoolManagerStats& s) const noexcept {
    s.connections_created += load(dropped_created_);
    s.acquired += load(dropped_acquired_);
    s.timeouts += load(dropped_timeouts_);
    s.connect_errors += load(dropped_connect_errors_);
    s.leaks_suspected += load(dropped_leaks_suspected_);
    s.create_time.add(dropped_create_time_);
    s.wait_time.add(dropped_wait_time_);
    s.use_time.add(dropped_use_time_);
    s.pools_created = load(pools_created);
    s.rebuilds = load(rebuilds);
    s.pools_removed = load(pools_removed);
    s.pool_evictions = load(pool_evictions);
    s.sweeps = load(sweeps);
  }

 private:
  static std::uint64_t load(const std::atomic<std::uint64_t>& counter) noexcept {
    return counter.load(std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t> dropped_created_{0};
  std::atomic<std::uint64_t> dropped_acquired_{0};
  std::atomic<std::uint64_t> dropped_timeouts_{0};
  std::atomic<std::uint64_t> dropped_connect_errors_{0};
  std::atomic<std::uint64_t> dropped_leaks_suspected_{0};
  DurationHistogram dropped_create_time_;
  DurationHistogram dropped_wait_time_;
  DurationHistogram dropped_use_time_;
};

}  // namespace detail
}  // namespace pgobo
