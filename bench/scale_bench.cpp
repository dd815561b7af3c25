// Scale: what routing costs, and what each user costs in memory, with 10,
// 1,000, 10,000 and 100,000 users, over FakeDriver (no server, no network):
//
//   lookup         PoolManager::get_pool(user) for users in turn (each call a
//                  different user: the hash table's memory is touched all over),
//                  and for one user repeatedly (all in cache)
//   routed query   RoutingPool::query("SELECT 1") inside a UserScope, users in
//                  turn: lookup + acquire + FakeDriver's query + release
//   sweep          PoolManager::sweep() with every pool holding one idle,
//                  unexpired connection (the steady-state pass the sweeper
//                  thread makes every sweep_interval)
//   memory         malloc'd bytes (mallinfo2) per user pool: the map entry, the
//                  Pool and its options, with no connection (idle and empty),
//                  and with one idle FakeConnection
//
//   build/release/bench/scale_bench --repetitions=5
//   build/release/bench/scale_bench --users=100000 --lookups=200000   # one size, e.g. under
//   callgrind
//
// Prints markdown tables; medians over the repetitions. Reports, asserts nothing.
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fake_driver.hpp"
#include "pgobo/pool_manager.hpp"
#include "pgobo/routing_pool.hpp"
#include "support/bench_util.hpp"

namespace {

using namespace pgobo::bench;
using pgobo::test::FakeDriver;
using Router = pgobo::BasicRoutingPool<FakeDriver>;

// Keeps the compiler from dropping a computation.
template <class T>
void keep(T&& value) {
  __asm__ __volatile__("" : : "g"(&value) : "memory");
}

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

struct Size {
  std::size_t users = 0;
  std::vector<double> lookup_turn_ns, lookup_hot_ns, query_ns, sweep_ns;
  double bytes_empty_pool = 0;
  double bytes_pool_with_connection = 0;
};

std::unique_ptr<Router> make_router() {
  pgobo::PoolOptions service = pgobo::test::fake_pool_options(3);
  service.name = "sp";
  service.connection.user = "service";
  Router::Manager::Options users;
  users.user_pool = pgobo::test::fake_pool_options(3);
  users.user_pool.idle_timeout = std::chrono::minutes(30);  // nothing expires during the run
  users.user_pool.max_lifetime = std::chrono::hours(2);
  // One provider for all users: a real deployment has one per user (Lakebase
  // credentials bought with the user's token), which is outside the pool.
  auto password = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{"pw"});
  users.credentials_for = [password](const pgobo::UserContext&) { return password; };
  users.sweep_interval = std::chrono::milliseconds(0);  // the bench calls sweep()
  return std::make_unique<Router>(std::make_shared<Router::Pool>(service), std::move(users));
}

Size measure(std::size_t users, long lookups, int repetitions) {
  Size size;
  size.users = users;
  // The requests' contexts exist before the pools (a request brings its own).
  std::vector<std::shared_ptr<const pgobo::UserContext>> contexts;
  contexts.reserve(users);
  for (std::size_t u = 0; u < users; ++u) {
    char id[32];
    std::snprintf(id, sizeof id, "user-%06zu", u);
    contexts.push_back(std::make_shared<const pgobo::UserContext>(pgobo::make_user_context(
        id, std::string(id) + "@example.com", "token-" + std::to_string(u))));
  }
  auto router = make_router();
  auto& manager = router->manager();

  malloc_trim(0);
  const std::size_t before = heap_in_use();
  for (const auto& user : contexts) keep(manager.get_pool(*user));
  const std::size_t with_pools = heap_in_use();
  for (const auto& user : contexts) {
    auto lease = manager.get_pool(*user)->connect();
    keep(lease);
  }
  const std::size_t with_connections = heap_in_use();
  size.bytes_empty_pool = static_cast<double>(with_pools - before) / static_cast<double>(users);
  size.bytes_pool_with_connection =
      static_cast<double>(with_connections - before) / static_cast<double>(users);

  const long queries = std::max<long>(lookups / 4, 1);
  for (int rep = 0; rep < repetitions; ++rep) {
    // Lookup, users in turn.
    auto t0 = Clock::now();
    for (long i = 0; i < lookups; ++i) {
      keep(manager.get_pool(*contexts[static_cast<std::size_t>(i) % users]));
    }
    size.lookup_turn_ns.push_back(static_cast<double>((Clock::now() - t0).count()) /
                                  static_cast<double>(lookups));
    // Lookup, one user.
    const auto& hot = *contexts[users / 2];
    t0 = Clock::now();
    for (long i = 0; i < lookups; ++i) keep(manager.get_pool(hot));
    size.lookup_hot_ns.push_back(static_cast<double>((Clock::now() - t0).count()) /
                                 static_cast<double>(lookups));
    // Routed query, users in turn.
    t0 = Clock::now();
    for (long i = 0; i < queries; ++i) {
      const pgobo::UserScope scope(contexts[static_cast<std::size_t>(i) % users]);
      keep(router->query("SELECT 1"));
    }
    size.query_ns.push_back(static_cast<double>((Clock::now() - t0).count()) /
                            static_cast<double>(queries));
    // One sweep.
    t0 = Clock::now();
    manager.sweep();
    size.sweep_ns.push_back(static_cast<double>((Clock::now() - t0).count()));
  }
  if (manager.size() != users) std::fprintf(stderr, "warning: sweep removed pools\n");
  router->close();
  return size;
}

}  // namespace

