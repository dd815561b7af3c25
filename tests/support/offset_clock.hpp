// OffsetClock: the real wall clock plus an offset the test moves forward.
// pgobo (through function()) and the fake workspace share it, so "the token
// has expired" or "five seconds later" needs no sleep.
//
//   OffsetClock clock;
//   options.clock = clock.function();
//   clock.advance(std::chrono::minutes(61));   // every cached token is now stale
#pragma once

#include <atomic>
#include <chrono>

#include "pgobo/credentials.hpp"  // WallClock

namespace pgobo::test {

class OffsetClock {
 public:
  using Clock = std::chrono::system_clock;

  [[nodiscard]] Clock::time_point now() const {
    return Clock::now() + Clock::duration{offset_.load()};
  }
  void advance(Clock::duration by) { offset_ += by.count(); }
  [[nodiscard]] WallClock function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<Clock::rep> offset_{0};
};

}  // namespace pgobo::test
