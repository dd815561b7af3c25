#include "pgobo/pool_options.hpp"

#include <cmath>
#include <string>

#include "pgobo/errors.hpp"

namespace pgobo {
namespace {

[[noreturn]] void reject(const PoolOptions& options, const std::string& what) {
  throw ConfigError("pool '" + options.name + "': " + what);
}

}  // namespace

void PoolOptions::validate() const {
  if (name.empty()) reject(*this, "name must not be empty");
  if (max_size == 0) reject(*this, "max_size must be at least 1 (got 0)");
  if (min_idle > max_size) {
    reject(*this, "min_idle must not exceed max_size (got min_idle " + std::to_string(min_idle) +
                      ", max_size " + std::to_string(max_size) + ")");
  }
  if (acquire_timeout.count() < 0) reject(*this, "acquire_timeout must not be negative");
  if (idle_timeout.count() < 0) {
    reject(*this, "idle_timeout must not be negative (0 disables idle closing)");
  }
  if (max_lifetime.count() < 0) {
    reject(*this, "max_lifetime must not be negative (0 disables the lifetime limit)");
  }
  if (!std::isfinite(max_lifetime_jitter) || max_lifetime_jitter < 0.0 ||
      max_lifetime_jitter >= 1.0) {
    reject(*this, "max_lifetime_jitter must be a fraction in [0, 1) (got " +
                      std::to_string(max_lifetime_jitter) + ")");
  }
  if (validate_idle_after && validate_idle_after->count() < 0) {
    reject(*this, "validate_idle_after must not be negative");
  }
  if (end_timeout.count() < 0) reject(*this, "end_timeout must not be negative");
  if (connect_backoff_max.count() < 0) {
    reject(*this, "connect_backoff_max must not be negative (0 disables backoff)");
  }
  if (connection.connect_timeout.count() < 0) {
    reject(*this, "connection.connect_timeout must not be negative");
  }
}

}  // namespace pgobo
