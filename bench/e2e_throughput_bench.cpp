// Multi-user throughput: W threads (1, 2, 8, 32) each run Q queries for U
// users (20, 200) in turn, (r) through one RoutingPool, each query inside a
// UserScope of its user (user pools of one connection), against (x) the same
// threads on one raw libpqxx connection per user (each behind its own mutex:
// the least any design that shares a user's connection between threads needs).
//
// Thread t's i-th query is for user (t·U/W + i) mod U, the same sequence for
// both, so threads start spread over the users and rarely want the same one.
// Both sides are warmed first (every user's connection open), so the numbers
// are the steady state; the cost of opening (~8 ms of scram per connection)
// is in e2e_overhead_bench's (d). Phases alternate raw/routed per repetition.
//
//   build/release/bench/e2e_throughput_bench --queries=4000 --repetitions=3
//
// --queries is the total per phase, split over the W threads. Reports
// queries/s, client CPU per query (getrusage RUSAGE_SELF: every thread of
// the process) and the routed/raw ratios, medians over the repetitions.
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "pgobo/pgobo.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "support/bench_util.hpp"

namespace {

using namespace pgobo::bench;

constexpr const char* kSql = "SELECT id, body FROM bench.notes WHERE id = $1";

struct RawUser {
  std::mutex mutex;
  std::unique_ptr<pqxx::connection> connection;
};

struct PhaseResult {
  double queries_per_second = 0;
  double cpu_per_query_ns = 0;
};

// Runs `per_thread` queries on each of `threads` threads; query(user, id).
template <class Query>
PhaseResult run_phase(int threads, int users, int per_thread, Query query) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<long> rows{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const int start = static_cast<int>(static_cast<long>(t) * users / threads);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      long mine = 0;
      for (int i = 0; i < per_thread; ++i) {
        const int user = (start + i) % users;
        mine += static_cast<long>(query(user, user * 10 + i % 10));
      }
      rows.fetch_add(mine);
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto cpu0 = process_cpu();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  const auto wall = Clock::now() - t0;
  const auto cpu = process_cpu() - cpu0;
  const double total = static_cast<double>(threads) * per_thread;
  if (rows.load() != static_cast<long>(total)) {
    std::fprintf(stderr, "expected %.0f rows, got %ld (RLS set-up wrong?)\n", total, rows.load());
    std::exit(1);
  }
  return PhaseResult{total / std::chrono::duration<double>(wall).count(),
                     static_cast<double>(cpu.count()) / total};
}

pgobo::ConnectionParams params_for(const Server& server, const std::string& role) {
  pgobo::ConnectionParams p;
  p.host = server.host;
  p.port = static_cast<std::uint16_t>(std::stoi(server.port));
  p.dbname = server.database;
  p.user = role;
  p.sslmode = pgobo::SslMode::disable;
  return p;
}

}  // namespace

int main(int argc, char** argv) try {
  const int total_queries = static_cast<int>(arg_long(argc, argv, "queries", 4000));
  const int repetitions = static_cast<int>(arg_long(argc, argv, "repetitions", 3));
  const long max_users = env_long("PGOBO_BENCH_USERS", 200);
  const Server server = Server::from_env();
  const auto password = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{server.password});

  std::printf(
      "| users U | threads W | raw q/s | routed q/s | routed/raw q/s | raw CPU/query | routed "
      "CPU/query | routed/raw CPU | user-pool connections (+ opened while measured) |\n");
  std::printf("|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");

  std::vector<double> cpu_ratios;
  for (const int users : {20, 200}) {
    if (users > max_users) {
      std::printf("| %d | – | skipped: only %ld bench roles | | | | | | |\n", users, max_users);
      continue;
    }
    // (x) one raw connection per user.
    std::vector<RawUser> raw(static_cast<std::size_t>(users));
    for (int u = 0; u < users; ++u) {
      raw[static_cast<std::size_t>(u)].connection =
          std::make_unique<pqxx::connection>(server.conninfo(bench_role(u)));
    }
    // (r) a RoutingPool whose user pools hold one connection, like (x): the
    // default of 3 would open more connections whenever two threads hit one
    // user at once, and each open (~3 ms of client CPU for scram) would land
    // inside the measurement.
    pgobo::RoutingConfig config;
    config.user_pool.max_size = 1;
    config.service.pool.name = "bench-service";
    config.service.pool.connection = params_for(server, "bench_service");
    config.service.password = pgobo::Secret{server.password};
    config.user_credentials = [password](const pgobo::UserContext&) { return password; };
    auto router = pgobo::RoutingPool::create(std::move(config));
    std::vector<std::shared_ptr<const pgobo::UserContext>> contexts;
    for (int u = 0; u < users; ++u) {
      contexts.push_back(std::make_shared<const pgobo::UserContext>(
          pgobo::make_user_context(bench_role(u), "", "bench-token-" + std::to_string(u))));
    }

    auto raw_query = [&](int user, int id) {
      RawUser& r = raw[static_cast<std::size_t>(user)];
      const std::lock_guard lock(r.mutex);
      pqxx::nontransaction tx(*r.connection);
      return pgobo::pqxx_compat::exec_params(tx, kSql, id).size();
    };
    auto routed_query = [&](int user, int id) {
      const pgobo::UserScope scope(contexts[static_cast<std::size_t>(user)]);
      return router->query(kSql, id).size();
    };
    // Warm-up: every user's first connection open on both sides.
    run_phase(1, users, users, raw_query);
    run_phase(1, users, users, routed_query);

    for (const int threads : {1, 2, 8, 32}) {
      const int per_thread = std::max(1, total_queries / threads);
      std::vector<double> raw_qps, routed_qps, raw_cpu, routed_cpu;
      // Warm-up with this thread count.
      run_phase(threads, users, per_thread, raw_query);
      run_phase(threads, users, per_thread, routed_query);
      const auto created_before = router->stats().users.connections_created;
      for (int rep = 0; rep < repetitions; ++rep) {
        const PhaseResult x = run_phase(threads, users, per_thread, raw_query);
        const PhaseResult r = run_phase(threads, users, per_thread, routed_query);
        raw_qps.push_back(x.queries_per_second);
        routed_qps.push_back(r.queries_per_second);
        raw_cpu.push_back(x.cpu_per_query_ns);
        routed_cpu.push_back(r.cpu_per_query_ns);
      }
      const double xq = median_of(raw_qps), rq = median_of(routed_qps);
      const double xc = median_of(raw_cpu), rc = median_of(routed_cpu);
      cpu_ratios.push_back(rc / xc);
      const auto stats = router->stats().users;
      std::printf("| %d | %d | %.0f | %.0f | %s | %s | %s | %s | %zu (+%llu) |\n", users, threads,
                  xq, rq, fixed(rq / xq).c_str(), us(xc).c_str(), us(rc).c_str(),
                  fixed(rc / xc).c_str(), stats.connections,
                  static_cast<unsigned long long>(stats.connections_created - created_before));
    }
    router->close();
  }
  const double worst =
      cpu_ratios.empty() ? 0 : *std::max_element(cpu_ratios.begin(), cpu_ratios.end());
  const double mid = median_of(cpu_ratios);
  std::printf(
      "\nAim: client CPU per routed query ≤ 1.15× raw: %s (median ratio over the rows %s, worst "
      "%s).\n",
      verdict(worst <= 1.15), fixed(mid).c_str(), fixed(worst).c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "e2e_throughput_bench: %s\n", e.what());
  return 1;
}
