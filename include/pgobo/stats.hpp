// pgobo/stats.hpp — a snapshot of one pool's gauges and counters.
//
//   pgobo::PoolStats s = pool.stats();
//   if (s.waiting > 0) spdlog::warn("pool {} saturated: {} waiting", s.name, s.waiting);
//   nlohmann::json j = s;                     // via to_json below
//
// Counters only grow over the pool's life; gauges are the state at the
// moment of the snapshot. Nothing here is a secret.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pgobo {

// Why connections were closed, one counter per reason.
struct PoolCloseCounts {
  std::uint64_t idle_timeout = 0;       // idle longer than idle_timeout
  std::uint64_t max_lifetime = 0;       // older than max_lifetime (with jitter)
  std::uint64_t broken = 0;             // found closed or unusable on release
  std::uint64_t rollback_failed = 0;    // returned inside a transaction that would not roll back
  std::uint64_t reset_failed = 0;       // reset_query failed on release
  std::uint64_t validation_failed = 0;  // failed the check before lending
  std::uint64_t discarded = 0;          // Lease::discard()
  std::uint64_t evicted = 0;            // close_one_idle(), close_idle_connections()
  std::uint64_t pool_ended = 0;         // end(), begin_drain()

  [[nodiscard]] std::uint64_t total() const noexcept {
    return idle_timeout + max_lifetime + broken + rollback_failed + reset_failed +
           validation_failed + discarded + evicted + pool_ended;
  }
};

struct PoolStats {
  std::string name;
  std::size_t max_size = 0;

  // Gauges. total = idle + leased + opening.
  std::size_t total = 0;
  std::size_t idle = 0;
  std::size_t leased = 0;
  std::size_t opening = 0;  // being opened right now (I/O in progress)
  std::size_t waiting = 0;  // connect() calls queued for a connection

  // Counters.
  std::uint64_t created = 0;         // connections opened
  std::uint64_t acquired = 0;        // successful connect() calls
  std::uint64_t timeouts = 0;        // connect() calls that ended in AcquireTimeout
  std::uint64_t connect_errors = 0;  // failed opens (credential or server)
  PoolCloseCounts closed;

  // How long successful connect() calls waited; percentiles are
  // power-of-two bucket bounds (at most 2× the true value), max is exact.
  std::chrono::microseconds acquire_wait_p50{0};
  std::chrono::microseconds acquire_wait_p90{0};
  std::chrono::microseconds acquire_wait_p99{0};
  std::chrono::microseconds acquire_wait_max{0};
};

// {"name": "sp", "max_size": 10, "total": 3, ..., "closed": {"idle_timeout": 1, ...},
//  "acquire_wait_us": {"p50": 0, "p90": 3, "p99": 1023, "max": 1500}}
void to_json(nlohmann::json& out, const PoolCloseCounts& closed);
void to_json(nlohmann::json& out, const PoolStats& stats);

}  // namespace pgobo
