// pgobo/stats_exposition.hpp — pool statistics as JSON and as Prometheus text.
//
//   // (not compiled: needs cpp-httplib, as examples/notes_service does)
//   server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
//     res.set_content(pgobo::stats_to_prometheus(db->stats()),
//                     std::string(pgobo::kPrometheusContentType));
//   });
//   nlohmann::json j = pgobo::stats_to_json(db->stats());   // {"service": {...}, "users": {...}}
//
// The Prometheus text follows OpenTelemetry's db.client.connection.* semantic
// conventions as an OpenTelemetry Prometheus exporter would spell them
// (db_client_connection_count{state="idle"|"used"}, db_client_connection_max,
// db_client_connection_pending_requests, db_client_connection_timeouts_total)
// plus pgobo_* metrics for what those conventions do not cover (pools,
// rebuilds, evictions, sweeps). Every series carries a `pool` label:
// "service" for the service principal's pool, "users" for all user pools
// together. No user key, email or id is ever a label or a value: one series
// per user would leak who uses the service and grow without bound. The metric
// list and what each one means is in docs/operations.md.
//
// The output is the Prometheus text exposition format 0.0.4: one # HELP and
// one # TYPE line per metric, then its samples, each line ending in "\n".
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "pgobo/stats.hpp"

namespace pgobo {

struct PoolManagerStats;  // pool_manager.hpp
struct RoutingStats;      // routing_pool.hpp

// The Content-Type of stats_to_prometheus()'s text.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The statistics as JSON objects: exactly their to_json() (stats.hpp,
// pool_manager_stats.hpp, routing_pool.hpp), one path for both. A pool name
// that is not UTF-8 has its invalid bytes replaced (U+FFFD), so dump()
// always succeeds. A PoolStats of a user pool holds its name ("user:<key>"):
// keep those for an admin page.
[[nodiscard]] nlohmann::json stats_to_json(const PoolStats& stats);
[[nodiscard]] nlohmann::json stats_to_json(const PoolManagerStats& stats);
[[nodiscard]] nlohmann::json stats_to_json(const RoutingStats& stats);

// The statistics of a RoutingPool: its service principal's pool with
// pool="service", its user pools together with pool="users".
[[nodiscard]] std::string stats_to_prometheus(const RoutingStats& stats);
// The user pools of a PoolManager together, with pool="users".
[[nodiscard]] std::string stats_to_prometheus(const PoolManagerStats& stats);
// One pool, with pool="<pool_label>". The pool's name is not used: a user
// pool's name holds the user's key.
[[nodiscard]] std::string stats_to_prometheus(const PoolStats& stats,
                                              std::string_view pool_label = "service");

}  // namespace pgobo
