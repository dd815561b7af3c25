// Acquire + release on a pool of 4 connections over FakeDriver, with 1, 2, 8
// and 32 threads: the pool's own cost (lock, idle list, FIFO hand-off),
// without any network. Numbers go in docs/benchmarks.md; nothing here
// asserts them.
//
//   build/release/bench/pool_bench --benchmark_min_time=1
//
// BM_PoolAcquireRelease runs without an observer (the default: one branch
// per connect()); the Observed variant with an observer that overrides no
// hook (what a virtual call per event costs), the LeakDetection variant with
// leak_detection_threshold set (one more lock per connect()).
//
// Besides time per acquire+release, each run reports the pool's acquire-wait
// p99 and maximum (wait_p99_us, wait_max_us; p99 is a power-of-two bucket
// bound): under contention FIFO hand-off keeps the worst wait bounded, i.e.
// no thread starves.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <memory>

#include "fake_driver.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pool.hpp"

namespace {

using pgobo::test::FakeDriver;
using BenchPool = pgobo::BasicPool<FakeDriver>;

// One pool per run, shared by the run's threads; thread 0 builds it before
// the timed loop (Google Benchmark starts all threads' loops together).
std::unique_ptr<BenchPool>& pool() {
  static std::unique_ptr<BenchPool> instance;
  return instance;
}

// An observer that overrides nothing: every hook is the base's empty one.
class NothingObserver final : public pgobo::PoolObserver {};

enum class Variant { plain, observed, leak_detection };

void run(benchmark::State& state, Variant variant) {
  if (state.thread_index() == 0) {
    pgobo::PoolOptions options = pgobo::test::fake_pool_options(4);
    options.acquire_timeout = std::chrono::seconds(60);
    if (variant == Variant::observed) options.observer = std::make_shared<NothingObserver>();
    if (variant == Variant::leak_detection) {
      options.leak_detection_threshold = std::chrono::seconds(30);
    }
    pool() = std::make_unique<BenchPool>(options, FakeDriver{});
    // Open all four up front so the timed loop measures reuse only.
    std::array<BenchPool::Lease, 4> warm;
    for (auto& lease : warm) lease = pool()->connect();
  }
  for (auto _ : state) {
    auto lease = pool()->connect();
    benchmark::DoNotOptimize(lease->id());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    // All loops have ended (the loop's end is a barrier): the stats are final.
    const pgobo::PoolStats stats = pool()->stats();
    state.counters["connections"] = static_cast<double>(stats.created);
    state.counters["wait_p99_us"] = static_cast<double>(stats.acquire_wait_p99.count());
    state.counters["wait_max_us"] = static_cast<double>(stats.acquire_wait_max.count());
  }
}

void BM_PoolAcquireRelease(benchmark::State& state) { run(state, Variant::plain); }
void BM_PoolAcquireReleaseObserved(benchmark::State& state) { run(state, Variant::observed); }
void BM_PoolAcquireReleaseLeakDetection(benchmark::State& state) {
  run(state, Variant::leak_detection);
}

BENCHMARK(BM_PoolAcquireRelease)->Threads(1)->Threads(2)->Threads(8)->Threads(32)->UseRealTime();
BENCHMARK(BM_PoolAcquireReleaseObserved)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_PoolAcquireReleaseLeakDetection)->Threads(1)->Threads(8)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
