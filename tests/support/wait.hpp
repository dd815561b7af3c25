// Bounded waits for a state another thread reaches and the test has no
// signal for ("3 callers are queued", "the server has no backend of alice
// left"). Tests wait with these, never with a hand-written loop or a sleep
// standing in for a signal; a false result is the test's failure.
//
//   ASSERT_TRUE(eventually([&] { return pool.waiting_count() == 1; }));
//   EXPECT_TRUE(poll_until([&] { return server_accepts_logins(); }, 30s));
#pragma once

#include <chrono>
#include <thread>

namespace pgobo::test {

// Spins (yielding) until `done` holds; false once `limit` has passed. For
// cheap in-process checks: the answer comes as soon as the state is reached.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Checks `done` every `pause` until it holds; false once `limit` has passed.
// For costly checks, or ones only observable by trying (a server accepting
// logins again), which must not run in a tight loop.
template <class Predicate>
bool poll_until(Predicate done, std::chrono::milliseconds limit,
                std::chrono::milliseconds pause = std::chrono::milliseconds{10}) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(pause);
  }
  return true;
}

}  // namespace pgobo::test
