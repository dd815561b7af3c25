// pgobo/pool_manager.hpp — one small pool per user, rebuilt on a new token,
// swept when idle, all under one connection budget.
//
// PostgreSQL authenticates a connection once, when it opens, so a user's
// connections can only ever serve that user: each user key (email, else user
// id) gets its own pool. RoutingPool uses a PoolManager; use one directly when
// you route by hand:
//
//   // given: pgobo::databricks::AppConfig config; pgobo::UserContext user
//   pgobo::PoolManager::Options options;
//   options.user_pool.connection = params;                // host, db, sslmode…
//   options.credentials_for = [](const pgobo::UserContext& user) {
//     return config.make_user_credentials(user.access_token());
//   };
//   options.max_total_connections = 40;
//   pgobo::PoolManager manager(std::move(options));  // pgobo/pqxx_pool_manager.hpp
//
//   auto pool = manager.get_pool(user);        // the user's pool, created on first use
//   auto rows = pool->query("SELECT * FROM app.notes");
//
// What it guarantees:
// - get_pool() creates exactly one pool per key, also under concurrent first
//   requests, and logs in as role_for(user) (default: the key).
// - A token fingerprint never seen for a key replaces that key's pool once;
//   the old pool drains (its leases finish, its waiters are served) and then
//   closes. A recently seen older fingerprint keeps using the current pool.
// - A sweeper thread reaps idle and old connections of every pool and drops
//   pools nobody uses, every sweep_interval; it stops at once on close().
// - max_total_connections and max_pools bound the user pools together; at the
//   bound the least recently used idle connection or pool makes room, else
//   the request waits first come first served until its acquire deadline.
//
// The parts live beside it in detail/: the sharded map of keys to pools
// (manager_registry.hpp), which token a pool serves and when it is rebuilt
// (token_rotation.hpp), replaced pools still draining (unrouted_pools.hpp),
// the LRU scans behind the two limits (lru_evictor.hpp), the sweeper thread
// (periodic_task.hpp); the settings and statistics have headers of their own
// (pool_manager_options.hpp, pool_manager_stats.hpp). This header does not
// include libpqxx: PoolManager (= BasicPoolManager<PqxxDriver>) is declared
// in pgobo/pqxx_pool_manager.hpp. What is left here is
// the one class whose operations (create, rotate, drain, sweep, evict,
// close) all take the same locks in the same order: totals, a shard, the
// unrouted pools, a pool; it is kept in one file, over 450 lines, so that
// order can be checked in one place.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/detail/budget.hpp"
#include "pgobo/detail/lru_evictor.hpp"
#include "pgobo/detail/manager_registry.hpp"
#include "pgobo/detail/periodic_task.hpp"
#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/detail/token_rotation.hpp"
#include "pgobo/detail/unrouted_pools.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/pool_manager_options.hpp"
#include "pgobo/pool_manager_stats.hpp"
#include "pgobo/stats.hpp"

namespace pgobo {

template <PoolDriver Driver, class Clock = std::chrono::steady_clock>
class BasicPoolManager {
 public:
  using Pool = BasicPool<Driver, Clock>;
  using Connection = typename Driver::Connection;

  // The manager's settings (pgobo/pool_manager_options.hpp).
  using Options = PoolManagerOptions;

  explicit BasicPoolManager(Options options, Driver driver = Driver{})
      : options_(std::move(options)), driver_(std::move(driver)) {
    if (!options_.credentials_for) {
      throw ConfigError(
          "PoolManager: credentials_for is required (how a user's pool gets its password)");
    }
    options_.user_pool.validate();
    if (options_.max_total_connections > 0 || options_.max_total_connections_adjustable) {
      if (!options_.max_total_connections_adjustable &&
          options_.max_total_connections < options_.user_pool.max_size) {
        throw ConfigError("PoolManager: max_total_connections (" +
                          std::to_string(options_.max_total_connections) +
                          ") must be at least the user pool's max_size (" +
                          std::to_string(options_.user_pool.max_size) + ")");
      }
      connection_budget_ = std::make_shared<detail::Budget>(options_.max_total_connections);
      connection_budget_->set_evictor(
          [this] { return detail::evict_lru_idle_connection(registry_); });
    }
    if (options_.max_pools > 0) {
      pool_budget_ = std::make_shared<detail::Budget>(options_.max_pools);
      pool_budget_->set_evictor([this] { return evict_lru_idle_pool(); });
    }
    if (options_.sweep_interval.count() > 0) {
      sweeper_.emplace(
          options_.sweep_interval, [this] { sweep(); }, "PoolManager: sweep");
    }
  }

