// pgobo/observer.hpp — hooks for traces, metrics and logs: what a pool, a
// manager and a router do, as it happens.
//
//   struct SlowAcquires : pgobo::PoolObserver {
//     void on_acquire_ended(const pgobo::AcquireEnded& e) noexcept override {
//       if (e.wait > std::chrono::milliseconds{100}) ++slow;
//     }
//     std::atomic<int> slow{0};
//   };
//   void watch(pgobo::PoolOptions& options) {
//     options.observer = std::make_shared<SlowAcquires>();  // several: pgobo::ObserverList
//   }
//
// Every hook has an empty default, so an observer overrides only what it
// needs. Hooks are noexcept (a hook that threw would leave a pool's state
// half-changed), run on the thread doing the work, never under a pool's or
// the manager's lock (a hook may call stats()), and must be quick: the
// acquire, lease and query hooks sit on every request's path. Their
// arguments live only for the call: copy what you keep.
//
// What the hooks carry is enough to build OpenTelemetry database client spans
// and metrics (docs/operations.md, "Traces and hooks"). No credential pgobo
// handles reaches a hook: no password, token or client secret, and no
// statement parameter. A statement's text is passed as written, so a
// statement that embeds a secret in its text (ALTER ROLE … PASSWORD '…')
// carries it: bind secrets as parameters. A pool's name may name a user (a
// user pool is "user:<key>"): fine in a trace of that user's request, never
// as a metric label (a series per user).
//
// pgobo's own logging is an observer too (log_observer(), always attached
// to every pool), so what a pool logs and what a hook sees are the same
// events.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "pgobo/source_location.hpp"

#include "pgobo/connection_params.hpp"

