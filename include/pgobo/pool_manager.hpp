// pgobo/pool_manager.hpp — one small pool per user, rebuilt on a new token,
// swept when idle, all under one connection budget.
//
// PostgreSQL authenticates a connection once, when it opens, so a user's
// connections can only ever serve that user: each user key (email, else user
// id) gets its own pool. RoutingPool uses a PoolManager; use one directly when
// you route by hand:
//
//   pgobo::PoolManager::Options options;
//   options.user_pool.connection = service_params;        // host, db, sslmode…
//   options.credentials_for = [](const pgobo::UserContext& user) {
//     return config.make_user_credentials(user.access_token());
//   };
//   options.max_total_connections = 40;
//   pgobo::PoolManager manager(std::move(options));
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
//   pools nobody uses, every sweep_interval; it stops at once on close_all().
// - max_total_connections and max_pools bound the user pools together; at the
//   bound the least recently used idle connection or pool makes room, else
//   the request waits first come first served until its acquire deadline.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pgobo/connection_budget.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/log.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/stats.hpp"

namespace pgobo {

// Totals over every user pool, plus the manager's own counters. Contains no
// user key: safe to export as metrics without per-user series.
struct PoolManagerStats {
  std::size_t pools = 0;           // live user pools (current ones)
  std::size_t draining_pools = 0;  // replaced pools still finishing their work
  std::size_t connections = 0;     // open or opening, over all user pools
  std::size_t idle = 0;
  std::size_t leased = 0;
  std::size_t waiting = 0;                // connect() calls queued in user pools
  std::size_t budget_waiting = 0;         // waiting for a slot under max_total_connections
  std::size_t pool_budget_waiting = 0;    // waiting for room for a new pool under max_pools
  std::size_t max_total_connections = 0;  // 0 = no limit
  std::size_t max_pools = 0;              // 0 = no limit

  std::uint64_t pools_created = 0;
  std::uint64_t rebuilds = 0;              // pools replaced because of a new token
  std::uint64_t pools_removed = 0;         // dropped by the sweeper or for max_pools
  std::uint64_t connection_evictions = 0;  // idle connections closed to make room
  std::uint64_t pool_evictions = 0;        // idle pools closed to make room
  std::uint64_t budget_timeouts = 0;       // acquires that hit the global limit's deadline
  std::uint64_t pool_budget_timeouts = 0;  // new pools refused at max_pools at the deadline
  std::uint64_t sweeps = 0;
  std::uint64_t connections_created = 0;  // summed over live pools
  std::uint64_t acquired = 0;             // summed over live pools
  std::uint64_t timeouts = 0;             // summed over live pools
  std::uint64_t connect_errors = 0;       // summed over live pools
};

void to_json(nlohmann::json& out, const PoolManagerStats& stats);

template <PoolDriver Driver, class Clock = std::chrono::steady_clock>
class BasicPoolManager {
 public:
  using Pool = BasicPool<Driver, Clock>;
  using Connection = typename Driver::Connection;

  struct Options {
    // The template of every user pool. connection.user is replaced by
    // role_for(user), name by "user:<key>", credentials by credentials_for(user)
    // and budget by the manager's max_total_connections budget.
    // Defaults of the reference: 3 connections, 30 s idle.
    PoolOptions user_pool = default_user_pool();
    // The PostgreSQL role a user logs in as. Null: the key (email, else user id).
    std::function<std::string(const UserContext&)> role_for;
    // The password source of a user's pool, called once per pool (required).
    // Called, like role_for, while the user's shard (1/64 of the users) is
    // locked for the new pool: build the provider and return; fetch nothing
    // here (providers fetch when a connection opens, outside any lock).
    std::function<std::shared_ptr<CredentialProvider>(const UserContext&)> credentials_for;
    // Connections of all user pools together; 0 = no limit.
    std::size_t max_total_connections = 0;
    // User pools at once; 0 = no limit.
    std::size_t max_pools = 0;
    // How often the sweeper runs; 0 = no sweeper thread (call sweep() yourself).
    std::chrono::milliseconds sweep_interval{5'000};
    // Older token fingerprints remembered per key: a request carrying one of
    // them uses the current pool instead of rebuilding it.
    std::size_t remembered_fingerprints = 4;

    static PoolOptions default_user_pool() {
      PoolOptions p;
      p.max_size = 3;
      p.idle_timeout = std::chrono::seconds{30};
      return p;
    }
  };

