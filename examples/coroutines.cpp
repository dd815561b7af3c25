// A request handler written as a C++20 coroutine with pgobo::Task: the user
// it acts for stays in force across co_await, on whichever thread it resumes.
//
//   scripts/pg run -- examples/demo/with-demo-db build/dev/examples/coroutines
#include <pgobo/pgobo.hpp>

#include <exception>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "example_env.hpp"
#include "work_queue.hpp"

namespace {

using Headers = std::map<std::string, std::string>;

struct Answer {
  std::string role;  // whom PostgreSQL saw
  int notes = 0;
  std::thread::id started_on;
  std::thread::id finished_on;
};

// snippet-begin: task
// Parameters by value: a coroutine outlives the caller's references.
pgobo::Task<Answer> get_notes(examples::WorkQueue& io, pgobo::RoutingPool& db, Headers headers) {
  // Lasts for the whole coroutine, across every co_await.
  const pgobo::UserScope scope{pgobo::user_context_from_headers(headers)};
  Answer answer;
  answer.started_on = std::this_thread::get_id();

  co_await io.resume_on();  // continues on a worker thread: still the same user
  // Keep the result: from libpqxx 8 a row is a view into it.
  const pqxx::result rows = db.query("SELECT current_user::text, (SELECT count(*) FROM app.notes)");
  answer.role = rows[0][0].as<std::string>();
  answer.notes = rows[0][1].as<int>();
  answer.finished_on = std::this_thread::get_id();
  co_return answer;
}
// snippet-end

std::string thread_name(std::thread::id id) {
  std::ostringstream out;
  out << id;
  return out.str();
}

}  // namespace

int main() {
  if (!examples::configured("coroutines")) return examples::kNotConfigured;
  try {
    auto db = examples::make_router();
    examples::WorkQueue io(2);

    // Two requests at once, each on its own thread, both resumed on the
    // same two workers.
    Answer alice;
    Answer bob;
    std::thread alice_request([&] {
      alice = pgobo::sync_wait(get_notes(
          io, *db, examples::forwarded_headers("alice@example.com", "PGOBO_DEMO_ALICE_TOKEN")));
    });
    std::thread bob_request([&] {
      bob = pgobo::sync_wait(get_notes(
          io, *db, examples::forwarded_headers("bob@example.com", "PGOBO_DEMO_BOB_TOKEN")));
    });
    alice_request.join();
    bob_request.join();

    for (const auto& [who, answer] : {std::pair{"alice", &alice}, std::pair{"bob", &bob}}) {
      std::cout << who << "'s coroutine started on thread " << thread_name(answer->started_on)
                << ", queried on thread " << thread_name(answer->finished_on) << " as "
                << answer->role << ": " << answer->notes << " notes\n";
    }
    // The main thread never had a user: it still acts as the service principal.
    std::cout << "main thread afterwards: "
              << (pgobo::current_user() ? pgobo::current_user()->key() : "the service principal")
              << '\n';
    const bool right = alice.role == "alice@example.com" && bob.role == "bob@example.com" &&
                       alice.started_on != alice.finished_on && !pgobo::current_user();
    return right ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "coroutines failed: " << e.what() << '\n';
    return 1;
  }
}
