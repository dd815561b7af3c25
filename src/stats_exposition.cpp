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

// OpenTelemetry's db.client.connection.* metrics, as its Prometheus
// exporter spells them: dots to underscores, the unit as a suffix
// ("_seconds"), "_total" on counters; attributes as labels of the same
// spelling (db_client_connection_pool_name, db_client_connection_state).
constexpr Metric kConnectionCount{
    "db_client_connection_count", "gauge",
    "Open connections by state: idle (ready to lend) or used (leased to a caller)."};
constexpr Metric kConnectionMax{
    "db_client_connection_max", "gauge",
    "The most connections allowed: max_size of a pool; max_total_connections of the user pools "
    "together (absent when unlimited)."};
constexpr Metric kIdleMax{"db_client_connection_idle_max", "gauge",
                          "The most idle connections a pool keeps (its max_size)."};
constexpr Metric kIdleMin{"db_client_connection_idle_min", "gauge",
                          "The fewest idle connections a pool keeps open (min_idle)."};
constexpr Metric kPendingRequests{
    "db_client_connection_pending_requests", "gauge",
    "connect() calls waiting for a connection, including those waiting for room under "
    "max_total_connections."};
constexpr Metric kTimeouts{"db_client_connection_timeouts_total", "counter",
                           "connect() calls that ended in AcquireTimeout."};
constexpr Metric kCreateTime{
    "db_client_connection_create_time_seconds", "histogram",
    "How long opening a connection took: the credential fetch and the login."};
constexpr Metric kWaitTime{"db_client_connection_wait_time_seconds", "histogram",
                           "How long successful connect() calls waited for a connection."};
constexpr Metric kUseTime{"db_client_connection_use_time_seconds", "histogram",
                          "How long connections were leased before coming back."};

// What those conventions do not cover.
constexpr Metric kCreated{"pgobo_connections_created_total", "counter", "Connections opened."};
constexpr Metric kOpening{"pgobo_connection_opening", "gauge",
                          "Connections being opened (login in progress or waiting for room under "
                          "max_total_connections)."};
constexpr Metric kAcquires{"pgobo_connection_acquires_total", "counter",
                           "Successful connect() calls."};
constexpr Metric kConnectErrors{"pgobo_connection_errors_total", "counter",
                                "Failed attempts to open a connection (credential or server)."};
constexpr Metric kCloses{"pgobo_connection_closes_total", "counter",
                         "Connections closed, by reason."};
constexpr Metric kLeaks{
    "pgobo_connection_leaks_total", "counter",
    "Leases found out longer than leak_detection_threshold (each counted once)."};
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
// The automatic connection limit (connection_limit.hpp), when it is on.
constexpr Metric kLimitShare{
    "pgobo_connection_limit_share", "gauge",
    "Connections this replica may hold under the automatic connection limit: its service pool's "
    "max_size plus the user pools' limit."};
constexpr Metric kLimitReplicas{"pgobo_connection_limit_replicas", "gauge",
                                "Live replicas sharing the server at the last heartbeat."};
constexpr Metric kLimitCapacity{
    "pgobo_connection_limit_capacity", "gauge",
    "Server connections the replicas divide: max_connections less reserved slots and the reserve."};
constexpr Metric kLimitHeartbeats{"pgobo_connection_limit_heartbeats_total", "counter",
                                  "Heartbeats into the replicas' table, by outcome."};
constexpr Metric kLimitChanges{"pgobo_connection_limit_changes_total", "counter",
                               "Times this replica's user pool limit moved."};
constexpr Metric kLimitShort{
    "pgobo_connection_limit_share_below_service_pool_total", "counter",
    "Heartbeats whose fair share was below the service pool's max_size: the user pools got 0."};
constexpr Metric kLimitFenced{
    "pgobo_connection_limit_fenced_total", "counter",
    "Times this replica dropped its user pools to 0 because its heartbeats were late."};

