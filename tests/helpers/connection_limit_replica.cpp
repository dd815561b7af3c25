// One replica of a service for the connection limit's integration test
// (tests/integration/connection_limit_test.cpp): a RoutingPool with the
// automatic connection limit, configured from the environment
// (RoutingConfig::from_env: PG*, PGOBO_CONNECTION_LIMIT=auto, …), running a
// bounded load of several users until SIGTERM or CONNLIMIT_RUN_MS.
//
// Environment besides RoutingConfig's:
//   CONNLIMIT_USERS            comma-separated user emails (each a login role)
//   CONNLIMIT_USER_PASSWORD    their password
//   CONNLIMIT_THREADS_PER_USER workers per user (default 3)
//   CONNLIMIT_RUN_MS           the longest it runs (default 30000)
// Output, one line each, flushed: every 20 ms
//   stats share=S user_limit=U replicas=R capacity=C ok=N failed=F in_use=I
// and at the end "done ok=N failed=F"; the first failure's message goes to
// stderr. Exit status 0 when no request failed.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pgobo/credentials.hpp"
#include "pgobo/log.hpp"
#include "pgobo/routing_pool.hpp"

namespace {

// Read by the worker threads as well as main: a volatile sig_atomic_t is safe
// for a handler and the thread it interrupts, not for other threads (TSan
// reports it); a lock-free atomic is safe for both.
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

extern "C" void on_term(int /*signal*/) { g_stop.store(1); }

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before threads
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main() {
  std::signal(SIGTERM, on_term);
  pgobo::logger()->set_level(spdlog::level::warn);
  try {
    const std::vector<std::string> users = split(env_or("CONNLIMIT_USERS", ""));
    const pgobo::Secret user_password(env_or("CONNLIMIT_USER_PASSWORD", ""));
    const int threads_per_user = std::stoi(env_or("CONNLIMIT_THREADS_PER_USER", "3"));
    const auto run_for = std::chrono::milliseconds(std::stoll(env_or("CONNLIMIT_RUN_MS", "30000")));
    if (users.empty()) throw std::runtime_error("CONNLIMIT_USERS is empty");

    pgobo::RoutingConfig config = pgobo::RoutingConfig::from_env();
    config.user_pool.acquire_timeout = std::chrono::seconds(10);
    config.user_credentials = [user_password](const pgobo::UserContext&) {
      return std::make_shared<pgobo::StaticPassword>(user_password);
    };
    auto router = pgobo::RoutingPool::create(std::move(config));

    std::atomic<long> ok{0};
    std::atomic<long> failed{0};
    std::mutex first_error_mutex;
    std::string first_error;
    const auto until = std::chrono::steady_clock::now() + run_for;
    std::vector<std::thread> workers;
    for (const std::string& email : users) {
      const auto user = std::make_shared<const pgobo::UserContext>(
          pgobo::make_user_context("id-" + email, email, "token-of-" + email));
      for (int t = 0; t < threads_per_user; ++t) {
        workers.emplace_back([&, user] {
          auto db = router->as_user(user);
          while (g_stop == 0 && std::chrono::steady_clock::now() < until) {
            try {
              // Holds its connection a little, so demand outruns the share.
              (void)db.query("SELECT pg_sleep(0.01)");
              ++ok;
            } catch (const std::exception& e) {
              if (failed++ == 0) {
                const std::lock_guard lock(first_error_mutex);
                first_error = e.what();
              }
            }
          }
        });
      }
    }
    while (g_stop == 0 && std::chrono::steady_clock::now() < until) {
      const pgobo::RoutingStats s = router->stats();
      std::printf(
          "stats share=%zu user_limit=%zu replicas=%zu capacity=%zu ok=%ld failed=%ld "
          "in_use=%zu\n",
          s.connection_limit.share, s.connection_limit.user_limit, s.connection_limit.replicas,
          s.connection_limit.capacity, ok.load(), failed.load(), s.users.budget_in_use);
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the report's pace
    }
    for (auto& w : workers) w.join();
    router->close();
    std::printf("done ok=%ld failed=%ld\n", ok.load(), failed.load());
    std::fflush(stdout);
    if (!first_error.empty()) std::cerr << "first failure: " << first_error << "\n";
    return failed.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "connection_limit_replica: " << e.what() << "\n";
    return 2;
  }
}
