#include "pgobo/detail/caller_deadline.hpp"

#include <algorithm>

namespace pgobo::detail {
namespace {

thread_local std::optional<std::chrono::steady_clock::time_point> current_deadline;

}  // namespace

std::optional<std::chrono::steady_clock::time_point> caller_deadline() noexcept {
  return current_deadline;
}

CallerDeadlineScope::CallerDeadlineScope(
    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept
    : previous_(current_deadline) {
  if (deadline) current_deadline = previous_ ? std::min(*previous_, *deadline) : *deadline;
}

CallerDeadlineScope::~CallerDeadlineScope() { current_deadline = previous_; }

}  // namespace pgobo::detail
