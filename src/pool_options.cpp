#include "pgobo/pool_options.hpp"

#include <cmath>
#include <string>

#include "pgobo/errors.hpp"

namespace pgobo {
namespace {

// The pool's name as a message shows it: at most 60 bytes of printable
// ASCII. A user pool's name holds the user's key, which came from a request.
std::string shown_name(std::string_view name) {
  constexpr std::size_t kLimit = 60;
  std::string out;
  for (const char c : name.substr(0, kLimit)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (name.size() > kLimit) out += "...";
  return out;
}

[[noreturn]] void reject(const PoolOptions& options, const std::string& what) {
  throw ConfigError("pool '" + shown_name(options.name) + "': " + what);
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
  // What libpq cannot carry (a NUL byte, a malformed setting name) is found
  // now rather than at the first connect.
  try {
    (void)connection.to_conninfo();
  } catch (const ConfigError& e) {
    reject(*this, std::string("connection: ") + e.what());
  }
}

}  // namespace pgobo
