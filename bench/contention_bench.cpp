// Contention: 1,000 requests over a pool of 50 connections (FakeDriver, no
// server), each holding its connection for a fixed service time (1 ms,
// slept), and the acquire wait each request saw: p50, p99, p99.9, max.
//
//   closed loop  100 client threads × 10 requests: twice as many clients as
//                connections, each asking again as soon as it is done. With
//                FIFO hand-off every wait is about one service time, so the
//                tail stays close to the median.
//   burst        1,000 threads, one request each, released together: the
//                queue itself is 1,000 deep, so the k-th request in line
//                waits about ⌊k/50⌋ service times (0 … 19 ms); p99/p50 ≈ 2 is
//                the arithmetic of the queue, not unfairness.
//
//   build/release/bench/contention_bench --repetitions=5
//
// Prints a markdown table, medians over the repetitions. Asserts nothing.
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "fake_driver.hpp"
#include "pgobo/pool.hpp"
#include "support/bench_util.hpp"

namespace {

using namespace pgobo::bench;
using pgobo::test::FakeDriver;
using BenchPool = pgobo::BasicPool<FakeDriver>;

constexpr std::size_t kConnections = 50;
constexpr std::chrono::milliseconds kService{1};

struct Run {
  double p50 = 0, p99 = 0, p999 = 0, max = 0, wall_ms = 0;
};

Run run(int threads, int per_thread) {
  pgobo::PoolOptions options = pgobo::test::fake_pool_options(kConnections);
  options.acquire_timeout = std::chrono::seconds(60);
  BenchPool pool(options, FakeDriver{});
  {  // all 50 open before the run: the wait is the queue, not opening
    std::vector<BenchPool::Lease> warm;
    warm.reserve(kConnections);
    for (std::size_t i = 0; i < kConnections; ++i) warm.push_back(pool.connect());
  }
  // Request (t, i) writes its wait to waits[t * per_thread + i].
  std::vector<std::int64_t> waits(static_cast<std::size_t>(threads) *
                                  static_cast<std::size_t>(per_thread));
  std::latch start(threads + 1);
  std::vector<std::thread> clients;
  clients.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const auto t0 = Clock::now();
        auto lease = pool.connect();
        waits[static_cast<std::size_t>(t) * static_cast<std::size_t>(per_thread) +
              static_cast<std::size_t>(i)] = (Clock::now() - t0).count();
        std::this_thread::sleep_for(kService);
      }
    });
  }
  const auto t0 = Clock::now();
  start.arrive_and_wait();
  for (auto& c : clients) c.join();
  Run r;
  r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  Samples all;
  all.reserve(waits.size());
  for (auto w : waits) all.add_ns(w);
  r.p50 = all.median();
  r.p99 = all.percentile(0.99);
  r.p999 = all.percentile(0.999);
  r.max = all.max();
  return r;
}

}  // namespace

int main(int argc, char** argv) try {
  const int repetitions = static_cast<int>(arg_long(argc, argv, "repetitions", 5));
  std::printf(
      "| scenario | requests | p50 wait | p99 wait | p99.9 wait | max wait | p99 / p50 | wall "
      "time | ideal wall time |\n");
  std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  struct Scenario {
    const char* name;
    int threads;
    int per_thread;
  };
  for (const Scenario sc : {Scenario{"closed loop, 100 clients × 10", 100, 10},
                            Scenario{"burst, 1,000 clients × 1", 1000, 1}}) {
    std::vector<double> p50, p99, p999, max, wall;
    for (int rep = 0; rep < repetitions; ++rep) {
      const Run r = run(sc.threads, sc.per_thread);
      p50.push_back(r.p50);
      p99.push_back(r.p99);
      p999.push_back(r.p999);
      max.push_back(r.max);
      wall.push_back(r.wall_ms);
    }
    const int requests = sc.threads * sc.per_thread;
    const double ideal_ms =
        static_cast<double>(requests) / kConnections * static_cast<double>(kService.count());
    std::printf("| %s | %d | %s | %s | %s | %s | %s | %.1f ms | %.0f ms |\n", sc.name, requests,
                with_ns(median_of(p50)).c_str(), with_ns(median_of(p99)).c_str(),
                with_ns(median_of(p999)).c_str(), with_ns(median_of(max)).c_str(),
                fixed(median_of(p99) / median_of(p50)).c_str(), median_of(wall), ideal_ms);
  }
  std::printf(
      "\nPool of %zu FakeDriver connections, all open before the run; service time %lld ms "
      "(sleep_for while holding the lease); waits measured around connect() by the client; "
      "medians over %d repetitions.\n",
      kConnections, static_cast<long long>(kService.count()), repetitions);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "contention_bench: %s\n", e.what());
  return 1;
}