  BasicPoolManager(const BasicPoolManager&) = delete;
  BasicPoolManager& operator=(const BasicPoolManager&) = delete;

  ~BasicPoolManager() { close(); }

  // The user's pool: found by key in a shard under a shared lock (no
  // allocation), created on first use, replaced on a never-seen token.
  // Throws PoolClosed after close(), AcquireTimeout when max_pools is
  // reached and no pool is idle before the acquire deadline.
  [[nodiscard]] std::shared_ptr<Pool> get_pool(const UserContext& user) {
    std::optional<SteadyTime> deadline;
    return get_pool(user, deadline);
  }

  // A connection of the user's pool (get_pool()), which the lease keeps
  // alive. A pool replaced between being found and being asked for a
  // connection (a new token, close_pool()) refuses new work; the request then
  // goes to the pool that replaced it, so a rotation fails no request that
  // arrived just before it. One acquire_timeout covers the whole request: time
  // spent waiting for room under max_pools is not granted again for the
  // connection. Throws what get_pool() and Pool::connect() throw.
  // `where` is for leak reports (PoolOptions::leak_detection_threshold); a
  // default-constructed one (line 0) leaves the lease unwatched.
  [[nodiscard]] typename Pool::Lease connect(const UserContext& user,
                                             SourceLocation where = SourceLocation::current()) {
    using Gate = detail::PoolManagerGate<Pool>;
    std::optional<SteadyTime> deadline;  // set once the request has waited
    for (int attempt = 1;; ++attempt) {
      std::shared_ptr<Pool> pool = get_pool(user, deadline);
      try {
        typename Pool::Lease lease =
            deadline ? Gate{*pool}.connect(*deadline, where) : pool->connect(where);
        if (pool_budget_) {
          // Under max_pools, this lease coming back may make its pool
          // evictable: tell a request waiting for room to look again.
          Gate::keep_alive(lease, std::make_shared<const PoolHold>(std::move(pool), pool_budget_));
        } else {
          Gate::keep_alive(lease, std::move(pool));
        }
        return lease;
      } catch (const PoolClosed&) {
        // Still the current pool: it was closed (close()), not replaced.
        const bool ended = find_pool(user.key()) == pool;
        drop_reference(pool);
        if (attempt == kReplacedPoolRetries || ended) throw;
      } catch (...) {
        drop_reference(pool);
        throw;
      }
    }
  }

  // The key's current pool, or null; never creates one.
  [[nodiscard]] std::shared_ptr<Pool> find_pool(std::string_view key) const {
    return registry_.find(key);
  }

  [[nodiscard]] bool has_pool(std::string_view key) const { return registry_.contains(key); }

  // Drains the key's pool: its leases finish and its waiters are served, new
  // requests for the key get a fresh pool. The sweeper closes it when done.
  void close_pool(std::string_view key) {
    Shard& shard = registry_.shard_for(key);
    std::shared_ptr<Pool> drained;
    {
      // The pools move from the shard to the retired ones in one step that
      // stats() cannot see halfway (it would miss their counters).
      const std::unique_lock totals(totals_mutex_);
      std::unique_lock lock(shard.mutex);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end()) return;
      drained = it->second.current;
      for (auto& old : it->second.draining) unrouted_.retire(std::move(old));
      unrouted_.retire(std::move(it->second.current));
      shard.entries.erase(it);
    }
    pool_count_.fetch_sub(1, std::memory_order_relaxed);
    release_pool_permit();
    detail::PoolManagerGate{*drained}.begin_drain();
    tell(drained->options().name, PoolLifecycle::removed);
  }

