#include "pgobo/pool_manager.hpp"

#include <nlohmann/json.hpp>

namespace pgobo {

void to_json(nlohmann::json& out, const PoolManagerStats& s) {
  out = nlohmann::json{{"pools", s.pools},
                       {"draining_pools", s.draining_pools},
                       {"connections", s.connections},
                       {"idle", s.idle},
                       {"leased", s.leased},
                       {"waiting", s.waiting},
                       {"budget_waiting", s.budget_waiting},
                       {"pool_budget_waiting", s.pool_budget_waiting},
                       {"max_total_connections", s.max_total_connections},
                       {"max_total_connections_adjustable", s.max_total_connections_adjustable},
                       {"budget_in_use", s.budget_in_use},
                       {"max_pools", s.max_pools},
                       {"pools_created", s.pools_created},
                       {"rebuilds", s.rebuilds},
                       {"pools_removed", s.pools_removed},
                       {"connection_evictions", s.connection_evictions},
                       {"pool_evictions", s.pool_evictions},
                       {"budget_timeouts", s.budget_timeouts},
                       {"pool_budget_timeouts", s.pool_budget_timeouts},
                       {"sweeps", s.sweeps},
                       {"connections_created", s.connections_created},
                       {"acquired", s.acquired},
                       {"timeouts", s.timeouts},
                       {"connect_errors", s.connect_errors},
                       {"leaks_suspected", s.leaks_suspected}};
}

}  // namespace pgobo
