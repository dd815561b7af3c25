// pgobo/detail/connect_backoff.hpp — how long a pool waits before it tries to
// open a connection again after failures, and what it tells callers meanwhile.
//
// After a failed open the pool backs off: 50 ms, doubling per consecutive
// failure up to PoolOptions::connect_backoff_max (0 = no backoff). While it
// backs off it opens nothing; a caller with no connection to wait for fails
// at once with the last failure, in that failure's exception type. The first
// successful open ends the backoff. Not thread-safe: the pool calls it under
// its own mutex.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "pgobo/detail/pool_errors.hpp"

namespace pgobo::detail {

template <class TimePoint>
class ConnectBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirstBackoff{50};

  explicit ConnectBackoff(std::chrono::milliseconds max) noexcept : max_(max) {}

  // A connection opened: the next failure starts from kFirstBackoff again.
  // Returns how many failures in a row preceded this success.
  unsigned record_success() noexcept { return std::exchange(consecutive_failures_, 0U); }

  // An open failed at `now` with `kind` and `message`: starts or extends the
  // backoff. Returns how many failures in a row that makes.
  unsigned record_failure(ConnectFailure kind, std::string message, TimePoint now) {
    ++consecutive_failures_;
    last_failure_ = kind;
    last_failure_message_ = std::move(message);
    until_ = now + current();
    return consecutive_failures_;
  }

  [[nodiscard]] bool backing_off(TimePoint now) const noexcept {
    return consecutive_failures_ > 0 && now < until_;
  }

  // When the backoff ends (meaningful while backing_off()).
  [[nodiscard]] TimePoint until() const noexcept { return until_; }

  // The backoff the failures so far call for: 0 without failures.
  [[nodiscard]] std::chrono::milliseconds current() const noexcept {
    if (consecutive_failures_ == 0 || max_.count() == 0) return {};
    const unsigned doublings = std::min<unsigned>(consecutive_failures_ - 1, 16);
    return std::min(max_, kFirstBackoff * (std::int64_t{1} << doublings));
  }

  // The last open was refused at login or for want of a credential, and none
  // has opened since: the pool's credential is bad.
  [[nodiscard]] bool login_failing() const noexcept {
    return consecutive_failures_ > 0 && (last_failure_ == ConnectFailure::authentication ||
                                         last_failure_ == ConnectFailure::credential);
  }

  // Throws what the last attempt said, in that attempt's exception type, for
  // a caller that finds the pool backing off with nothing to wait for.
  [[noreturn]] void throw_last_failure(const std::string& pool_name) const {
    throw_connect_failure(last_failure_,
                          "pool '" + pool_name + "': not opening connections for up to " +
                              std::to_string(current().count()) + " ms after " +
                              std::to_string(consecutive_failures_) +
                              " consecutive failure(s); last: " + last_failure_message_);
  }

 private:
  std::chrono::milliseconds max_;
  unsigned consecutive_failures_ = 0;
  TimePoint until_{};
  ConnectFailure last_failure_ = ConnectFailure::other;
  std::string last_failure_message_;
};

}  // namespace pgobo::detail