  // Stops the sweeper, then ends every pool (waiters get PoolClosed, leases
  // are awaited up to each pool's close_timeout). Idempotent; later get_pool()
  // calls throw PoolClosed.
  void close() {
    if (closed_.exchange(true)) return;
    if (sweeper_) sweeper_->stop();
    if (connection_budget_) connection_budget_->close();
    if (pool_budget_) pool_budget_->close();
    std::vector<std::shared_ptr<Pool>> all;
    {
      const std::unique_lock totals(totals_mutex_);
      for (Shard& shard : registry_.shards()) {
        std::unique_lock lock(shard.mutex);
        for (auto& [key, entry] : shard.entries) {
          all.push_back(std::move(entry.current));
          for (auto& old : entry.draining) all.push_back(std::move(old));
        }
        shard.entries.clear();
      }
      unrouted_.take_all(all);
      // Closed is not reset: stats() after close() keeps every count.
      // (A login in flight now that still completes is not counted.)
      for (auto& pool : all) counters_.absorb(pool->stats());
    }
    for (auto& pool : all) pool->close();
    pool_count_.store(0);
  }

  // Moves max_total_connections (Options::max_total_connections_adjustable
  // must be set; else ConfigError). Lowered: idle connections over the new
  // limit close now, least recently used first; leases out are not touched,
  // and close as they come back until the user pools are under the limit,
  // which grants nothing new meanwhile. Raised: callers waiting for room get
  // it at once. Returns how many idle connections it closed (a release racing
  // with it may make that one more than strictly needed).
  std::size_t set_max_total_connections(std::size_t limit) {
    if (!options_.max_total_connections_adjustable || !connection_budget_) {
      throw ConfigError(
          "PoolManager: set_max_total_connections() needs "
          "Options::max_total_connections_adjustable = true");
    }
    connection_budget_->set_max_total(limit);
    std::size_t closed = 0;
    // Each pass closes one idle connection, whose permit is retired; bounded
    // by what is open, and it stops as soon as nothing idle is left.
    while (!closed_.load() && connection_budget_->excess() > 0 &&
           detail::evict_lru_idle_connection(registry_)) {
      ++closed;
    }
    return closed;
  }

  // Permits held under max_total_connections (opening, open and closing
  // connections of the user pools); 0 without a limit.
  [[nodiscard]] std::size_t budget_in_use() const {
    return connection_budget_ ? connection_budget_->in_use() : 0;
  }

  // Number of users with a pool.
  [[nodiscard]] std::size_t size() const noexcept { return pool_count_.load(); }

  // One pass of what the sweeper does: reap every pool (idle and old
  // connections, min_idle), drop pools nobody holds that have nothing left,
  // and close replaced pools that finished draining.
  void sweep() {
    std::vector<std::shared_ptr<Pool>> pools;
    for (Shard& shard : registry_.shards()) {
      pools.clear();
      {
        std::shared_lock lock(shard.mutex);
        for (auto& [key, entry] : shard.entries) {
          pools.push_back(entry.current);
          for (auto& old : entry.draining) pools.push_back(old);
        }
      }
      for (auto& pool : pools) pool->reap();  // I/O: outside the shard lock
      pools.clear();
      // These references may have been all that kept a pool from eviction.
      if (pool_budget_) pool_budget_->retry_eviction();
      std::vector<std::string> removed_names;
      const std::size_t removed = unlink_finished(shard, pools, removed_names);
      pool_count_.fetch_sub(removed, std::memory_order_relaxed);
      for (std::size_t i = 0; i < removed; ++i) release_pool_permit();
      detail::ManagerCounters::add(counters_.pools_removed, removed);
      for (const auto& name : removed_names) tell(name, PoolLifecycle::removed);
      for (auto& pool : pools) pool->close();  // nothing left: returns at once
    }
    sweep_retired();
    for (auto& extra : unrouted_.also_reap()) extra->reap();
    detail::ManagerCounters::add(counters_.sweeps);
  }

  // Have the sweeper also reap a pool the manager does not own (RoutingPool's
  // service-principal pool). Held weakly.
  void reap_also(std::weak_ptr<Pool> pool) { unrouted_.reap_also(std::move(pool)); }

