// pgobo/detail/caller_deadline.hpp — the deadline of the caller a thread is
// working for, for blocking work deep below an interface that has no
// deadline parameter.
//
// A pool opens a connection on the caller's thread under the caller's
// acquire deadline, and asks its CredentialProvider for a password on the
// way; the provider may call HTTP and retry. CredentialProvider::get() takes
// no deadline (it is a public interface, implemented by applications), so
// the pool sets one for the thread while it fetches, and the Databricks
// layer's retry loop reads it:
//
//   // given: std::optional<std::chrono::steady_clock::time_point> until
//   // given: pgobo::CredentialProvider& provider
//   {
//     const pgobo::detail::CallerDeadlineScope scope(until);  // nullopt: none
//     pgobo::Credential credential = provider.get();  // may read caller_deadline()
//   }
//
// Scopes nest: an inner scope can only bring the deadline closer. The value
// lives in the core library (one thread-local per thread, however many
// shared libraries include this header).
#pragma once

#include <chrono>
#include <optional>

namespace pgobo::detail {

// The deadline set by the innermost CallerDeadlineScope of this thread, or
// nullopt when none is set.
[[nodiscard]] std::optional<std::chrono::steady_clock::time_point> caller_deadline() noexcept;

class CallerDeadlineScope {
 public:
  // nullopt leaves the thread's deadline as it is.
  explicit CallerDeadlineScope(
      std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
  ~CallerDeadlineScope();

  CallerDeadlineScope(const CallerDeadlineScope&) = delete;
  CallerDeadlineScope& operator=(const CallerDeadlineScope&) = delete;

 private:
  std::optional<std::chrono::steady_clock::time_point> previous_;
};

}  // namespace pgobo::detail
