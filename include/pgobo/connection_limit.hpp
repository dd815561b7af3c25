// pgobo/connection_limit.hpp — one connection limit shared by every replica
// of a service, kept by the replicas themselves at the server (no other
// server): the automatic connection limit.
//
// Off by default. On (RoutingConfig::connection_limit.automatic, or
// PGOBO_CONNECTION_LIMIT=auto), each RoutingPool heartbeats every `interval`
// into a small table (`table`, created once by an operator:
// docs/operations.md, "One limit for many replicas") through its service
// pool, reads max_connections and the reserved slots, and sets its user
// pools' max_total_connections to its share of what is left after `reserve`,
// divided by the live replicas. A replica not seen for dead_replica_timeout
// stops counting, and the others grow into its share.
//
//   // given: pgobo::RoutingConfig config
//   config.connection_limit.automatic = true;
//   config.connection_limit.reserve = 10;                           // psql, migrations…
//   config.connection_limit.interval = std::chrono::seconds(5);
//   auto router = pgobo::RoutingPool::create(std::move(config));
//   const pgobo::ConnectionLimitStats limit = router->stats().connection_limit;
//   // limit.share: what this replica may hold now (service pool + user pools)
//
// RoutingPool wires it; ConnectionLimitCoordinator is the part that decides
// and applies, over a ReplicaDirectory (the table; a fake one in tests). The
// arithmetic is in detail/connection_share.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pgobo/detail/connection_share.hpp"
#include "pgobo/detail/periodic_task.hpp"
#include "pgobo/observer.hpp"

namespace pgobo {

struct ConnectionLimitOptions {
  // PGOBO_CONNECTION_LIMIT=auto (off: "off" or unset). A fixed limit stays
  // max_total_connections, which under "auto" caps the user pools' share.
  bool automatic = false;
  // Connections left for everything but the replicas (psql, migrations,
  // monitoring, a replica starting up: docs/operations.md).
  std::size_t reserve = 5;
  // How often a replica heartbeats and recomputes its share.
  std::chrono::milliseconds interval{5'000};
  // A replica not seen for this long stops counting: at least 2 intervals.
  std::chrono::milliseconds dead_replica_timeout{20'000};
  // The heartbeat table: "name" or "schema.name", letters, digits and _.
  std::string table = "pgobo_replicas";

  // Throws ConfigError naming what to fix (also when not automatic: a bad
  // value is a mistake either way).
  void validate() const;
  // "name" or "schema.name", each part an unquoted identifier.
  [[nodiscard]] static bool is_table_name(std::string_view table) noexcept;
};

// Where the share stands (RoutingStats::connection_limit).
struct ConnectionLimitStats {
  bool automatic = false;
  std::size_t share = 0;       // connections this replica may hold: service pool + user pools
  std::size_t user_limit = 0;  // of which the user pools (their max_total_connections)
  std::size_t replicas = 0;    // live replicas at the last heartbeat, this one included
  std::size_t capacity = 0;    // what they divide: max_connections - reserved slots - reserve
  std::uint64_t heartbeats = 0;
  std::uint64_t heartbeat_errors = 0;
  std::uint64_t changes = 0;  // times user_limit moved
};
void to_json(nlohmann::json& out, const ConnectionLimitStats& stats);

// The replicas' shared record at the server. One implementation over the
// service pool and a table (pqxx_replica_directory.hpp); tests use a fake.
class ReplicaDirectory {
 public:
  struct View {
    detail::ServerLimits server;
    std::size_t others = 0;          // other live replicas
    std::size_t others_claimed = 0;  // the sum of their claims
  };
  using Decide = std::function<std::size_t(const View&)>;

  virtual ~ReplicaDirectory() = default;

  // One heartbeat, excluding every other replica's until it ends: forgets
  // replicas not seen for dead_replica_timeout, reads the server's limits
  // and the others' claims, asks `decide` for this replica's claim and
  // records it as seen now. Throws on failure (nothing is recorded then).
  virtual void heartbeat(const Decide& decide) = 0;
  // This replica leaves (a clean shutdown): the others grow at their next
  // heartbeat instead of after the timeout. Best effort.
  virtual void leave() noexcept = 0;
};

// Decides this replica's share at each heartbeat and applies it to the user
// pools' limit. Lowering happens inside the heartbeat (before the claim is
// published, so the claim covers what may still be opened); raising after it
// committed. A replica whose heartbeats have failed for dead_replica_timeout
// drops its user pools to 0: the others no longer count it and may have
// taken its share.
class ConnectionLimitCoordinator {
 public:
  // The user pools' limit (PoolManager::set_max_total_connections) and what
  // they hold under it (PoolManagerStats::budget_in_use).
  struct Target {
    std::function<void(std::size_t)> set_limit;
    std::function<std::size_t()> in_use;
  };

  // `service_pool_size`: the service pool's max_size, always claimed.
  // `cap`: max_total_connections given as well, an upper bound; 0 = none.
  // The user pools start at 0 until the first heartbeat. No thread until
  // start(). Throws ConfigError (options.validate()).
  ConnectionLimitCoordinator(ConnectionLimitOptions options, std::size_t service_pool_size,
                             std::size_t cap, std::unique_ptr<ReplicaDirectory> directory,
                             Target target, std::shared_ptr<PoolObserver> observer = nullptr);
  ConnectionLimitCoordinator(const ConnectionLimitCoordinator&) = delete;
  ConnectionLimitCoordinator& operator=(const ConnectionLimitCoordinator&) = delete;
  ~ConnectionLimitCoordinator() { stop(); }

  // One heartbeat and its consequence (what the thread runs). Never throws:
  // a failure is counted and logged, and the share stays, unless heartbeats
  // have failed for dead_replica_timeout (then the user pools get 0).
  void heartbeat() noexcept;
  // A thread: a heartbeat now, then one every interval.
  void start();
  // Stops the thread and leaves the directory. Idempotent.
  void stop() noexcept;

  [[nodiscard]] ConnectionLimitStats stats() const;
  [[nodiscard]] const ConnectionLimitOptions& options() const noexcept { return options_; }

 private:
  using SteadyClock = std::chrono::steady_clock;

  // Records a new share and, if the user limit moved, applies it and tells
  // the observers (outside mutex_).
  void apply(const detail::Share& share, const char* why) noexcept;
  // A heartbeat failed: counted, logged, and past dead_replica_timeout
  // without success the user pools get 0.
  void failed(const char* what) noexcept;
  [[nodiscard]] std::size_t current_user_limit() const;

  const ConnectionLimitOptions options_;
  const std::size_t service_pool_size_;
  const std::size_t cap_;
  std::unique_ptr<ReplicaDirectory> directory_;
  Target target_;
  std::shared_ptr<PoolObserver> observer_;

  std::mutex run_mutex_;  // one heartbeat at a time; guards last_success_, stopped_
  SteadyClock::time_point last_success_;
  bool stopped_ = false;
  mutable std::mutex mutex_;  // guards stats_ (never held over I/O)
  ConnectionLimitStats stats_;
  std::optional<detail::PeriodicTask> thread_;  // last: started once everything above exists
};

}  // namespace pgobo