namespace pgobo {

// Why a pool closed a connection.
enum class CloseReason {
  idle_timeout,       // idle longer than idle_timeout
  max_lifetime,       // older than max_lifetime (with jitter)
  broken,             // found closed or unusable on release, or closed by the server while idle
  rollback_failed,    // returned inside a transaction that would not roll back
  reset_failed,       // the session reset or reset_query failed on release
  validation_failed,  // failed the check before lending
  discarded,          // Lease::discard()
  evicted,            // closed to make room (max_total_connections, close_idle_connections())
  pool_ended,         // close(), or the pool was replaced and drained
};

// "idle_timeout", "max_lifetime", …: the enumerator's name.
[[nodiscard]] std::string_view to_string(CloseReason reason) noexcept;

// How a connect() ended.
enum class AcquireOutcome {
  acquired,   // the caller got a connection
  timed_out,  // AcquireTimeout
  closed,     // PoolClosed
  failed,     // a connection had to be opened for the caller and that failed
};

[[nodiscard]] std::string_view to_string(AcquireOutcome outcome) noexcept;

// Durations are measured on std::chrono::steady_clock.
using Duration = std::chrono::nanoseconds;

// A pool begins to open a connection (a credential fetch, then the login).
struct ConnectionOpening {
  std::string_view pool;
  // Where and as whom (every server of a failover list); never a password.
  const ConnectionParams& connection;
};

struct ConnectionOpened {
  std::string_view pool;
  const ConnectionParams& connection;
  Duration duration;  // the credential fetch and the login together
  std::size_t total;  // the pool's connections after this one (idle + leased + opening)
  std::size_t max_size;
};

// An open failed; the pool backs off before opening again.
struct ConnectionOpenFailed {
  std::string_view pool;
  const ConnectionParams& connection;
  Duration duration;
  std::string_view error_type;  // the exception's type, e.g. "pgobo::AuthenticationFailed"
  std::string_view message;     // what the caller is told (secrets already removed)
  unsigned consecutive_failures;
  std::chrono::milliseconds backoff;  // how long the pool waits before the next attempt
};

// The first failure after a success: the pool starts backing off.
struct BackoffStarted {
  std::string_view pool;
  std::string_view error_type;
  std::chrono::milliseconds backoff;
};

// The first success after failures: the pool stopped backing off.
struct BackoffEnded {
  std::string_view pool;
  unsigned failures;  // consecutive failures before this success
};

struct ConnectionClosed {
  std::string_view pool;
  CloseReason reason;
  std::string_view description;  // e.g. "idle past idle_timeout"
  bool abnormal;                 // the connection misbehaved (pgobo logs a warning)
};

// close() stopped waiting for leases still out (PoolOptions::close_timeout);
// they close when they come back.
struct CloseGaveUp {
  std::string_view pool;
  std::chrono::milliseconds close_timeout;
  std::size_t still_out;  // leased, opening or closing connections
};

// A connect() (also inside query()) begins.
struct AcquireStarted {
  std::string_view pool;
};

struct AcquireEnded {
  std::string_view pool;
  AcquireOutcome outcome;
  Duration wait;                // from the call until it got the connection or gave up
  std::string_view error_type;  // empty when acquired
};

// A lease comes back (or is discarded), before the pool takes it in.
struct LeaseReturned {
  std::string_view pool;
  Duration held;  // from the lease being handed out until now, on the pool's Clock
};

// A lease has been out longer than PoolOptions::leak_detection_threshold.
// Leases of query() are not watched (their statement's end returns them).
struct LeaseLeakSuspected {
  std::string_view pool;
  Duration held;  // on the pool's Clock
  std::chrono::milliseconds threshold;
  SourceLocation acquired_at;  // where connect() was called
  bool still_out;              // found by reap() while out; false: noticed when it came back
};

// A credential fetch for a new connection (CredentialProvider::get()).
struct CredentialFetchStarted {
  std::string_view pool;
};

struct CredentialFetchEnded {
  std::string_view pool;
  Duration duration;
  std::string_view error_type;  // empty on success
};

// A PoolManager's user pools: created, replaced because a request brought a
// new token, removed by the sweeper (or close_pool()), evicted for max_pools.
enum class PoolLifecycle { created, rebuilt, removed, evicted };

[[nodiscard]] std::string_view to_string(PoolLifecycle change) noexcept;

struct PoolChanged {
  std::string_view pool;  // "user:<key>"
  PoolLifecycle change;
};

// A RoutingPool's query() or query_read_only().
struct QueryStarted {
  std::string_view pool;  // the pool it runs on: the service's or "user:<key>"
  // host, port, dbname, user: the pool's, so with several servers
  // (additional_hosts) all of them, not the one the statement ran on.
  const ConnectionParams& connection;
  std::string_view sql;  // the statement as given (parameters are not passed)
  bool read_only;
};

struct QueryEnded {
  std::string_view pool;
  const ConnectionParams& connection;
  std::string_view sql;
  bool read_only;
  Duration duration;                // acquiring the connection included
  std::optional<std::size_t> rows;  // rows returned, when the statement succeeded
  std::string_view error_type;      // empty on success; the SQLSTATE when the server sent one
  std::string_view sqlstate;        // e.g. "42501"; empty when none
};

// The automatic connection limit (connection_limit.hpp) moved this replica's
// share of the server.
struct ConnectionLimitChanged {
  std::size_t share;                // what this replica may hold: service pool + user pools
  std::size_t user_limit;           // the user pools' max_total_connections now
  std::size_t previous_user_limit;  // and before
  std::size_t replicas;             // live replicas seen, this one included (0: unknown)
  std::size_t capacity;             // what the replicas divide
  std::string_view reason;          // "heartbeat" or "heartbeats late" (fenced)
};

// Override what you need; every hook defaults to doing nothing.
class PoolObserver {
 public:
  virtual ~PoolObserver() = default;