  explicit BasicPoolManager(Options options, Driver driver = Driver{})
      : options_(std::move(options)), driver_(std::move(driver)) {
    if (!options_.credentials_for) {
      throw ConfigError(
          "PoolManager: credentials_for is required (how a user's pool gets its password)");
    }
    options_.user_pool.validate();
    if (options_.max_total_connections > 0) {
      if (options_.max_total_connections < options_.user_pool.max_size) {
        throw ConfigError("PoolManager: max_total_connections (" +
                          std::to_string(options_.max_total_connections) +
                          ") must be at least the user pool's max_size (" +
                          std::to_string(options_.user_pool.max_size) + ")");
      }
      connection_budget_ = std::make_shared<ConnectionBudget>(options_.max_total_connections);
      connection_budget_->set_evictor([this] { return evict_lru_idle_connection(); });
    }
    if (options_.max_pools > 0) {
      pool_budget_ = std::make_shared<ConnectionBudget>(options_.max_pools);
      pool_budget_->set_evictor([this] { return evict_lru_idle_pool(); });
    }
    if (options_.sweep_interval.count() > 0) {
      sweeper_ = std::thread([this] { sweeper_loop(); });
    }
  }

  BasicPoolManager(const BasicPoolManager&) = delete;
  BasicPoolManager& operator=(const BasicPoolManager&) = delete;

  ~BasicPoolManager() { close_all(); }

  // The user's pool: found by key in a shard under a shared lock (no
  // allocation), created on first use, replaced on a never-seen token.
  // Throws PoolClosed after close_all(), AcquireTimeout when max_pools is
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
  [[nodiscard]] typename Pool::Lease connect(const UserContext& user) {
    std::optional<SteadyTime> deadline;  // set once the request has waited
    for (int attempt = 1;; ++attempt) {
      std::shared_ptr<Pool> pool = get_pool(user, deadline);
      try {
        typename Pool::Lease lease = deadline ? pool->connect(*deadline) : pool->connect();
        if (pool_budget_) {
          // Under max_pools, this lease coming back may make its pool
          // evictable: tell a request waiting for room to look again.
          lease.keep_alive(std::make_shared<const PoolHold>(std::move(pool), pool_budget_));
        } else {
          lease.keep_alive(std::move(pool));
        }
        return lease;
      } catch (const PoolClosed&) {
        // Still the current pool: it was ended (close_all), not replaced.
        const bool ended = find_pool(user.key()) == pool;
        drop_reference(pool);
        if (attempt == kReplacedPoolRetries || ended) throw;
      } catch (...) {
        drop_reference(pool);
        throw;
      }
    }
  }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // Lets go of a pool this request held; under max_pools that may make it
  // evictable, which nothing else would tell a request waiting for room.
  void drop_reference(std::shared_ptr<Pool>& pool) noexcept {
    pool.reset();
    if (pool_budget_) pool_budget_->retry_eviction();
  }

  // What a lease keeps alive when max_pools is set: its pool, and on release
  // a nudge to the pool budget (a pool is evictable only once no lease holds
  // it, and nothing else would wake a request waiting for that).
  struct PoolHold {
    PoolHold(std::shared_ptr<Pool> p, std::shared_ptr<ConnectionBudget> b)
        : pool(std::move(p)), budget(std::move(b)) {}
    PoolHold(const PoolHold&) = delete;
    PoolHold& operator=(const PoolHold&) = delete;
    ~PoolHold() {
      pool.reset();  // before the nudge: the evictor must see it gone
      budget->retry_eviction();
    }
    std::shared_ptr<Pool> pool;
    std::shared_ptr<ConnectionBudget> budget;
  };

