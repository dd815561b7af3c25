// pgobo/pool_options.hpp — how one bounded pool behaves.
//
//   pgobo::PoolOptions options;
//   options.name = "sp";
//   options.connection.host = "db.internal";
//   options.connection.user = "pgobo_service";
//   options.credentials = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{"s3cret"});
//   options.max_size = 20;
//   options.validate();                 // throws pgobo::ConfigError on nonsense
//   pgobo::Pool pool(options);
//
// A plain value type with no dependency on the pool itself, so configuration
// code (PoolConfig, env/JSON parsing) can embed it. The time it takes to open
// one connection is bounded by `connection.connect_timeout`, which libpq
// enforces; it is not repeated here.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "pgobo/connection_params.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/observer.hpp"

namespace pgobo {

// When a pool resets a connection's session as it comes back.
enum class SessionReset {
  // After a lease handed out by connect() (the application had the
  // connection itself: RoutingPool::query_read_only() and any pqxx::work
  // code), and after any connection returned inside a transaction. Not
  // after the pool's own query(): its single statement is the
  // application's SQL, run with parameters.
  when_exposed,
  // After every lease, query() included.
  always,
  // Never (transactions are still rolled back; reset_query still runs).
  never,
};

struct PoolOptions {
  // Shown in logs, error messages and stats; never a secret.
  std::string name = "pgobo";
  // Where and as whom to connect (no password).
  ConnectionParams connection;
  // Asked for a password each time a connection opens; the pool stores none.
  // Null means "no password" (libpq falls back to ~/.pgpass, PGPASSWORD, trust).
  std::shared_ptr<CredentialProvider> credentials;
  // Connections open lazily up to this many (leased + idle + opening).
  std::size_t max_size = 10;
  // reap() opens connections until at least this many are idle (≤ max_size).
  std::size_t min_idle = 0;
  // How long connect() waits for a connection before AcquireTimeout.
  std::chrono::milliseconds acquire_timeout{10'000};
  // An idle connection unused this long is closed (0 = never).
  std::chrono::milliseconds idle_timeout{30'000};
  // A connection older than this is closed when it is next idle (0 = never).
  std::chrono::milliseconds max_lifetime{30 * 60 * 1000};
  // Each connection's lifetime is shortened by a random fraction in
  // [0, max_lifetime_jitter), so connections opened together do not all
  // expire together.
  double max_lifetime_jitter = 0.05;
  // When a returned connection's session is reset before it is lent again:
  // session advisory locks released, settings and the role reset, LISTEN
  // ended, cursors closed, temporary tables dropped (the driver's
  // reset_session(): one round trip). Prepared statements stay, so
  // libpqxx's own bookkeeping of them stays true. A failed reset closes the
  // connection. See docs/pool.md, "Session state between borrowers".
  SessionReset session_reset = SessionReset::when_exposed;
  // Run after the session reset on every release; empty = none. A failure
  // closes the connection. DISCARD ALL and DEALLOCATE are refused: the
  // server would forget prepared statements libpqxx still believes in
  // ("prepared statement does not exist" on the next lease); session_reset
  // already does the rest of what DISCARD ALL does.
  std::string reset_query;
  // A connection idle longer than this is checked (a trivial round trip)
  // before it is lent; a failed check closes it and the next one is tried.
  std::optional<std::chrono::milliseconds> validate_idle_after;
  // How long close() waits for outstanding leases to come back.
  std::chrono::milliseconds close_timeout{30'000};
  // After a failed open the pool waits before opening again: 50 ms, doubling
  // with each consecutive failure up to this bound (0 = never back off).
  // Meanwhile connect() waits for a returned connection or, if the pool has
  // none, fails at once with the last error instead of hammering the server.
  // 1 s: at most one login attempt per second per pool while the server is
  // down, and back within about a second once it is up again.
  std::chrono::milliseconds connect_backoff_max{1'000};
  // Told what the pool does (pgobo/observer.hpp); several: ObserverList.
  // Null: none (pgobo's own log lines are written either way). A
  // PoolManager's user_pool options hand it to every user pool, and a
  // RoutingPool tells the service pool's observer about its queries.
  std::shared_ptr<PoolObserver> observer;
  // A lease out longer than this is reported once (a warning naming where
  // connect() was called, PoolObserver::on_lease_leak_suspected, and
  // PoolStats::leaks_suspected): by reap() while it is out, or when it comes
  // back if no reap() saw it. 0 = off (the default): with it on, each
  // connect() takes the pool's lock once more.
  std::chrono::milliseconds leak_detection_threshold{0};

  // Throws ConfigError naming the field and what is expected, e.g.
  // "pool 'sp': max_size must be at least 1 (got 0)".
  void validate() const;
};

}  // namespace pgobo