  [[nodiscard]] PoolManagerStats stats() const {
    // Shared: against a pool leaving the manager, whose counters move into
    // the dropped totals under the exclusive lock.
    const std::shared_lock totals(totals_mutex_);
    PoolManagerStats s;
    s.max_total_connections =
        connection_budget_ ? connection_budget_->max_total() : options_.max_total_connections;
    s.max_total_connections_adjustable = options_.max_total_connections_adjustable;
    s.max_pools = options_.max_pools;
    for_each_pool([&](const Pool& pool, bool current) {
      detail::ManagerCounters::add_pool(s, pool.stats(), current);
    });
    counters_.fill(s);
    if (connection_budget_) {
      s.budget_in_use = connection_budget_->in_use();
      s.budget_waiting = connection_budget_->waiting();
      s.connection_evictions = connection_budget_->evictions();
      s.budget_timeouts = connection_budget_->timeouts();
    }
    if (pool_budget_) {
      s.pool_budget_waiting = pool_budget_->waiting();
      s.pool_budget_timeouts = pool_budget_->timeouts();
    }
    return s;
  }

  // Per-pool statistics (names contain user keys: for an admin page, not for
  // metrics labels).
  [[nodiscard]] std::vector<PoolStats> pool_stats() const {
    std::vector<PoolStats> out;
    for_each_pool([&](const Pool& pool, bool) { out.push_back(pool.stats()); });
    return out;
  }

  [[nodiscard]] const Options& options() const noexcept { return options_; }

  // A user pool's name (PoolOptions::name, in logs, errors and hooks).
  [[nodiscard]] static std::string user_pool_name(std::string_view key) {
    return "user:" + std::string(key);
  }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using Registry = detail::ManagerRegistry<Pool>;
  using Entry = typename Registry::Entry;
  using Shard = typename Registry::Shard;

  // Each retry of connect() follows a replacement that happened during the
  // previous attempt's few instructions: more than a couple in a row means
  // something else is wrong.
  static constexpr int kReplacedPoolRetries = 4;

  // What a lease keeps alive when max_pools is set: its pool, and on release
  // a nudge to the pool budget (a pool is evictable only once no lease holds
  // it, and nothing else would wake a request waiting for that).
  struct PoolHold {
    PoolHold(std::shared_ptr<Pool> p, std::shared_ptr<detail::Budget> b)
        : pool(std::move(p)), budget(std::move(b)) {}
    PoolHold(const PoolHold&) = delete;
    PoolHold& operator=(const PoolHold&) = delete;
    ~PoolHold() {
      pool.reset();  // before the nudge: the evictor must see it gone
      budget->retry_eviction();
    }
    std::shared_ptr<Pool> pool;
    std::shared_ptr<detail::Budget> budget;
  };

  // Lets go of a pool this request held; under max_pools that may make it
  // evictable, which nothing else would tell a request waiting for room.
  void drop_reference(std::shared_ptr<Pool>& pool) noexcept {
    pool.reset();
    if (pool_budget_) pool_budget_->retry_eviction();
  }

  // get_pool(); a wait for room under max_pools ends at `deadline`, which is
  // set (now + acquire_timeout) if it was not, so the caller's connect can
  // end at the same time.
  [[nodiscard]] std::shared_ptr<Pool> get_pool(const UserContext& user,
                                               std::optional<SteadyTime>& deadline) {
    const std::string& key = user.key();
    const std::string& fingerprint = user.token_fingerprint();
    Shard& shard = registry_.shard_for(key);
    {
      std::shared_lock lock(shard.mutex);
      if (auto it = shard.entries.find(key); it != shard.entries.end()) {
        Entry& entry = it->second;
        if (entry.built_for(user) && detail::serves_token(entry, fingerprint)) {
          return entry.current;
        }
      }
    }
    return create_or_replace(user, shard, deadline);
  }

