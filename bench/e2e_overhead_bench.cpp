// Overhead against the limit: the same parameterised query over TCP, one
// process, six ways, interleaved round by round (A/B/C/D/E/F, then
// B/C/D/E/F/A, …) so that load from elsewhere on the machine hits all alike:
//
//   (a) raw libpqxx on a connection held open: the limit
//   (b) pgobo::Pool::query on a pool of that user
//   (c) pgobo::RoutingPool::query inside a UserScope of that user
//   (d) a new libpqxx connection per request, as that user: what a service
//       does without pgobo to act as the user
//   (e) pgobo::RoutingPool::query in set_role mode: one shared pool logged in
//       as bench_authenticator, the statement inside BEGIN; SET LOCAL ROLE
//       bench_u000; set_config(claims); check … RESET ALL; RESET ROLE; COMMIT
//       (3 round trips: the prologue and the epilogue are one message each)
//   (f) the same transaction by hand on a held raw connection of the
//       authenticator, one statement per round trip (8): what the one-message
//       prologue and epilogue save
//
// (a) to (d) log in as bench_u000, (e) acts as it; all run
//   SELECT id, body FROM bench.notes WHERE id = $1
// under its RLS policy, so the server does the same work for each.
//
//   scripts/bench                      # sets up the server and runs this
//   build/release/bench/e2e_overhead_bench --rounds=30 --queries=300 --connects=10
//
// Prints a markdown table (medians, p99, client CPU per query) and the
// ratios b/a, c/a, d/c, e/a, e/c, f/e. Reports; asserts nothing.
#include <array>
#include <cstdio>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "pgobo/pgobo.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "support/bench_util.hpp"

namespace {

using namespace pgobo::bench;

constexpr const char* kSql = "SELECT id, body FROM bench.notes WHERE id = $1";

struct Variant {
  const char* name;
  std::function<std::size_t(int id)> run;  // one request; returns the row count
  int per_round;
  Samples latency;
  std::chrono::nanoseconds cpu{0};
  long requests = 0;
};

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
  const long rounds = arg_long(argc, argv, "rounds", 30);
  const int queries = static_cast<int>(arg_long(argc, argv, "queries", 300));
  const int connects = static_cast<int>(arg_long(argc, argv, "connects", 10));

