// Carrying the request's user to other threads with pgobo::bind_context.
//
// The user context is per thread: work handed to a thread pool runs under
// that worker's context (none: the service principal) unless it is bound.
//
//   scripts/pg run -- examples/demo/with-demo-db build/dev/examples/thread_pool
#include <pgobo/pgobo.hpp>

#include <exception>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "example_env.hpp"
#include "work_queue.hpp"

namespace {

struct Seen {
  std::string role;  // whom PostgreSQL saw
  int notes = 0;     // how many rows RLS let through
};

Seen count_notes(pgobo::RoutingPool& db) {
  // Keep the result: from libpqxx 8 a row is a view into it.
  const pqxx::result rows = db.query("SELECT current_user::text, (SELECT count(*) FROM app.notes)");
  return {rows[0][0].as<std::string>(), rows[0][1].as<int>()};
}

// snippet-begin: bind_context
// Inside a request: hand the query to a worker thread, with the request's user.
std::future<Seen> count_notes_on(examples::WorkQueue& workers, pgobo::RoutingPool& db) {
  return workers.submit(pgobo::bind_context([&db] { return count_notes(db); }));
}
// snippet-end

// The mistake bind_context prevents: the job runs under the worker's context.
std::future<Seen> count_notes_unbound(examples::WorkQueue& workers, pgobo::RoutingPool& db) {
  return workers.submit([&db] { return count_notes(db); });
}

}  // namespace

int main() {
  if (!examples::configured("thread_pool")) return examples::kNotConfigured;
  try {
    auto db = examples::make_router();
    examples::WorkQueue workers(4);
    const auto alice = examples::forwarded_headers("alice@example.com", "PGOBO_DEMO_ALICE_TOKEN");
    const auto bob = examples::forwarded_headers("bob@example.com", "PGOBO_DEMO_BOB_TOKEN");

    {
      const pgobo::UserScope as_alice{pgobo::user_context_from_headers(alice)};
      const Seen unbound = count_notes_unbound(workers, *db).get();
      const Seen bound = count_notes_on(workers, *db).get();
      std::cout << "alice's request, job without bind_context: ran as " << unbound.role << ", saw "
                << unbound.notes << " notes\n"
                << "alice's request, job with bind_context:    ran as " << bound.role << ", saw "
                << bound.notes << " notes\n";
    }

    // Many jobs of two users interleaved on the same four threads: each runs
    // as the user who submitted it, and each thread gets its own context back.
    std::vector<std::pair<std::string, std::future<Seen>>> jobs;
    for (int i = 0; i < 20; ++i) {
      const auto& [email, headers] =
          i % 2 == 0 ? std::pair{"alice@example.com", &alice} : std::pair{"bob@example.com", &bob};
      const pgobo::UserScope scope{pgobo::user_context_from_headers(*headers)};
      jobs.emplace_back(email, count_notes_on(workers, *db));
    }
    int wrong = 0;
    for (auto& [email, job] : jobs) {
      if (job.get().role != email) ++wrong;
    }
    std::cout << jobs.size() << " bound jobs of alice and bob on 4 threads: " << wrong
              << " ran as the wrong user\n";
    return wrong == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "thread_pool failed: " << e.what() << '\n';
    return 1;
  }
}