  // get_pool(); a wait for room under max_pools ends at `deadline`, which is
  // set (now + acquire_timeout) if it was not, so the caller's connect can
  // end at the same time.
  [[nodiscard]] std::shared_ptr<Pool> get_pool(const UserContext& user,
                                               std::optional<SteadyTime>& deadline) {
    const std::string& key = user.key();
    const std::string& fingerprint = user.token_fingerprint();
    Shard& shard = shard_for(key);
    {
      std::shared_lock lock(shard.mutex);
      if (auto it = shard.entries.find(key); it != shard.entries.end()) {
        Entry& entry = it->second;
        if (entry.built_for(user)) {
          if (entry.fingerprint == fingerprint) return entry.current;
          if (entry.knows(fingerprint) && !entry.current->login_failing()) return entry.current;
        }
      }
    }
    return create_or_replace(user, shard, deadline);
  }

 public:
  // The key's current pool, or null; never creates one.
  [[nodiscard]] std::shared_ptr<Pool> find_pool(std::string_view key) const {
    const Shard& shard = shard_for(key);
    std::shared_lock lock(shard.mutex);
    auto it = shard.entries.find(key);
    return it == shard.entries.end() ? nullptr : it->second.current;
  }

  [[nodiscard]] bool has_pool(std::string_view key) const {
    const Shard& shard = shard_for(key);
    std::shared_lock lock(shard.mutex);
    return shard.entries.find(key) != shard.entries.end();
  }

  // Drains the key's pool: its leases finish and its waiters are served, new
  // requests for the key get a fresh pool. The sweeper closes it when done.
  void close_pool(std::string_view key) {
    Shard& shard = shard_for(key);
    std::shared_ptr<Pool> drained;
    {
      // The pools move from the shard to retired_ in one step that stats()
      // cannot see halfway (it would miss their counters).
      const std::unique_lock totals(totals_mutex_);
      std::unique_lock lock(shard.mutex);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end()) return;
      drained = it->second.current;
      for (auto& old : it->second.draining) retire(std::move(old));
      retire(std::move(it->second.current));
      shard.entries.erase(it);
    }
    pool_count_.fetch_sub(1, std::memory_order_relaxed);
    release_pool_slot();
    drained->begin_drain();
  }

  // Stops the sweeper, then ends every pool (waiters get PoolClosed, leases
  // are awaited up to each pool's end_timeout). Idempotent; later get_pool()
  // calls throw PoolClosed.
  void close_all() {
    {
      std::lock_guard lock(sweeper_mutex_);
      if (closed_) return;
      closed_ = true;
    }
    sweeper_wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
    if (connection_budget_) connection_budget_->close();
    if (pool_budget_) pool_budget_->close();
    std::vector<std::shared_ptr<Pool>> all;
    {
      const std::unique_lock totals(totals_mutex_);
      for (Shard& shard : shards_) {
        std::unique_lock lock(shard.mutex);
        for (auto& [key, entry] : shard.entries) {
          all.push_back(std::move(entry.current));
          for (auto& old : entry.draining) all.push_back(std::move(old));
        }
        shard.entries.clear();
      }
      {
        std::lock_guard lock(retired_mutex_);
        for (auto& old : retired_) all.push_back(std::move(old));
        retired_.clear();
      }
      // Closed is not reset: stats() after close_all() keeps every count.
      // (A login in flight now that still completes is not counted.)
      for (auto& pool : all) absorb_counters(*pool);
    }
    for (auto& pool : all) pool->end();
    pool_count_.store(0);
  }

  // Number of users with a pool.
  [[nodiscard]] std::size_t size() const noexcept { return pool_count_.load(); }