  const Server server = Server::from_env();
  const std::string role = bench_role(0);
  const auto password = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{server.password});

  // (a) one raw connection, held open.
  pqxx::connection raw(server.conninfo(role));

  // (b) a Pool of that user.
  pgobo::PoolOptions pool_options;
  pool_options.name = "bench";
  pool_options.connection = params_for(server, role);
  pool_options.credentials = password;
  pool_options.max_size = 1;
  pgobo::Pool pool(pool_options);

  // (c) a RoutingPool: the service principal plus per-user pools.
  pgobo::RoutingConfig config;
  config.service.pool.name = "bench-service";
  config.service.pool.connection = params_for(server, "bench_service");
  config.service.password = pgobo::Secret{server.password};
  config.user_credentials = [password](const pgobo::UserContext&) { return password; };
  auto router = pgobo::RoutingPool::create(std::move(config));
  // What a request installs: built once from its headers (the SHA-256 of the
  // token is the identity layer's cost, not the router's; see scale_bench).
  const auto user = std::make_shared<const pgobo::UserContext>(
      pgobo::make_user_context(role, "", "bench-token-0"));

  const std::string conninfo = server.conninfo(role);

  // (e) set_role mode: one shared pool of the authenticator.
  pgobo::RoutingConfig shared;
  shared.routing = pgobo::RoutingMode::set_role;
  shared.service.pool.name = "bench-shared";
  shared.service.pool.connection = params_for(server, "bench_authenticator");
  shared.service.pool.max_size = 1;
  shared.service.password = pgobo::Secret{server.password};
  shared.service_role = "bench_service";
  auto set_role_router = pgobo::RoutingPool::create(std::move(shared));

  // (f) the authenticator's raw connection, one statement per round trip.
  pqxx::connection authenticator(server.conninfo("bench_authenticator"));
  const std::string set_role_sql = "SET LOCAL ROLE " + authenticator.quote_name(role);

  std::array<Variant, 6> variants{{
      {"(a) raw libpqxx, held connection",
       [&](int id) {
         pqxx::nontransaction tx(raw);
         return pgobo::pqxx_compat::exec_params(tx, kSql, id).size();
       },
       queries,
       {},
       {},
       0},
      {"(b) Pool::query", [&](int id) { return pool.query(kSql, id).size(); }, queries, {}, {}, 0},
      {"(c) RoutingPool::query in a UserScope",
       [&](int id) {
         const pgobo::UserScope scope(user);
         return router->query(kSql, id).size();
       },
       queries,
       {},
       {},
       0},
      {"(d) new connection per request",
       [&](int id) {
         pqxx::connection c(conninfo);
         pqxx::nontransaction tx(c);
         return pgobo::pqxx_compat::exec_params(tx, kSql, id).size();
       },
       connects,
       {},
       {},
       0},
      {"(e) RoutingPool::query, set_role mode",
       [&](int id) {
         const pgobo::UserScope scope(user);
         return set_role_router->query(kSql, id).size();
       },
       queries,
       {},
       {},
       0},
      {"(f) set_role by hand, 8 round trips",
       [&](int id) {
         pqxx::nontransaction tx(authenticator);
         tx.exec("BEGIN");
         tx.exec(set_role_sql);
         tx.exec("SELECT set_config('request.jwt.claims', '{\"sub\":\"bench\"}', true)");
         tx.exec(
             "SELECT rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user");
         const std::size_t rows = pgobo::pqxx_compat::exec_params(tx, kSql, id).size();
         tx.exec("RESET ALL");
         tx.exec("RESET ROLE");
         tx.exec("COMMIT");
         return rows;
       },
       queries,
       {},
       {},
       0},
  }};

  // Warm up: every path open, caches and the plan cache hot; check the rows.
  for (auto& v : variants) {
    for (int i = 0; i < 20; ++i) {
      if (v.run(i % 10) != 1) {
        std::fprintf(stderr, "%s: expected one row (RLS set-up wrong?)\n", v.name);
        return 1;
      }
    }
  }
  for (auto& v : variants) v.latency.reserve(static_cast<std::size_t>(rounds * v.per_round));

  std::size_t sink = 0;
  for (long round = 0; round < rounds; ++round) {
    for (std::size_t k = 0; k < variants.size(); ++k) {
      Variant& v = variants[(k + static_cast<std::size_t>(round)) % variants.size()];
      const auto cpu0 = process_cpu();
      for (int i = 0; i < v.per_round; ++i) {
        const auto t0 = Clock::now();
        sink += v.run(i % 10);
        v.latency.add(Clock::now() - t0);
      }
      v.cpu += process_cpu() - cpu0;
      v.requests += v.per_round;
    }
  }
  if (sink == 0) return 1;

  double median[6];
  double p99[6];
  double cpu[6];
  std::printf("| variant | requests | median | p99 | client CPU / request |\n");
  std::printf("|---|--:|--:|--:|--:|\n");
  for (std::size_t i = 0; i < variants.size(); ++i) {
    Variant& v = variants[i];
    median[i] = v.latency.median();
    p99[i] = v.latency.percentile(0.99);
    cpu[i] = static_cast<double>(v.cpu.count()) / static_cast<double>(v.requests);
    std::printf("| %s | %ld | %s | %s | %s |\n", v.name, v.requests, us(median[i]).c_str(),
                us(p99[i]).c_str(), us(cpu[i]).c_str());
  }
  std::printf("\n| ratio | median | p99 | client CPU |\n|---|--:|--:|--:|\n");
  std::printf("| b/a (Pool over raw) | %s | %s | %s |\n", fixed(median[1] / median[0]).c_str(),
              fixed(p99[1] / p99[0]).c_str(), fixed(cpu[1] / cpu[0]).c_str());
  std::printf("| c/a (routed over raw) | %s | %s | %s |\n", fixed(median[2] / median[0]).c_str(),
              fixed(p99[2] / p99[0]).c_str(), fixed(cpu[2] / cpu[0]).c_str());
  std::printf("| d/c (connect-per-request over routed) | %s | %s | %s |\n",
              fixed(median[3] / median[2], 1).c_str(), fixed(p99[3] / p99[2], 1).c_str(),
              fixed(cpu[3] / cpu[2], 1).c_str());
  std::printf("| e/a (set_role over raw) | %s | %s | %s |\n", fixed(median[4] / median[0]).c_str(),
              fixed(p99[4] / p99[0]).c_str(), fixed(cpu[4] / cpu[0]).c_str());
  std::printf("| e/c (set_role over per-user pools) | %s | %s | %s |\n",
              fixed(median[4] / median[2]).c_str(), fixed(p99[4] / p99[2]).c_str(),
              fixed(cpu[4] / cpu[2]).c_str());
  std::printf("| f/e (8 round trips by hand over set_role's 3) | %s | %s | %s |\n",
              fixed(median[5] / median[4]).c_str(), fixed(p99[5] / p99[4]).c_str(),
              fixed(cpu[5] / cpu[4]).c_str());
  std::printf("\nAims: c/a median ≤ 1.10: %s (%s); d/c median ≥ 20: %s (%s).\n",
              verdict(median[2] / median[0] <= 1.10), fixed(median[2] / median[0]).c_str(),
              verdict(median[3] / median[2] >= 20), fixed(median[3] / median[2], 1).c_str());
  set_role_router->close();
  router->close();
  pool.close();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "e2e_overhead_bench: %s\n", e.what());
  return 1;
}
