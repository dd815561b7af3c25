#include "pgobo/stats_exposition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "pgobo/pool_manager.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo {
namespace {

// One metric family: its name, Prometheus type and help text.
struct Metric {
  std::string_view name;
  std::string_view type;
  std::string_view help;
};

// OpenTelemetry's db.client.connection.* names, as its Prometheus exporter
// spells them (dots to underscores, "_total" on counters).
constexpr Metric kConnectionCount{
    "db_client_connection_count", "gauge",
    "Open connections by state: idle (ready to lend) or used (leased to a caller)."};
constexpr Metric kConnectionMax{
    "db_client_connection_max", "gauge",
    "The most connections allowed: max_size of the service pool; max_total_connections of the "
    "user pools together (absent when unlimited)."};
constexpr Metric kPendingRequests{
    "db_client_connection_pending_requests", "gauge",
    "connect() calls waiting for a connection, including those waiting for room under "
    "max_total_connections."};
constexpr Metric kTimeouts{"db_client_connection_timeouts_total", "counter",
                           "connect() calls that ended in AcquireTimeout."};
constexpr Metric kCreated{"db_client_connection_create_total", "counter", "Connections opened."};

// What those conventions do not cover.
constexpr Metric kOpening{"pgobo_connection_opening", "gauge",
                          "Connections being opened (login in progress or waiting for room under "
                          "max_total_connections)."};
constexpr Metric kAcquires{"pgobo_connection_acquires_total", "counter",
                           "Successful connect() calls."};
constexpr Metric kConnectErrors{"pgobo_connection_errors_total", "counter",
                                "Failed attempts to open a connection (credential or server)."};
constexpr Metric kCloses{"pgobo_connection_closes_total", "counter",
                         "Connections closed, by reason."};
constexpr Metric kWaitTime{
    "pgobo_connection_wait_time_seconds", "gauge",
    "How long successful connect() calls waited over the pool's life: percentile upper bounds "
    "(at most twice the true value) and the exact maximum (quantile=\"1\")."};
constexpr Metric kPools{"pgobo_pools", "gauge",
                        "User pools: current ones, and replaced ones still draining."};
constexpr Metric kPoolsMax{"pgobo_pools_max", "gauge",
                           "The most user pools at once, max_pools (absent when unlimited)."};
constexpr Metric kPoolsCreated{"pgobo_pools_created_total", "counter", "User pools created."};
constexpr Metric kRebuilds{"pgobo_pool_rebuilds_total", "counter",
                           "User pools replaced because a request brought a new token."};
constexpr Metric kPoolsRemoved{"pgobo_pools_removed_total", "counter",
                               "Unused user pools removed by the sweeper."};
constexpr Metric kPoolEvictions{"pgobo_pool_evictions_total", "counter",
                                "Idle user pools closed to make room under max_pools."};
constexpr Metric kConnectionEvictions{
    "pgobo_connection_evictions_total", "counter",
    "Idle connections of the least recently used user closed to make room under "
    "max_total_connections."};
constexpr Metric kBudgetPending{"pgobo_connection_budget_pending_requests", "gauge",
                                "Connection opens waiting for room under max_total_connections."};
constexpr Metric kBudgetTimeouts{
    "pgobo_connection_budget_timeouts_total", "counter",
    "connect() calls that timed out waiting for room under max_total_connections."};
constexpr Metric kSweeps{"pgobo_sweeps_total", "counter", "Sweeper passes over the user pools."};

using Label = std::pair<std::string_view, std::string_view>;

// Label values escaped as the text format requires: backslash, double quote
// and line feed. Other control characters (CR, NUL…) have no escape and
// break scrapers that split lines on CR or stop at NUL: they become '?'.
void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) {
      out += '?';
      continue;
    }
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// Help text escaped: backslash and line feed.
void append_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Collects samples grouped by metric, so each metric's # HELP and # TYPE
// lines appear once, followed by all its samples, whichever pool added them.
class Exposition {
 public:
  template <std::unsigned_integral Int>
  void add(const Metric& metric, std::initializer_list<Label> labels, Int value) {
    add_formatted(metric, labels, fmt::format("{}", value));
  }
  void add_seconds(const Metric& metric, std::initializer_list<Label> labels,
                   std::chrono::microseconds value) {
    add_formatted(metric, labels, fmt::format("{}", std::chrono::duration<double>(value).count()));
  }

  [[nodiscard]] std::string text() const {
    std::string out;
    for (const Family& family : families_) {
      out += "# HELP ";
      out += family.metric->name;
      out += ' ';
      append_help(out, family.metric->help);
      out += "\n# TYPE ";
      out += family.metric->name;
      out += ' ';
      out += family.metric->type;
      out += '\n';
      out += family.samples;
    }
    return out;
  }

 private:
  struct Family {
    const Metric* metric;
    std::string samples;
  };