  // One pass of what the sweeper does: reap every pool (idle and old
  // connections, min_idle), drop pools nobody holds that have nothing left,
  // and close replaced pools that finished draining.
  void sweep() {
    std::vector<std::shared_ptr<Pool>> pools;
    for (Shard& shard : shards_) {
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
      std::size_t removed = 0;
      {
        // Unlinked and absorbed in one step: a stats() call never sees a
        // pool's counters missing, or twice.
        const std::unique_lock totals(totals_mutex_);
        std::unique_lock lock(shard.mutex);
        for (auto it = shard.entries.begin(); it != shard.entries.end();) {
          Entry& entry = it->second;
          std::erase_if(entry.draining, [&](std::shared_ptr<Pool>& old) {
            if (!old->is_drained()) return false;
            pools.push_back(std::move(old));
            return true;
          });
          // The map's reference is the only one: no request is using the
          // pool (requests hold a reference while they do), and it is empty.
          if (entry.draining.empty() && entry.current.use_count() == 1 &&
              entry.current->is_idle_and_empty()) {
            pools.push_back(std::move(entry.current));
            it = shard.entries.erase(it);
            ++removed;
          } else {
            ++it;
          }
        }
        for (auto& pool : pools) absorb_counters(*pool);
      }
      pool_count_.fetch_sub(removed, std::memory_order_relaxed);
      for (std::size_t i = 0; i < removed; ++i) release_pool_slot();
      pools_removed_.fetch_add(removed, std::memory_order_relaxed);
      for (auto& pool : pools) pool->end();  // nothing left: returns at once
    }
    sweep_retired();
    for (auto& extra : also_reap_snapshot()) extra->reap();
    sweeps_.fetch_add(1, std::memory_order_relaxed);
  }

  // Have the sweeper also reap a pool the manager does not own (RoutingPool's
  // service-principal pool). Held weakly.
  void reap_also(std::weak_ptr<Pool> pool) {
    std::lock_guard lock(retired_mutex_);
    also_reap_.push_back(std::move(pool));
  }

