#include "pgobo/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>

namespace pgobo {
namespace {

std::shared_ptr<spdlog::logger> make_default_logger() {
  // Not registered in spdlog's global registry: an application that also
  // names a logger "pgobo" must not collide with ours.
  auto created = std::make_shared<spdlog::logger>(
      "pgobo", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  created->set_level(spdlog::level::info);
  return created;
}

// Read and replaced with the free atomic shared_ptr functions: thread-safe,
// though not lock-free (libstdc++ guards them with a small internal lock,
// as it does std::atomic<std::shared_ptr>, which C++20 prefers and
// libstdc++ 12 also has; the free functions are deprecated in C++20 and
// still work on every standard library pgobo builds with).
std::shared_ptr<spdlog::logger>& installed_logger() {
  static std::shared_ptr<spdlog::logger> current = make_default_logger();
  return current;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger() noexcept {
  return std::atomic_load_explicit(&installed_logger(), std::memory_order_acquire);
}

void set_logger(std::shared_ptr<spdlog::logger> replacement) {
  if (!replacement) replacement = make_default_logger();
  std::atomic_store_explicit(&installed_logger(), std::move(replacement),
                             std::memory_order_release);
}

}  // namespace pgobo