  void add_formatted(const Metric& metric, std::initializer_list<Label> labels,
                     const std::string& value) {
    std::string& out = family(metric).samples;
    out += metric.name;
    if (labels.size() > 0) {
      out += '{';
      bool first = true;
      for (const auto& [name, label_value] : labels) {
        if (!first) out += ',';
        first = false;
        out += name;
        out += "=\"";
        append_label_value(out, label_value);
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    out += value;
    out += '\n';
  }

  Family& family(const Metric& metric) {
    for (Family& f : families_) {
      if (f.metric == &metric) return f;
    }
    return families_.emplace_back(Family{&metric, {}});
  }

  std::vector<Family> families_;
};

void add_pool(Exposition& out, const PoolStats& s, std::string_view pool) {
  out.add(kConnectionCount, {{"pool", pool}, {"state", "idle"}}, s.idle);
  out.add(kConnectionCount, {{"pool", pool}, {"state", "used"}}, s.leased);
  out.add(kConnectionMax, {{"pool", pool}}, s.max_size);
  out.add(kPendingRequests, {{"pool", pool}}, s.waiting);
  out.add(kTimeouts, {{"pool", pool}}, s.timeouts);
  out.add(kCreated, {{"pool", pool}}, s.created);
  out.add(kOpening, {{"pool", pool}}, s.opening);
  out.add(kAcquires, {{"pool", pool}}, s.acquired);
  out.add(kConnectErrors, {{"pool", pool}}, s.connect_errors);
  const std::pair<std::string_view, std::uint64_t> closes[] = {
      {"idle_timeout", s.closed.idle_timeout},
      {"max_lifetime", s.closed.max_lifetime},
      {"broken", s.closed.broken},
      {"rollback_failed", s.closed.rollback_failed},
      {"reset_failed", s.closed.reset_failed},
      {"validation_failed", s.closed.validation_failed},
      {"discarded", s.closed.discarded},
      {"evicted", s.closed.evicted},
      {"pool_ended", s.closed.pool_ended},
  };
  for (const auto& [reason, count] : closes) {
    out.add(kCloses, {{"pool", pool}, {"reason", reason}}, count);
  }
  out.add_seconds(kWaitTime, {{"pool", pool}, {"quantile", "0.5"}}, s.acquire_wait_p50);
  out.add_seconds(kWaitTime, {{"pool", pool}, {"quantile", "0.9"}}, s.acquire_wait_p90);
  out.add_seconds(kWaitTime, {{"pool", pool}, {"quantile", "0.99"}}, s.acquire_wait_p99);
  out.add_seconds(kWaitTime, {{"pool", pool}, {"quantile", "1"}}, s.acquire_wait_max);
}

void add_users(Exposition& out, const PoolManagerStats& s) {
  constexpr std::string_view pool = "users";
  // connections = idle + leased + opening; opening ones are not connections yet.
  const std::size_t opening = s.connections - std::min(s.connections, s.idle + s.leased);
  out.add(kConnectionCount, {{"pool", pool}, {"state", "idle"}}, s.idle);
  out.add(kConnectionCount, {{"pool", pool}, {"state", "used"}}, s.leased);
  if (s.max_total_connections > 0)
    out.add(kConnectionMax, {{"pool", pool}}, s.max_total_connections);
  out.add(kPendingRequests, {{"pool", pool}}, s.waiting + s.budget_waiting + s.pool_budget_waiting);
  // Pool timeouts include those at max_total_connections; add those at max_pools.
  out.add(kTimeouts, {{"pool", pool}}, s.timeouts + s.pool_budget_timeouts);
  out.add(kCreated, {{"pool", pool}}, s.connections_created);
  out.add(kOpening, {{"pool", pool}}, opening);
  out.add(kAcquires, {{"pool", pool}}, s.acquired);
  out.add(kConnectErrors, {{"pool", pool}}, s.connect_errors);
  out.add(kPools, {{"pool", pool}, {"state", "current"}}, s.pools);
  out.add(kPools, {{"pool", pool}, {"state", "draining"}}, s.draining_pools);
  if (s.max_pools > 0) out.add(kPoolsMax, {{"pool", pool}}, s.max_pools);
  out.add(kPoolsCreated, {{"pool", pool}}, s.pools_created);
  out.add(kRebuilds, {{"pool", pool}}, s.rebuilds);
  out.add(kPoolsRemoved, {{"pool", pool}}, s.pools_removed);
  out.add(kPoolEvictions, {{"pool", pool}}, s.pool_evictions);
  out.add(kConnectionEvictions, {{"pool", pool}}, s.connection_evictions);
  out.add(kBudgetPending, {{"pool", pool}}, s.budget_waiting);
  out.add(kBudgetTimeouts, {{"pool", pool}}, s.budget_timeouts);
  out.add(kSweeps, {{"pool", pool}}, s.sweeps);
}

}  // namespace

nlohmann::json stats_to_json(const PoolStats& stats) { return stats; }
nlohmann::json stats_to_json(const PoolManagerStats& stats) { return stats; }
nlohmann::json stats_to_json(const RoutingStats& stats) { return stats; }

std::string stats_to_prometheus(const RoutingStats& stats) {
  Exposition out;
  add_pool(out, stats.service, "service");
  add_users(out, stats.users);
  return out.text();
}

std::string stats_to_prometheus(const PoolManagerStats& stats) {
  Exposition out;
  add_users(out, stats);
  return out.text();
}

std::string stats_to_prometheus(const PoolStats& stats, std::string_view pool_label) {
  Exposition out;
  add_pool(out, stats, pool_label);
  return out.text();
}

}  // namespace pgobo