  [[nodiscard]] PoolManagerStats stats() const {
    // Shared: against a pool leaving the manager, whose counters move into
    // the dropped_ totals under the exclusive lock.
    const std::shared_lock totals(totals_mutex_);
    PoolManagerStats s;
    s.max_total_connections = options_.max_total_connections;
    s.max_pools = options_.max_pools;
    for_each_pool([&](const Pool& pool, bool current) {
      const PoolStats p = pool.stats();
      (current ? s.pools : s.draining_pools) += 1;
      s.connections += p.total;
      s.idle += p.idle;
      s.leased += p.leased;
      s.waiting += p.waiting;
      s.connections_created += p.created;
      s.acquired += p.acquired;
      s.timeouts += p.timeouts;
      s.connect_errors += p.connect_errors;
    });
    s.connections_created += dropped_created_.load(std::memory_order_relaxed);
    s.acquired += dropped_acquired_.load(std::memory_order_relaxed);
    s.timeouts += dropped_timeouts_.load(std::memory_order_relaxed);
    s.connect_errors += dropped_connect_errors_.load(std::memory_order_relaxed);
    s.pools_created = pools_created_.load(std::memory_order_relaxed);
    s.rebuilds = rebuilds_.load(std::memory_order_relaxed);
    s.pools_removed = pools_removed_.load(std::memory_order_relaxed);
    s.pool_evictions = pool_evictions_.load(std::memory_order_relaxed);
    s.sweeps = sweeps_.load(std::memory_order_relaxed);
    if (connection_budget_) {
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

 private:
  struct Entry {
    std::shared_ptr<Pool> current;
    // Whom the pools of this key were built for. role_for and credentials_for
    // see the whole context, so a context that shares only the key (one
    // user's email is another's user id) must not use them.
    std::string user_id;
    std::string email;
    std::string fingerprint;                      // of current's token
    std::vector<std::string> older_fingerprints;  // most recent last
    std::vector<std::shared_ptr<Pool>> draining;  // replaced, finishing their work

    [[nodiscard]] bool built_for(const UserContext& user) const noexcept {
      return user.user_id() == user_id && user.email() == email;
    }
    [[nodiscard]] bool knows(const std::string& fp) const noexcept {
      return std::find(older_fingerprints.begin(), older_fingerprints.end(), fp) !=
             older_fingerprints.end();
    }
  };

  // Heterogeneous lookup: find(std::string_view) allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  // Sharded so that lookups of different users rarely touch the same lock,
  // and a rebuild or sweep of one shard never blocks the others.
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries;
  };
  static constexpr std::size_t kShards = 64;
  // Each retry of connect() follows a replacement that happened during the
  // previous attempt's few instructions: more than a couple in a row means
  // something else is wrong.
  static constexpr int kReplacedPoolRetries = 4;

  [[nodiscard]] Shard& shard_for(std::string_view key) noexcept {
    return shards_[KeyHash{}(key) % kShards];
  }
  [[nodiscard]] const Shard& shard_for(std::string_view key) const noexcept {
    return shards_[KeyHash{}(key) % kShards];
  }

  std::shared_ptr<Pool> create_or_replace(const UserContext& user, Shard& shard,
                                          std::optional<SteadyTime>& deadline) {
    const std::string& key = user.key();
    const std::string& fingerprint = user.token_fingerprint();
    bool holding_pool_slot = false;
    for (;;) {
      std::unique_lock lock(shard.mutex);
      // Under the shard's lock: close_all() marks the manager closed before it
      // empties the shards, so a pool added here is either refused or ended
      // by it, never left open behind it.
      throw_if_closed();
      auto it = shard.entries.find(key);
      if (it != shard.entries.end()) {
        if (holding_pool_slot) {  // someone else created it meanwhile
          holding_pool_slot = false;
          lock.unlock();
          release_pool_slot();
          lock.lock();
          continue;
        }
        Entry& entry = it->second;
        if (!entry.built_for(user)) throw_identity_conflict(entry, user);
        if (entry.fingerprint == fingerprint) return entry.current;
        // An older token normally keeps using the current pool. But if the
        // current pool's token cannot log in (a bad or revoked token arrived
        // last), a working older one must not be locked out behind it: it
        // replaces the failing pool.
        if (entry.knows(fingerprint) && !entry.current->login_failing()) return entry.current;
        // A token never seen for this user (or a known one replacing a pool
        // whose login fails): replace the pool once.
        std::erase(entry.older_fingerprints, fingerprint);
        auto fresh = make_pool(user);
        auto old = std::exchange(entry.current, fresh);
        entry.older_fingerprints.push_back(std::exchange(entry.fingerprint, fingerprint));
        if (entry.older_fingerprints.size() > options_.remembered_fingerprints) {
          entry.older_fingerprints.erase(entry.older_fingerprints.begin());
        }
        old->begin_drain();
        entry.draining.push_back(std::move(old));
        rebuilds_.fetch_add(1, std::memory_order_relaxed);
        logger()->info("user pool '{}': a new token arrived; pool rebuilt, the old one drains",
                       fresh->options().name);
        return fresh;
      }
      if (pool_budget_ && !holding_pool_slot) {
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
        holding_pool_slot = true;
        continue;
      }
      Entry entry;
      try {
        entry.current = make_pool(user);  // role_for, credentials_for, validate() may throw
      } catch (...) {
        if (holding_pool_slot) {
          lock.unlock();
          release_pool_slot();  // else each failure would shrink max_pools for good
        }
        throw;
      }
      entry.fingerprint = fingerprint;
      entry.user_id = user.user_id();
      entry.email = user.email();
      auto pool = entry.current;
      shard.entries.emplace(key, std::move(entry));
      pool_count_.fetch_add(1, std::memory_order_relaxed);
      pools_created_.fetch_add(1, std::memory_order_relaxed);
      return pool;
    }
  }

  std::shared_ptr<Pool> make_pool(const UserContext& user) {
    PoolOptions p = options_.user_pool;
    p.name = "user:" + user.key();
    p.connection.user = options_.role_for ? options_.role_for(user) : user.key();
    p.credentials = options_.credentials_for(user);
    p.budget = connection_budget_;
    return std::make_shared<Pool>(std::move(p), driver_);
  }

  [[noreturn]] static void throw_identity_conflict(const Entry& entry, const UserContext& user) {
    // Which field differs, never a value: both came from request headers.
    const char* differs = entry.user_id != user.user_id()
                              ? (entry.email != user.email() ? "user id and email" : "user id")
                              : "email";
    throw IdentityConflict(
        "PoolManager: this request's user key (its " +
        std::string(user.email().empty() ? "user id" : "email") +
        ") already names the pool of another identity (the " + differs +
        " differ), which logs in with that identity's role and credentials; refusing to lend "
        "it. Emails and user ids of different users must not coincide: check the proxy or "
        "identity source");
  }

  void throw_if_closed() const {
    std::lock_guard lock(sweeper_mutex_);
    if (closed_) throw PoolClosed("PoolManager is closed (close_all() or end() was called)");
  }

  void release_pool_slot() {
    if (pool_budget_) pool_budget_->release();
  }

  // A replaced pool nobody tracks any more: keep it until it has drained so
  // its connections are closed by the sweeper, not by whoever drops it last.
  void retire(std::shared_ptr<Pool> pool) {
    std::lock_guard lock(retired_mutex_);
    retired_.push_back(std::move(pool));
  }

  void sweep_retired() {
    std::vector<std::shared_ptr<Pool>> done;
    std::vector<std::shared_ptr<Pool>> pending;
    {
      std::lock_guard lock(retired_mutex_);
      pending = retired_;
    }
    for (auto& pool : pending) pool->reap();
    {
      const std::unique_lock totals(totals_mutex_);
      std::lock_guard lock(retired_mutex_);
      std::erase_if(retired_, [&](std::shared_ptr<Pool>& pool) {
        if (!pool->is_drained()) return false;
        absorb_counters(*pool);
        done.push_back(std::move(pool));
        return true;
      });
    }
    for (auto& pool : done) pool->end();
  }

  // A pool the manager stops tracking hands its counters to the manager, so
  // stats() counters never go down (Prometheus would read a reset). Called
  // with totals_mutex_ held exclusively, in the same step that unlinks it.
  void absorb_counters(const Pool& pool) {
    const PoolStats p = pool.stats();
    dropped_created_.fetch_add(p.created, std::memory_order_relaxed);
    dropped_acquired_.fetch_add(p.acquired, std::memory_order_relaxed);
    dropped_timeouts_.fetch_add(p.timeouts, std::memory_order_relaxed);
    dropped_connect_errors_.fetch_add(p.connect_errors, std::memory_order_relaxed);
  }

  std::vector<std::shared_ptr<Pool>> also_reap_snapshot() {
    std::vector<std::shared_ptr<Pool>> out;
    std::lock_guard lock(retired_mutex_);
    std::erase_if(also_reap_, [](const std::weak_ptr<Pool>& w) { return w.expired(); });
    for (auto& w : also_reap_) {
      if (auto p = w.lock()) out.push_back(std::move(p));
    }
    return out;
  }

  template <class F>
  void for_each_pool(F&& f) const {
    for (const Shard& shard : shards_) {
      std::shared_lock lock(shard.mutex);
      for (const auto& [key, entry] : shard.entries) {
        f(*entry.current, true);
        for (const auto& old : entry.draining) f(*old, false);
      }
    }
    std::lock_guard lock(retired_mutex_);  // closed with close_pool(), still draining
    for (const auto& old : retired_) f(*old, false);
  }

  // The connection budget's evictor: closes the idle connection of the user
  // pool used least recently. A linear scan, run only at the limit.
  bool evict_lru_idle_connection() {
    // The victim's idle connection may be lent between the scan and the
    // close; then look again rather than report "nothing idle", which would
    // leave the budget's waiter waiting for a release that may not come.
    constexpr int kAttempts = 8;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      std::shared_ptr<Pool> victim;
      typename Clock::time_point oldest = Clock::time_point::max();
      for (Shard& shard : shards_) {
        std::shared_lock lock(shard.mutex);
        for (auto& [key, entry] : shard.entries) {
          consider_victim(entry.current, oldest, victim);
          for (auto& old : entry.draining) consider_victim(old, oldest, victim);
        }
      }
      if (!victim) return false;
      if (victim->close_one_idle()) return true;
    }
    return false;
  }

