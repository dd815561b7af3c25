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
  // A replica not seen for this long stops counting: at least 3 intervals.
  // A replica fences itself (user pools to 0) once its last successful
  // heartbeat began dead_replica_timeout - interval ago, so it must be
  // allowed at least one late heartbeat before that.
  std::chrono::milliseconds dead_replica_timeout{20'000};
  // The heartbeat table: "name" or "schema.name", lower-case letters,
  // digits and _ (an upper-case name is refused: the server folds an
  // unquoted CREATE TABLE Ops.Replicas to ops.replicas, which is what the
  // replicas must find).
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
  // Heartbeats whose fair share (capacity / replicas) was below the service
  // pool's size, not a newcomer's transient 0: the service
  // pool alone may hold more than this replica's share (the reserve absorbs
  // it) and the user pools get 0. Fewer replicas, a smaller PGOBO_MAX_SIZE
  // or a larger max_connections fixes it (docs/operations.md).
  std::uint64_t share_below_service_pool = 0;
  // Times this replica fenced itself (user pools to 0) because its last
  // successful heartbeat began too long ago (dead_replica_timeout - interval).
  std::uint64_t fenced = 0;
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
  // heartbeat instead of after the timeout. Best effort, and bounded (about
  // one interval): it runs while a service shuts down.
  virtual void leave() noexcept = 0;
};

// Decides this replica's share at each heartbeat and applies it to the user
// pools' limit. Lowering happens inside the heartbeat (before the claim is
// published, so the claim covers what may still be opened); raising after it
// committed. Observers and logs hear of a change only after the heartbeat
// ended: the heartbeat holds the table's lock, and every other replica waits
// for it. A replica whose last successful heartbeat began
// dead_replica_timeout - interval ago fences itself (user pools to 0): the
// others may stop counting it by the time the timeout has passed. That is
// checked before every heartbeat and by a watchdog thread, so a heartbeat
// stuck in I/O does not keep the share either.
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
  // `clock`: steady_clock::now unless given (tests).
  ConnectionLimitCoordinator(ConnectionLimitOptions options, std::size_t service_pool_size,
                             std::size_t cap, std::unique_ptr<ReplicaDirectory> directory,
                             Target target, std::shared_ptr<PoolObserver> observer = nullptr,
                             std::function<std::chrono::steady_clock::time_point()> clock = {});
  ConnectionLimitCoordinator(const ConnectionLimitCoordinator&) = delete;
  ConnectionLimitCoordinator& operator=(const ConnectionLimitCoordinator&) = delete;
  ~ConnectionLimitCoordinator() { stop(); }

  // One heartbeat and its consequence (what the thread runs). Never throws:
  // a failure is counted and logged, and the share stays, unless the fence
  // is due (then the user pools get 0).
  void heartbeat() noexcept;
  // Fences this replica (user pools to 0) if its last successful heartbeat
  // began dead_replica_timeout - interval ago or earlier; true if fenced now
  // or already. What the watchdog thread runs; never waits for a heartbeat.
  bool fence_if_late() noexcept;
  // Threads: heartbeats (one now, then one every interval) and the watchdog
  // (fence_if_late every half interval).
  void start();
  // Stops both threads (a heartbeat in progress ends first: bounded by its
  // connect deadline and timeouts, about one interval each). The user
  // pools keep their limit. Idempotent.
  void stop_heartbeats() noexcept;
  // Stops the heartbeats and leaves the directory (once). Call it after the
  // user pools have closed: until then the claim must stay published.
  void leave() noexcept;
  // stop_heartbeats() and leave(). Idempotent.
  void stop() noexcept { leave(); }

  [[nodiscard]] ConnectionLimitStats stats() const;
  [[nodiscard]] const ConnectionLimitOptions& options() const noexcept { return options_; }

 private:
  using SteadyClock = std::chrono::steady_clock;

  using Event = std::optional<ConnectionLimitChanged>;

  // Records a new share and, if the user limit moved, applies it; returns
  // the change to tell (notify(), once no lock is held). Needs limit_mutex_.
  Event apply_locked(const detail::Share& share, const char* why) noexcept;
  // User pools to 0 (counted as fenced if they had more). Needs limit_mutex_.
  Event fence_locked() noexcept;
  // Tells the log and the observer of a change.
  void notify(const Event& event) noexcept;
  // Needs limit_mutex_.
  [[nodiscard]] bool fence_due_locked(SteadyClock::time_point now) const noexcept;
  // Warns when the share falls below the service pool's size (and says when
  // it is back). Needs run_mutex_.
  void warn_if_short(const detail::Share& share) noexcept;
  // A heartbeat failed: counted and logged; the fence is checked.
  void failed(const char* what) noexcept;
  [[nodiscard]] std::size_t current_user_limit() const;

  const ConnectionLimitOptions options_;
  const std::size_t service_pool_size_;
  const std::size_t cap_;
  std::unique_ptr<ReplicaDirectory> directory_;
  Target target_;
  std::shared_ptr<PoolObserver> observer_;

  std::function<SteadyClock::time_point()> clock_;

  std::mutex run_mutex_;  // one heartbeat at a time; guards stopped_, left_
  bool stopped_ = false;
  bool left_ = false;
  // Serializes changes of the user limit (the heartbeat's and the
  // watchdog's); guards last_success_start_. Never held over the
  // directory's I/O, except by a heartbeat lowering the limit in `decide`.
  std::mutex limit_mutex_;
  SteadyClock::time_point last_success_start_;  // when the last successful heartbeat began
  bool short_share_warned_ = false;             // guarded by run_mutex_
  mutable std::mutex mutex_;                    // guards stats_ (never held over I/O)
  ConnectionLimitStats stats_;
  // Last: started once everything above exists, stopped first.
  std::optional<detail::PeriodicTask> watchdog_;
  std::optional<detail::PeriodicTask> thread_;
};

}  // namespace pgobo