// The label every series has: which pool ("service", "users", or the name
// given to stats_to_prometheus for one pool), never a user's key.
constexpr std::string_view kPoolLabel = "db_client_connection_pool_name";
constexpr std::string_view kStateLabel = "db_client_connection_state";

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
  // A histogram's series: cumulative _bucket{le=…} counts up to +Inf, _sum
  // and _count, each with the pool's label.
  void add_histogram(const Metric& metric, std::string_view pool, const DurationHistogram& h) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < DurationHistogram::kUpperBoundsNanoseconds.size(); ++i) {
      cumulative += h.buckets[i];
      const std::string le = fmt::format("{}", DurationHistogram::upper_bound_seconds(i));
      add_sample(metric, "_bucket", {{kPoolLabel, pool}, {"le", le}},
                 fmt::format("{}", cumulative));
    }
    add_sample(metric, "_bucket", {{kPoolLabel, pool}, {"le", "+Inf"}}, fmt::format("{}", h.count));
    add_sample(metric, "_sum", {{kPoolLabel, pool}}, fmt::format("{}", h.sum_seconds()));
    add_sample(metric, "_count", {{kPoolLabel, pool}}, fmt::format("{}", h.count));
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
    add_sample(metric, "", labels, value);
  }

  void add_sample(const Metric& metric, std::string_view suffix,
                  std::initializer_list<Label> labels, const std::string& value) {
    std::string& out = family(metric).samples;
    out += metric.name;
    out += suffix;
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

void add_closes(Exposition& out, const PoolCloseCounts& closed, std::string_view pool) {
  const std::pair<CloseReason, std::uint64_t> closes[] = {
      {CloseReason::idle_timeout, closed.idle_timeout},
      {CloseReason::max_lifetime, closed.max_lifetime},
      {CloseReason::broken, closed.broken},
      {CloseReason::rollback_failed, closed.rollback_failed},
      {CloseReason::reset_failed, closed.reset_failed},
      {CloseReason::validation_failed, closed.validation_failed},
      {CloseReason::discarded, closed.discarded},
      {CloseReason::evicted, closed.evicted},
      {CloseReason::pool_ended, closed.pool_ended},
  };
  for (const auto& [reason, count] : closes) {
    out.add(kCloses, {{kPoolLabel, pool}, {"reason", to_string(reason)}}, count);
  }
}

void add_pool(Exposition& out, const PoolStats& s, std::string_view pool) {
  out.add(kConnectionCount, {{kPoolLabel, pool}, {kStateLabel, "idle"}}, s.idle);
  out.add(kConnectionCount, {{kPoolLabel, pool}, {kStateLabel, "used"}}, s.leased);
  out.add(kConnectionMax, {{kPoolLabel, pool}}, s.max_size);
  out.add(kIdleMax, {{kPoolLabel, pool}}, s.max_size);
  out.add(kIdleMin, {{kPoolLabel, pool}}, s.min_idle);
  out.add(kPendingRequests, {{kPoolLabel, pool}}, s.waiting);
  out.add(kTimeouts, {{kPoolLabel, pool}}, s.timeouts);
  out.add_histogram(kCreateTime, pool, s.create_time);
  out.add_histogram(kWaitTime, pool, s.wait_time);
  out.add_histogram(kUseTime, pool, s.use_time);
  out.add(kCreated, {{kPoolLabel, pool}}, s.created);
  out.add(kOpening, {{kPoolLabel, pool}}, s.opening);
  out.add(kAcquires, {{kPoolLabel, pool}}, s.acquired);
  out.add(kConnectErrors, {{kPoolLabel, pool}}, s.connect_errors);
  add_closes(out, s.closed, pool);
  out.add(kLeaks, {{kPoolLabel, pool}}, s.leaks_suspected);
}

void add_users(Exposition& out, const PoolManagerStats& s) {
  constexpr std::string_view pool = "users";
  // connections = idle + leased + opening; opening ones are not connections yet.
  const std::size_t opening = s.connections - std::min(s.connections, s.idle + s.leased);
  out.add(kConnectionCount, {{kPoolLabel, pool}, {kStateLabel, "idle"}}, s.idle);
  out.add(kConnectionCount, {{kPoolLabel, pool}, {kStateLabel, "used"}}, s.leased);
  // Under the automatic limit 0 is a limit (nothing yet), not "none".
  if (s.max_total_connections > 0 || s.max_total_connections_adjustable)
    out.add(kConnectionMax, {{kPoolLabel, pool}}, s.max_total_connections);
  out.add(kPendingRequests, {{kPoolLabel, pool}},
          s.waiting + s.budget_waiting + s.pool_budget_waiting);
  // Pool timeouts include those at max_total_connections; add those at max_pools.
  out.add(kTimeouts, {{kPoolLabel, pool}}, s.timeouts + s.pool_budget_timeouts);
  out.add_histogram(kCreateTime, pool, s.create_time);
  out.add_histogram(kWaitTime, pool, s.wait_time);
  out.add_histogram(kUseTime, pool, s.use_time);
  out.add(kCreated, {{kPoolLabel, pool}}, s.connections_created);
  out.add(kOpening, {{kPoolLabel, pool}}, opening);
  out.add(kAcquires, {{kPoolLabel, pool}}, s.acquired);
  out.add(kConnectErrors, {{kPoolLabel, pool}}, s.connect_errors);
  out.add(kLeaks, {{kPoolLabel, pool}}, s.leaks_suspected);
  out.add(kPools, {{kPoolLabel, pool}, {"state", "current"}}, s.pools);
  out.add(kPools, {{kPoolLabel, pool}, {"state", "draining"}}, s.draining_pools);
  if (s.max_pools > 0) out.add(kPoolsMax, {{kPoolLabel, pool}}, s.max_pools);
  out.add(kPoolsCreated, {{kPoolLabel, pool}}, s.pools_created);
  out.add(kRebuilds, {{kPoolLabel, pool}}, s.rebuilds);
  out.add(kPoolsRemoved, {{kPoolLabel, pool}}, s.pools_removed);
  out.add(kPoolEvictions, {{kPoolLabel, pool}}, s.pool_evictions);
  out.add(kConnectionEvictions, {{kPoolLabel, pool}}, s.connection_evictions);
  out.add(kBudgetPending, {{kPoolLabel, pool}}, s.budget_waiting);
  out.add(kBudgetTimeouts, {{kPoolLabel, pool}}, s.budget_timeouts);
  out.add(kSweeps, {{kPoolLabel, pool}}, s.sweeps);
}

void add_connection_limit(Exposition& out, const ConnectionLimitStats& s) {
  if (!s.automatic) return;
  constexpr std::string_view pool = "users";
  out.add(kLimitShare, {{kPoolLabel, pool}}, s.share);
  out.add(kLimitReplicas, {{kPoolLabel, pool}}, s.replicas);
  out.add(kLimitCapacity, {{kPoolLabel, pool}}, s.capacity);
  out.add(kLimitHeartbeats, {{kPoolLabel, pool}, {"outcome", "ok"}}, s.heartbeats);
  out.add(kLimitHeartbeats, {{kPoolLabel, pool}, {"outcome", "error"}}, s.heartbeat_errors);
  out.add(kLimitChanges, {{kPoolLabel, pool}}, s.changes);
  out.add(kLimitShort, {{kPoolLabel, pool}}, s.share_below_service_pool);
  out.add(kLimitFenced, {{kPoolLabel, pool}}, s.fenced);
}

}  // namespace

nlohmann::json stats_to_json(const PoolStats& stats) { return stats; }
nlohmann::json stats_to_json(const PoolManagerStats& stats) { return stats; }
nlohmann::json stats_to_json(const RoutingStats& stats) { return stats; }

std::string stats_to_prometheus(const RoutingStats& stats) {
  Exposition out;
  add_pool(out, stats.service, "service");
  add_users(out, stats.users);
  add_connection_limit(out, stats.connection_limit);
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