  static void consider_victim(const std::shared_ptr<Pool>& pool, typename Clock::time_point& oldest,
                              std::shared_ptr<Pool>& victim) {
    if (pool->idle_count() == 0) return;
    const auto used = pool->last_used();
    if (used < oldest) {
      oldest = used;
      victim = pool;
    }
  }

  // The pool budget's evictor: drops the least recently used pool that no
  // request holds (its idle connections close with it).
  bool evict_lru_idle_pool() {
    std::string victim_key;
    typename Clock::time_point oldest = Clock::time_point::max();
    for (Shard& shard : shards_) {
      std::shared_lock lock(shard.mutex);
      for (auto& [key, entry] : shard.entries) {
        if (!entry.draining.empty() || entry.current.use_count() != 1) continue;
        const auto used = entry.current->last_used();
        if (used < oldest) {
          oldest = used;
          victim_key = key;
        }
      }
    }
    if (victim_key.empty()) return false;
    std::shared_ptr<Pool> victim;
    {
      const std::unique_lock totals(totals_mutex_);
      Shard& shard = shard_for(victim_key);
      std::unique_lock lock(shard.mutex);
      auto it = shard.entries.find(victim_key);
      // Re-check: a request may have picked it up since the scan.
      if (it == shard.entries.end() || !it->second.draining.empty() ||
          it->second.current.use_count() != 1) {
        return false;
      }
      victim = std::move(it->second.current);
      shard.entries.erase(it);
      absorb_counters(*victim);  // nobody holds it: its counts are final
    }
    pool_count_.fetch_sub(1, std::memory_order_relaxed);
    pool_evictions_.fetch_add(1, std::memory_order_relaxed);
    victim->end();
    victim.reset();
    release_pool_slot();  // hands the slot to the head waiter
    return true;
  }

