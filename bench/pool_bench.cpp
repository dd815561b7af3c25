// Acquire + release on a pool of 4 connections over FakeDriver, with 1, 2, 8
// and 32 threads: the pool's own cost (lock, idle list, FIFO hand-off),
// without any network. Numbers go in docs/benchmarks.md; nothing here
// asserts them.
//
//   build/release/bench/pool_bench --benchmark_min_time=1
//
// Besides time per acquire+release, each run reports the spread of work
// between threads (min_share / max_share of the fair share): under
// contention FIFO hand-off should keep both near 1, i.e. no thread starves.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <thread>

#include "fake_driver.hpp"
#include "pgobo/pool.hpp"

namespace {

using pgobo::test::FakeDriver;
using BenchPool = pgobo::BasicPool<FakeDriver>;

constexpr int kMaxThreads = 32;

struct Shared {
  std::unique_ptr<BenchPool> pool;
  std::array<std::atomic<std::int64_t>, kMaxThreads> iterations{};
  std::atomic<int> reported{0};
};

Shared& shared() {
  static Shared instance;
  return instance;
}

void BM_AcquireRelease(benchmark::State& state) {
  Shared& s = shared();
  if (state.thread_index() == 0) {
    pgobo::PoolOptions options = pgobo::test::fake_pool_options(4);
    options.acquire_timeout = std::chrono::seconds(60);
    s.pool = std::make_unique<BenchPool>(options, FakeDriver{});
    for (auto& count : s.iterations) count = 0;
    s.reported = 0;
    // Open all four up front so the timed loop measures reuse only.
    std::array<BenchPool::Lease, 4> warm;
    for (auto& lease : warm) lease = s.pool->connect();
  }
  // Google Benchmark starts the timed loop of all threads together, after
  // thread 0's set-up above.
  std::int64_t mine = 0;
  for (auto _ : state) {
    auto lease = s.pool->connect();
    benchmark::DoNotOptimize(lease->id());
    ++mine;
  }
  s.iterations[static_cast<std::size_t>(state.thread_index())] = mine;
  ++s.reported;
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["connections"] = static_cast<double>(s.pool->stats().created);
  }
}

// Reported once per run by thread 0 after the others: min and max share of
// the fair per-thread amount of work.
void report_fairness(benchmark::State& state) {
  if (state.thread_index() != 0 || state.threads() == 1) return;
  Shared& s = shared();
  while (s.reported.load() < state.threads()) std::this_thread::yield();
  std::int64_t total = 0;
  std::int64_t least = std::numeric_limits<std::int64_t>::max();
  std::int64_t most = 0;
  for (int t = 0; t < state.threads(); ++t) {
    const auto n = s.iterations[static_cast<std::size_t>(t)].load();
    total += n;
    least = std::min(least, n);
    most = std::max(most, n);
  }
  const double fair = static_cast<double>(total) / state.threads();
  state.counters["min_share"] = static_cast<double>(least) / fair;
  state.counters["max_share"] = static_cast<double>(most) / fair;
}

void BM_PoolAcquireRelease(benchmark::State& state) {
  BM_AcquireRelease(state);
  report_fairness(state);
}

BENCHMARK(BM_PoolAcquireRelease)->Threads(1)->Threads(2)->Threads(8)->Threads(32)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