  std::shared_ptr<Pool> create_or_replace(const UserContext& user, Shard& shard,
                                          std::optional<SteadyTime>& deadline) {
    const std::string& key = user.key();
    const std::string& fingerprint = user.token_fingerprint();
    bool holding_pool_permit = false;
    for (;;) {
      std::unique_lock lock(shard.mutex);
      // Under the shard's lock: close() marks the manager closed before it
      // empties the shards, so a pool added here is either refused or ended
      // by it, never left open behind it.
      throw_if_closed();
      auto it = shard.entries.find(key);
      if (it != shard.entries.end()) {
        if (holding_pool_permit) {  // someone else created it meanwhile
          holding_pool_permit = false;
          lock.unlock();
          release_pool_permit();
          lock.lock();
          continue;
        }
        Entry& entry = it->second;
        if (!entry.built_for(user)) {
          detail::throw_identity_conflict(entry.user_id, entry.email, user);
        }
        if (detail::serves_token(entry, fingerprint)) return entry.current;
        // A token never seen for this user (or a known one replacing a pool
        // whose login fails): replace the pool once (detail/token_rotation.hpp).
        auto fresh = make_pool(user);
        auto old = detail::rotate(entry, fresh, fingerprint, options_.remembered_fingerprints);
        entry.draining.push_back(old);
        detail::ManagerCounters::add(counters_.rebuilds);
        lock.unlock();
        // Out of the shard's lock: draining closes the old pool's idle
        // connections (I/O, and hooks that may call stats()). Until then it
        // is already out of the routing (requests get `fresh`), and the
        // sweeper leaves an undrained pool alone.
        detail::PoolManagerGate{*old}.begin_drain();
        tell(fresh->options().name, PoolLifecycle::rebuilt);
        return fresh;
      }
      if (pool_budget_ && !holding_pool_permit) {
        // Wait for room under max_pools without holding the shard lock: the
        // evictor may need it to drop an idle pool.
        lock.unlock();
        if (!deadline)
          deadline = std::chrono::steady_clock::now() + options_.user_pool.acquire_timeout;
        if (!pool_budget_->acquire(*deadline)) {
          throw_if_closed();
          throw AcquireTimeout("PoolManager: the global limit max_pools (" +
                               std::to_string(options_.max_pools) +
                               ") was reached and no user pool became idle within " +
                               std::to_string(options_.user_pool.acquire_timeout.count()) +
                               " ms; raise max_pools or lower idle_timeout");
        }
        holding_pool_permit = true;
        continue;
      }
      Entry entry;
      try {
        entry.current = make_pool(user);  // role_for, credentials_for, validate() may throw
      } catch (...) {
        if (holding_pool_permit) {
          lock.unlock();
          release_pool_permit();  // else each failure would shrink max_pools for good
        }
        throw;
      }
      entry.fingerprint = fingerprint;
      entry.user_id = user.user_id();
      entry.email = user.email();
      auto pool = entry.current;
      shard.entries.emplace(key, std::move(entry));
      pool_count_.fetch_add(1, std::memory_order_relaxed);
      detail::ManagerCounters::add(counters_.pools_created);
      lock.unlock();
      tell(pool->options().name, PoolLifecycle::created);
      return pool;
    }
  }

  std::shared_ptr<Pool> make_pool(const UserContext& user) {
    PoolOptions p = options_.user_pool;
    p.name = user_pool_name(user.key());
    p.connection.user = options_.role_for ? options_.role_for(user) : user.key();
    p.credentials = options_.credentials_for(user);
    return detail::PoolManagerGate<Pool>::make_shared(std::move(p), driver_, connection_budget_);
  }

  // A user pool was created, rebuilt, removed or evicted: to pgobo's log
  // lines and the user pools' observer. Never under a lock of ours.
  void tell(std::string_view pool, PoolLifecycle change) const noexcept {
    const PoolChanged event{pool, change};
    log_observer().on_pool_changed(event);
    if (options_.user_pool.observer) options_.user_pool.observer->on_pool_changed(event);
  }

  void throw_if_closed() const {
    if (closed_.load()) throw PoolClosed("PoolManager is closed (close() was called)");
  }

  void release_pool_permit() {
    if (pool_budget_) pool_budget_->release();
  }

