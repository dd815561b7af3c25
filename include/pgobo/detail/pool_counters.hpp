// pgobo/detail/pool_counters.hpp — a pool's counters, and why it closes a
// connection.
//
// Every connection a pool closes is closed for one CloseReason; the reason
// picks its counter in PoolCloseCounts, how the log names it and whether it
// is worth a warning (the connection misbehaved) or only a debug line (the
// pool closed it on purpose). PoolCounters holds everything PoolStats counts
// over a pool's life. Not thread-safe: the pool's mutex guards them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>

#include "pgobo/detail/pool_wait_histogram.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/stats.hpp"

namespace pgobo::detail {

struct CloseReasonInfo {
  std::uint64_t PoolCloseCounts::*counter;
  const char* description;
  bool warn;
};

// Indexed by CloseReason.
inline constexpr CloseReasonInfo kCloseReasons[] = {
    {&PoolCloseCounts::idle_timeout, "idle past idle_timeout", false},
    {&PoolCloseCounts::max_lifetime, "past max_lifetime", false},
    {&PoolCloseCounts::broken, "broken", true},
    {&PoolCloseCounts::rollback_failed, "returned in a transaction that did not roll back", true},
    {&PoolCloseCounts::reset_failed, "the session reset or reset_query failed", true},
    {&PoolCloseCounts::validation_failed, "failed validation", true},
    {&PoolCloseCounts::discarded, "discarded by its lease", false},
    {&PoolCloseCounts::evicted, "evicted", false},
    {&PoolCloseCounts::pool_ended, "pool ended", false},
};
static_assert(std::size(kCloseReasons) == static_cast<std::size_t>(CloseReason::pool_ended) + 1,
              "one entry per CloseReason, in order");

[[nodiscard]] constexpr const CloseReasonInfo& info(CloseReason reason) noexcept {
  return kCloseReasons[static_cast<std::size_t>(reason)];
}

// What PoolStats reports as counters: they only grow over the pool's life.
struct PoolCounters {
  std::uint64_t created = 0;
  std::uint64_t acquired = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t connect_errors = 0;
  std::uint64_t leaks_suspected = 0;
  PoolCloseCounts closed;
  WaitHistogram waits;
  DurationHistogram create_time;
  DurationHistogram wait_time;
  DurationHistogram use_time;

  void record_close(CloseReason reason) noexcept { ++(closed.*info(reason).counter); }

  // A successful connect(); `started`: when it began to wait or open (an
  // immediate acquire waited zero: no clock read on the hot path).
  void record_acquired(std::optional<std::chrono::steady_clock::time_point> started) {
    ++acquired;
    const auto waited = started ? std::chrono::steady_clock::now() - *started
                                : std::chrono::steady_clock::duration::zero();
    waits.record(std::chrono::duration_cast<std::chrono::microseconds>(waited));
    wait_time.record(waited);
  }

  // The counters' part of a PoolStats snapshot.
  void fill(PoolStats& s) const {
    s.created = created;
    s.acquired = acquired;
    s.timeouts = timeouts;
    s.connect_errors = connect_errors;
    s.leaks_suspected = leaks_suspected;
    s.closed = closed;
    s.create_time = create_time;
    s.wait_time = wait_time;
    s.use_time = use_time;
    s.acquire_wait_p50 = waits.percentile(0.50);
    s.acquire_wait_p90 = waits.percentile(0.90);
    s.acquire_wait_p99 = waits.percentile(0.99);
    s.acquire_wait_max = waits.max();
  }
};

}  // namespace pgobo::detail
