// pgobo/detail/lru_evictor.hpp — finding what to close when PoolManager's
// limits are reached: the least recently used idle connection, or the least
// recently used pool nobody holds.
//
// Both are linear scans over the registry (ManagerRegistry), one shard at a
// time under its shared lock, run only at a limit: max_total_connections
// (the connection budget's evictor) or max_pools (the pool budget's). "Used"
// is a pool's last_used(): when a connection was last lent or given back.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "pgobo/detail/pool_manager_gate.hpp"

namespace pgobo::detail {

// Closes one idle connection of the user pool (current or draining) used
// least recently. False if no pool has an idle connection.
template <class Registry>
bool evict_lru_idle_connection(Registry& registry) {
  using Pool = typename Registry::Pool;
  using time_point = typename Pool::time_point;
  // The victim's idle connection may be lent between the scan and the
  // close; then look again rather than report "nothing idle", which would
  // leave the budget's waiter waiting for a release that may not come.
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::shared_ptr<Pool> victim;
    time_point oldest = time_point::max();
    registry.for_each_pool([&](const std::shared_ptr<Pool>& pool, bool) {
      if (pool->idle_count() == 0) return;
      const auto used = PoolManagerGate{*pool}.last_used();
      if (used < oldest) {
        oldest = used;
        victim = pool;
      }
    });
    if (!victim) return false;
    if (PoolManagerGate{*victim}.close_one_idle()) return true;
  }
  return false;
}

// The key of the least recently used pool that no request holds (the
// registry's reference is its only one) and that replaced none still
// draining; empty if there is none. The caller re-checks under the shard's
// exclusive lock before it drops the pool: a request may pick it up since.
template <class Registry>
[[nodiscard]] std::string lru_unheld_pool_key(const Registry& registry) {
  using time_point = typename Registry::Pool::time_point;
  std::string victim_key;
  time_point oldest = time_point::max();
  for (const auto& shard : registry.shards()) {
    std::shared_lock lock(shard.mutex);
    for (const auto& [key, entry] : shard.entries) {
      if (!entry.draining.empty() || entry.current.use_count() != 1) continue;
      const auto used = PoolManagerGate{*entry.current}.last_used();
      if (used < oldest) {
        oldest = used;
        victim_key = key;
      }
    }
  }
  return victim_key;
}

}  // namespace pgobo::detail
