#include "pgobo/pool_options.hpp"

#include <cctype>
#include <chrono>
#include <cmath>
#include <string>
#include <string_view>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

// The pool's name as a message shows it: at most 60 bytes of printable
// ASCII. A user pool's name holds the user's key, which came from a request.
std::string shown_name(std::string_view name) { return detail::printable_excerpt(name); }

[[noreturn]] void reject(const PoolOptions& options, const std::string& what) {
  throw ConfigError("pool '" + shown_name(options.name) + "': " + what);
}

// Durations are added to clock readings (deadlines, expiry times); beyond
// this they would overflow std::chrono's nanoseconds. The same bound as the
// configuration readers (PoolConfig) apply.
constexpr std::chrono::milliseconds kMaxDuration{31LL * 24 * 60 * 60 * 1000};  // 31 days

void check_duration(const PoolOptions& options, std::chrono::milliseconds value, const char* field,
                    const char* zero_means = nullptr) {
  if (value.count() < 0) {
    reject(options, std::string(field) + " must not be negative" +
                        (zero_means ? std::string(" (0 ") + zero_means + ")" : std::string()));
  }
  if (value > kMaxDuration) {
    reject(options, std::string(field) + " must be at most 31 days (" +
                        std::to_string(kMaxDuration.count()) + " ms; got " +
                        std::to_string(value.count()) + " ms)");
  }
}

// ASCII lowercase with runs of whitespace as one space: enough to find two
// keywords in a statement however it is spaced or cased.
std::string folded(std::string_view sql) {
  std::string out;
  for (const char c : sql) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) != 0) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(std::tolower(u));
    }
  }
  return out;
}

void check_reset_query(const PoolOptions& options) {
  const std::string sql = folded(options.reset_query);
  if (sql.find("discard all") != std::string::npos || sql.find("deallocate") != std::string::npos) {
    reject(options,
           "reset_query must not contain DISCARD ALL or DEALLOCATE: the server would forget the "
           "prepared statements libpqxx still knows, and the next lease would fail with "
           "\"prepared statement does not exist\". The session reset (session_reset, on by "
           "default) already releases advisory locks, resets settings and the role, ends LISTEN, "
           "closes cursors and drops temporary tables; remove reset_query or use DISCARD TEMP, "
           "DISCARD PLANS, DISCARD SEQUENCES");
  }
}

}  // namespace

void PoolOptions::validate() const {
  if (name.empty()) reject(*this, "name must not be empty");
  if (max_size == 0) reject(*this, "max_size must be at least 1 (got 0)");
  if (min_idle > max_size) {
    reject(*this, "min_idle must not exceed max_size (got min_idle " + std::to_string(min_idle) +
                      ", max_size " + std::to_string(max_size) + ")");
  }
  check_duration(*this, acquire_timeout, "acquire_timeout");
  check_duration(*this, idle_timeout, "idle_timeout", "disables idle closing");
  check_duration(*this, max_lifetime, "max_lifetime", "disables the lifetime limit");
  if (!std::isfinite(max_lifetime_jitter) || max_lifetime_jitter < 0.0 ||
      max_lifetime_jitter >= 1.0) {
    reject(*this, "max_lifetime_jitter must be a fraction in [0, 1) (got " +
                      std::to_string(max_lifetime_jitter) + ")");
  }
  if (validate_idle_after) check_duration(*this, *validate_idle_after, "validate_idle_after");
  check_duration(*this, close_timeout, "close_timeout");
  check_duration(*this, connect_backoff_max, "connect_backoff_max", "disables backoff");
  check_duration(*this, leak_detection_threshold, "leak_detection_threshold",
                 "disables leak detection");
  // Seconds: compared as such, since converting a huge value would overflow.
  if (connection.connect_timeout.count() < 0 ||
      connection.connect_timeout > std::chrono::duration_cast<std::chrono::seconds>(kMaxDuration)) {
    reject(*this, "connection.connect_timeout must be from 0 to 31 days (got " +
                      std::to_string(connection.connect_timeout.count()) + " s)");
  }
  check_reset_query(*this);
  // What libpq cannot carry (a NUL byte, a malformed setting name) is found
  // now rather than at the first connect.
  try {
    (void)connection.to_conninfo();
  } catch (const ConfigError& e) {
    reject(*this, std::string("connection: ") + e.what());
  }
}

}  // namespace pgobo