int main(int argc, char** argv) try {
  const int repetitions = static_cast<int>(arg_long(argc, argv, "repetitions", 5));
  const long lookups = arg_long(argc, argv, "lookups", 1'000'000);
  const long only = arg_long(argc, argv, "users", 0);

  // What building a request's context costs (SHA-256 of the token), for scale.
  Samples context_cost;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = Clock::now();
    for (int i = 0; i < 20'000; ++i) {
      keep(pgobo::make_user_context("u", "u@example.com", "token-of-some-length-0123456789"));
    }
    context_cost.add_ns((Clock::now() - t0).count() / 20'000);
  }

  std::vector<Size> sizes;
  for (const std::size_t users : {10UL, 1'000UL, 10'000UL, 100'000UL}) {
    if (only != 0 && static_cast<std::size_t>(only) != users) continue;
    sizes.push_back(measure(users, lookups, repetitions));
  }

  std::printf(
      "| users | lookup, users in turn | lookup, one user | routed query (FakeDriver) | sweep "
      "(all pools) | sweep per pool | heap per idle empty pool | heap per pool + 1 idle "
      "connection |\n");
  std::printf("|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (Size& s : sizes) {
    const double sweep = median_of(s.sweep_ns);
    std::printf("| %zu | %s | %s | %s | %s | %s | %.0f B | %.0f B |\n", s.users,
                with_ns(median_of(s.lookup_turn_ns)).c_str(),
                with_ns(median_of(s.lookup_hot_ns)).c_str(), with_ns(median_of(s.query_ns)).c_str(),
                with_ns(sweep).c_str(), with_ns(sweep / static_cast<double>(s.users)).c_str(),
                s.bytes_empty_pool, s.bytes_pool_with_connection);
  }
  std::printf(
      "\nBuilding one request's UserContext (make_user_context, SHA-256 of the token): %s.\n",
      with_ns(context_cost.median()).c_str());
  if (sizes.size() == 4) {
    const double small = median_of(sizes.front().lookup_turn_ns);
    const double large = median_of(sizes.back().lookup_turn_ns);
    const double hot_small = median_of(sizes.front().lookup_hot_ns);
    const double hot_large = median_of(sizes.back().lookup_hot_ns);
    std::printf(
        "\nAims: lookup at 100,000 users within 2× of 10 users: users in turn %s (%s×), one user "
        "%s (%s×); idle user pool ≤ 2 KiB: %s (%.0f B without a connection, %.0f B with one idle "
        "FakeConnection, at 10,000 users).\n",
        verdict(large <= 2 * small), fixed(large / small).c_str(),
        verdict(hot_large <= 2 * hot_small), fixed(hot_large / hot_small).c_str(),
        verdict(sizes[2].bytes_empty_pool <= 2048), sizes[2].bytes_empty_pool,
        sizes[2].bytes_pool_with_connection);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "scale_bench: %s\n", e.what());
  return 1;
}
