// pgobo/detail/unrouted_pools.hpp — pools PoolManager still sweeps but
// routes no request to.
//
// Two kinds: retired pools (closed with close_pool() while they still had
// leases or waiters), kept until they have drained so that their connections
// are closed by the sweeper, not by whoever drops them last; and pools the
// manager does not own but reaps on each sweep (reap_also(): RoutingPool's
// service-principal pool), held weakly. One mutex guards both; in the
// manager's lock order it comes after the shards' and before a pool's.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "pgobo/detail/pool_manager_gate.hpp"

namespace pgobo::detail {

template <class Pool>
class UnroutedPools {
 public:
  void retire(std::shared_ptr<Pool> pool) {
    std::lock_guard lock(mutex_);
    retired_.push_back(std::move(pool));
  }

  [[nodiscard]] std::vector<std::shared_ptr<Pool>> retired() const {
    std::lock_guard lock(mutex_);
    return retired_;
  }

  // Unlinks the retired pools that finished draining, calling
  // on_unlink(pool) for each while still locked, and returns them.
  template <class F>
  [[nodiscard]] std::vector<std::shared_ptr<Pool>> take_drained(F&& on_unlink) {
    std::vector<std::shared_ptr<Pool>> done;
    std::lock_guard lock(mutex_);
    std::erase_if(retired_, [&](std::shared_ptr<Pool>& pool) {
      if (!PoolManagerGate{*pool}.is_drained()) return false;
      on_unlink(*pool);
      done.push_back(std::move(pool));
      return true;
    });
    return done;
  }

  // Moves every retired pool to `out`.
  void take_all(std::vector<std::shared_ptr<Pool>>& out) {
    std::lock_guard lock(mutex_);
    for (auto& pool : retired_) out.push_back(std::move(pool));
    retired_.clear();
  }

  template <class F>
  void for_each_retired(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& pool : retired_) f(pool);
  }

  void reap_also(std::weak_ptr<Pool> pool) {
    std::lock_guard lock(mutex_);
    also_reap_.push_back(std::move(pool));
  }

  // The reap_also() pools still alive (forgets the others).
  [[nodiscard]] std::vector<std::shared_ptr<Pool>> also_reap() {
    std::vector<std::shared_ptr<Pool>> out;
    std::lock_guard lock(mutex_);
    std::erase_if(also_reap_, [](const std::weak_ptr<Pool>& w) { return w.expired(); });
    for (auto& w : also_reap_) {
      if (auto p = w.lock()) out.push_back(std::move(p));
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Pool>> retired_;
  std::vector<std::weak_ptr<Pool>> also_reap_;
};

}  // namespace pgobo::detail