  // The sweep of one shard, after its pools were reaped: unlinks the replaced
  // pools that finished draining and the pools nobody uses that have nothing
  // left, absorbs their counters and moves them to `done` (the caller ends
  // them). Unlinked and absorbed in one step: a stats() call never sees a
  // pool's counters missing, or twice. Returns how many keys lost their pool
  // (their pools' names in `removed_names`).
  std::size_t unlink_finished(Shard& shard, std::vector<std::shared_ptr<Pool>>& done,
                              std::vector<std::string>& removed_names) {
    std::size_t removed = 0;
    const std::unique_lock totals(totals_mutex_);
    std::unique_lock lock(shard.mutex);
    for (auto it = shard.entries.begin(); it != shard.entries.end();) {
      Entry& entry = it->second;
      std::erase_if(entry.draining, [&](std::shared_ptr<Pool>& old) {
        if (!detail::PoolManagerGate{*old}.is_drained()) return false;
        done.push_back(std::move(old));
        return true;
      });
      // The map's reference is the only one: no request is using the
      // pool (requests hold a reference while they do), and it is empty.
      if (entry.draining.empty() && entry.current.use_count() == 1 &&
          detail::PoolManagerGate{*entry.current}.is_idle_and_empty()) {
        removed_names.push_back(entry.current->options().name);
        done.push_back(std::move(entry.current));
        it = shard.entries.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    for (auto& pool : done) counters_.absorb(pool->stats());
    return removed;
  }

  // Reaps the retired pools (closed with close_pool()) and ends those that
  // finished draining.
  void sweep_retired() {
    for (auto& pool : unrouted_.retired()) pool->reap();
    std::vector<std::shared_ptr<Pool>> done;
    {
      const std::unique_lock totals(totals_mutex_);
      done = unrouted_.take_drained([&](const Pool& pool) { counters_.absorb(pool.stats()); });
    }
    for (auto& pool : done) pool->close();
  }

  // f(pool, current) over every pool the manager tracks: current, draining,
  // and closed with close_pool() but still draining.
  template <class F>
  void for_each_pool(F&& f) const {
    registry_.for_each_pool(
        [&](const std::shared_ptr<Pool>& pool, bool current) { f(*pool, current); });
    unrouted_.for_each_retired([&](const std::shared_ptr<Pool>& pool) { f(*pool, false); });
  }

  // The pool budget's evictor: drops the least recently used pool that no
  // request holds (its idle connections close with it).
  bool evict_lru_idle_pool() {
    const std::string victim_key = detail::lru_unheld_pool_key(registry_);
    if (victim_key.empty()) return false;
    std::shared_ptr<Pool> victim;
    {
      const std::unique_lock totals(totals_mutex_);
      Shard& shard = registry_.shard_for(victim_key);
      std::unique_lock lock(shard.mutex);
      auto it = shard.entries.find(victim_key);
      // Re-check: a request may have picked it up since the scan.
      if (it == shard.entries.end() || !it->second.draining.empty() ||
          it->second.current.use_count() != 1) {
        return false;
      }
      victim = std::move(it->second.current);
      shard.entries.erase(it);
      counters_.absorb(victim->stats());  // nobody holds it: its counts are final
    }
    pool_count_.fetch_sub(1, std::memory_order_relaxed);
    detail::ManagerCounters::add(counters_.pool_evictions);
    tell(victim->options().name, PoolLifecycle::evicted);
    victim->close();
    victim.reset();
    release_pool_permit();  // hands the permit to the longest waiter
    return true;
  }

  Options options_;
  Driver driver_;
  std::shared_ptr<detail::Budget> connection_budget_;
  std::shared_ptr<detail::Budget> pool_budget_;
  Registry registry_;
  std::atomic<std::size_t> pool_count_{0};

  // Lock order: totals_mutex_, a shard's mutex, unrouted_'s, a pool's.
  mutable std::shared_mutex totals_mutex_;
  detail::UnroutedPools<Pool> unrouted_;
  detail::ManagerCounters counters_;

  std::atomic<bool> closed_{false};
  std::optional<detail::PeriodicTask> sweeper_;  // last: started once everything above exists
};

}  // namespace pgobo
