// pgobo/stats.hpp — a snapshot of one pool's gauges and counters.
//
//   pgobo::PoolStats s = pool.stats();
//   if (s.waiting > 0) spdlog::warn("pool {} saturated: {} waiting", s.name, s.waiting);
//   nlohmann::json j = s;                     // via to_json below
//
// Counters only grow over the pool's life; gauges are the state at the
// moment of the snapshot. Nothing here is a secret.
#pragma once

#include <array>
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
  std::uint64_t broken = 0;             // unusable on release, or closed by the server while idle
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

// How long something took, counted in the buckets OpenTelemetry recommends
// for database client durations (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
// 10 s, and above), with their sum: a Prometheus histogram. Recording is a
// few integer compares (it runs on every connect() and release, under the
// pool's lock): bounds and sum are kept in nanoseconds.
struct DurationHistogram {
  static constexpr std::array<std::int64_t, 9> kUpperBoundsNanoseconds{
      1'000'000,   5'000'000,     10'000'000,    50'000'000,    100'000'000,
      500'000'000, 1'000'000'000, 5'000'000'000, 10'000'000'000};
  // buckets[i]: durations in (bound[i-1], bound[i]]; the last: above 10 s.
  // Not cumulative (the exposition adds them up).
  std::array<std::uint64_t, kUpperBoundsNanoseconds.size() + 1> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum_nanoseconds = 0;  // overflows after 584 years of summed time

  void record(std::chrono::nanoseconds duration) noexcept {
    const std::int64_t ns = duration.count() < 0 ? 0 : duration.count();
    std::size_t bucket = 0;
    while (bucket < kUpperBoundsNanoseconds.size() && ns > kUpperBoundsNanoseconds[bucket]) {
      ++bucket;
    }
    ++buckets[bucket];
    ++count;
    sum_nanoseconds += static_cast<std::uint64_t>(ns);
  }
  void add(const DurationHistogram& other) noexcept {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
    count += other.count;
    sum_nanoseconds += other.sum_nanoseconds;
  }
  [[nodiscard]] double sum_seconds() const noexcept {
    return static_cast<double>(sum_nanoseconds) / 1e9;
  }
  [[nodiscard]] static double upper_bound_seconds(std::size_t i) noexcept {
    return static_cast<double>(kUpperBoundsNanoseconds[i]) / 1e9;
  }
};

struct PoolStats {
  std::string name;
  std::size_t max_size = 0;
  std::size_t min_idle = 0;

  // Gauges. total = idle + leased + opening.
  std::size_t total = 0;
  std::size_t idle = 0;
  std::size_t leased = 0;
  std::size_t opening = 0;  // being opened right now (I/O in progress)
  std::size_t waiting = 0;  // connect() calls queued for a connection

  // Counters.
  std::uint64_t created = 0;          // connections opened
  std::uint64_t acquired = 0;         // successful connect() calls
  std::uint64_t timeouts = 0;         // connect() calls that ended in AcquireTimeout
  std::uint64_t connect_errors = 0;   // failed opens (credential or server)
  std::uint64_t leaks_suspected = 0;  // leases out past leak_detection_threshold
  PoolCloseCounts closed;

  // How long successful connect() calls waited; percentiles are
  // power-of-two bucket bounds (at most 2× the true value), max is exact.
  std::chrono::microseconds acquire_wait_p50{0};
  std::chrono::microseconds acquire_wait_p90{0};
  std::chrono::microseconds acquire_wait_p99{0};
  std::chrono::microseconds acquire_wait_max{0};
  // The same as histograms, with how long connections took to open
  // (credential fetch and login) and how long leases were held.
  DurationHistogram create_time;
  DurationHistogram wait_time;
  DurationHistogram use_time;
};

// {"name": "sp", "max_size": 10, "total": 3, ..., "closed": {"idle_timeout": 1, ...},
//  "acquire_wait_us": {"p50": 0, "p90": 3, "p99": 1023, "max": 1500}}
void to_json(nlohmann::json& out, const PoolCloseCounts& closed);
void to_json(nlohmann::json& out, const PoolStats& stats);

}  // namespace pgobo
