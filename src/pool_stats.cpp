#include <nlohmann/json.hpp>

#include "pgobo/stats.hpp"

namespace pgobo {
namespace {

// A pool's name holds a user's key, which came from a request and may not be
// UTF-8: dump() would throw on it. Invalid bytes become U+FFFD, so the JSON
// of any stats can always be written, by every path (to_json, stats_to_json).
std::string utf8_name(const std::string& name) {
  const std::string dumped =
      nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(dumped).get<std::string>();
}

}  // namespace

void to_json(nlohmann::json& out, const PoolCloseCounts& closed) {
  out = nlohmann::json{
      {"idle_timeout", closed.idle_timeout},
      {"max_lifetime", closed.max_lifetime},
      {"broken", closed.broken},
      {"rollback_failed", closed.rollback_failed},
      {"reset_failed", closed.reset_failed},
      {"validation_failed", closed.validation_failed},
      {"discarded", closed.discarded},
      {"evicted", closed.evicted},
      {"pool_ended", closed.pool_ended},
      {"total", closed.total()},
  };
}

void to_json(nlohmann::json& out, const PoolStats& stats) {
  out = nlohmann::json{
      {"name", utf8_name(stats.name)},
      {"max_size", stats.max_size},
      {"min_idle", stats.min_idle},
      {"total", stats.total},
      {"idle", stats.idle},
      {"leased", stats.leased},
      {"opening", stats.opening},
      {"waiting", stats.waiting},
      {"created", stats.created},
      {"acquired", stats.acquired},
      {"timeouts", stats.timeouts},
      {"connect_errors", stats.connect_errors},
      {"leaks_suspected", stats.leaks_suspected},
      {"closed", stats.closed},
      {"acquire_wait_us",
       {{"p50", stats.acquire_wait_p50.count()},
        {"p90", stats.acquire_wait_p90.count()},
        {"p99", stats.acquire_wait_p99.count()},
        {"max", stats.acquire_wait_max.count()}}},
  };
}

}  // namespace pgobo
