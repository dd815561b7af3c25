#include <nlohmann/json.hpp>

#include "pgobo/stats.hpp"

namespace pgobo {

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
      {"name", stats.name},
      {"max_size", stats.max_size},
      {"total", stats.total},
      {"idle", stats.idle},
      {"leased", stats.leased},
      {"opening", stats.opening},
      {"waiting", stats.waiting},
      {"created", stats.created},
      {"acquired", stats.acquired},
      {"timeouts", stats.timeouts},
      {"connect_errors", stats.connect_errors},
      {"closed", stats.closed},
      {"acquire_wait_us",
       {{"p50", stats.acquire_wait_p50.count()},
        {"p90", stats.acquire_wait_p90.count()},
        {"p99", stats.acquire_wait_p99.count()},
        {"max", stats.acquire_wait_max.count()}}},
  };
}

}  // namespace pgobo