  virtual void on_connection_opening(const ConnectionOpening&) noexcept {}
  virtual void on_connection_opened(const ConnectionOpened&) noexcept {}
  virtual void on_connection_open_failed(const ConnectionOpenFailed&) noexcept {}
  virtual void on_backoff_started(const BackoffStarted&) noexcept {}
  virtual void on_backoff_ended(const BackoffEnded&) noexcept {}
  virtual void on_connection_closed(const ConnectionClosed&) noexcept {}
  virtual void on_close_gave_up(const CloseGaveUp&) noexcept {}
  virtual void on_acquire_started(const AcquireStarted&) noexcept {}
  virtual void on_acquire_ended(const AcquireEnded&) noexcept {}
  virtual void on_lease_returned(const LeaseReturned&) noexcept {}
  virtual void on_lease_leak_suspected(const LeaseLeakSuspected&) noexcept {}
  virtual void on_credential_fetch_started(const CredentialFetchStarted&) noexcept {}
  virtual void on_credential_fetch_ended(const CredentialFetchEnded&) noexcept {}
  virtual void on_pool_changed(const PoolChanged&) noexcept {}
  virtual void on_query_started(const QueryStarted&) noexcept {}
  virtual void on_query_ended(const QueryEnded&) noexcept {}
  virtual void on_connection_limit_changed(const ConnectionLimitChanged&) noexcept {}
};

// Several observers as one: each hook calls them in the order given. Null
// entries are skipped.
class ObserverList final : public PoolObserver {
 public:
  ObserverList(std::initializer_list<std::shared_ptr<PoolObserver>> observers);
  explicit ObserverList(std::vector<std::shared_ptr<PoolObserver>> observers);

  void on_connection_opening(const ConnectionOpening& e) noexcept override;
  void on_connection_opened(const ConnectionOpened& e) noexcept override;
  void on_connection_open_failed(const ConnectionOpenFailed& e) noexcept override;
  void on_backoff_started(const BackoffStarted& e) noexcept override;
  void on_backoff_ended(const BackoffEnded& e) noexcept override;
  void on_connection_closed(const ConnectionClosed& e) noexcept override;
  void on_close_gave_up(const CloseGaveUp& e) noexcept override;
  void on_acquire_started(const AcquireStarted& e) noexcept override;
  void on_acquire_ended(const AcquireEnded& e) noexcept override;
  void on_lease_returned(const LeaseReturned& e) noexcept override;
  void on_lease_leak_suspected(const LeaseLeakSuspected& e) noexcept override;
  void on_credential_fetch_started(const CredentialFetchStarted& e) noexcept override;
  void on_credential_fetch_ended(const CredentialFetchEnded& e) noexcept override;
  void on_pool_changed(const PoolChanged& e) noexcept override;
  void on_query_started(const QueryStarted& e) noexcept override;
  void on_query_ended(const QueryEnded& e) noexcept override;
  void on_connection_limit_changed(const ConnectionLimitChanged& e) noexcept override;

 private:
  template <class Event>
  void each(void (PoolObserver::*hook)(const Event&) noexcept, const Event& e) noexcept {
    for (const auto& observer : observers_) ((*observer).*hook)(e);
  }
  std::vector<std::shared_ptr<PoolObserver>> observers_;
};

// What the exception being handled is, for QueryEnded and error.type: a
// server error's SQLSTATE (as both type and sqlstate, as OpenTelemetry asks
// for PostgreSQL), else the exception's type ("pgobo::AcquireTimeout",
// "pqxx::broken_connection", "std::exception"…). Call inside a catch block.
struct ErrorDescription {
  std::string type;
  std::string sqlstate;
};
[[nodiscard]] ErrorDescription describe_current_exception() noexcept;

// pgobo's logging, as an observer: the lines pgobo::logger() receives about
// pools (connections opened at debug, failures, backoff and abnormal closes
// at warn, leaks at warn, rebuilds at info). Attached to every pool before
// PoolOptions::observer; stateless.
[[nodiscard]] PoolObserver& log_observer() noexcept;

}  // namespace pgobo