  void sweeper_loop() {
    std::unique_lock lock(sweeper_mutex_);
    while (!closed_) {
      if (sweeper_wake_.wait_for(lock, options_.sweep_interval, [this] { return closed_; })) break;
      lock.unlock();
      try {
        sweep();
      } catch (const std::exception& e) {
        logger()->warn("PoolManager: sweep failed: {}", e.what());
      }
      lock.lock();
    }
  }

  Options options_;
  Driver driver_;
  std::shared_ptr<ConnectionBudget> connection_budget_;
  std::shared_ptr<ConnectionBudget> pool_budget_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> pool_count_{0};

  // Lock order: totals_mutex_, a shard's mutex, retired_mutex_, a pool's.
  mutable std::shared_mutex totals_mutex_;
  mutable std::mutex retired_mutex_;
  std::vector<std::shared_ptr<Pool>> retired_;
  std::vector<std::weak_ptr<Pool>> also_reap_;

  std::atomic<std::uint64_t> pools_created_{0};
  std::atomic<std::uint64_t> rebuilds_{0};
  std::atomic<std::uint64_t> pools_removed_{0};
  std::atomic<std::uint64_t> pool_evictions_{0};
  std::atomic<std::uint64_t> sweeps_{0};
  // Counters of pools no longer tracked (swept, evicted, drained).
  std::atomic<std::uint64_t> dropped_created_{0};
  std::atomic<std::uint64_t> dropped_acquired_{0};
  std::atomic<std::uint64_t> dropped_timeouts_{0};
  std::atomic<std::uint64_t> dropped_connect_errors_{0};

  mutable std::mutex sweeper_mutex_;
  std::condition_variable sweeper_wake_;
  bool closed_ = false;
  std::thread sweeper_;  // last: started once everything above exists
};

using PoolManager = BasicPoolManager<PqxxDriver>;

}  // namespace pgobo
