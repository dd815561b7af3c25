// pgobo/driver.hpp — what a pool needs from a database driver: the
// PoolDriver concept and ConnectionState.
//
// BasicPool, BasicPoolManager and BasicRoutingPool are generic over their
// driver. Two drivers exist: PqxxDriver (libpqxx, pgobo/pqxx_driver.hpp),
// which Pool, PoolManager and RoutingPool use, and, in the tests, FakeDriver,
// a scriptable stand-in for libpq. Keeping the pool generic over the driver
// is what lets its logic be tested and benchmarked without a server; a driver
// of your own (another client library, instrumentation around PqxxDriver)
// only has to meet the requirements below.
//
// A driver D is a copyable value (each pool keeps its own copy) with:
//
//   // (not compiled: the requirements, one per entry)
//   D::Connection                   the connection type; the pool owns each
//                                   one through a unique_ptr and closes it by
//                                   destroying it.
//   open(params, password)          opens a connection and returns it
//                                   (unique_ptr). An empty password means none
//                                   (libpq's fallbacks: .pgpass, PGPASSWORD).
//                                   Throws AuthenticationFailed,
//                                   ServerUnavailable, TooManyConnections,
//                                   UnsafeRole or another ConnectError with
//                                   the server's text and never the password;
//                                   the pool keeps the exception's type for
//                                   callers queued behind the failure.
//   state(c) noexcept               the connection as it comes back
//                                   (ConnectionState), answered locally
//                                   without a round trip: called on every
//                                   release.
//   rollback(c) noexcept -> bool    ends the open transaction of a connection
//                                   returned inside one; false if that failed
//                                   (the pool then closes it).
//   execute(c, sql) noexcept -> bool
//                                   runs one statement outside any transaction
//                                   (PoolOptions::reset_query); false on
//                                   failure (the pool closes the connection).
//   reset_session(c) noexcept -> bool
//                                   resets what a borrower may have left in
//                                   the session (advisory locks, settings,
//                                   role, LISTEN, cursors, temporary tables)
//                                   but keeps prepared statements, in one
//                                   round trip; false on failure (closed).
//   ping(c) noexcept -> bool        a cheap round trip proving the server
//                                   still answers (validate_idle_after).
//   query(c, sql, params...)        one statement outside a transaction with
//                                   bound parameters; returns the driver's
//                                   result type (pqxx::result for PqxxDriver),
//                                   which BasicPool::query() and
//                                   RoutingPool::query() pass on unchanged.
//                                   Throws the driver's own errors.
//   query_read_only(c, sql, params...)
//                                   the same inside a read-only transaction
//                                   that is rolled back: what
//                                   RoutingPool::query_read_only() runs after
//                                   the SQL policy, so the server refuses any
//                                   write the policy missed.
//
// One member is optional, closed_by_server(c) noexcept -> bool: looked at
// before an idle connection is lent, without a round trip; true when the
// server has closed it (its socket found at end-of-file), so the pool closes
// it and lends another instead of one whose first statement would fail. It
// must be cheap: it runs on every lend of an idle connection. Without it,
// only validate_idle_after's ping (a round trip) finds such a connection.
//
// query and query_read_only are variadic templates (any parameter types the
// driver can bind); the concept checks them with no parameters.
//
// A driver is called from many threads at once: open() concurrently, and the
// other functions concurrently on different connections (never on the same
// one).
#pragma once

#include <concepts>
#include <memory>
#include <string>
#include <string_view>

#include "pgobo/connection_params.hpp"
#include "pgobo/secret.hpp"

namespace pgobo {

// What a connection looks like when it comes back to the pool. Answered
// locally, without a round trip, so release stays cheap.
enum class ConnectionState {
  idle,            // open, no transaction: can be lent again
  in_transaction,  // open, inside a transaction (or a failed one): roll back first
  broken,          // closed, lost, or mid-statement: never lend again
};

template <class D>
concept PoolDriver = std::copy_constructible<D> &&
    requires(D& driver, typename D::Connection& connection, const ConnectionParams& params,
             const Secret& password, const std::string& sql, std::string_view statement) {
  { driver.open(params, password) } -> std::same_as<std::unique_ptr<typename D::Connection>>;
  { driver.state(connection) }
  noexcept->std::same_as<ConnectionState>;
  { driver.rollback(connection) }
  noexcept->std::same_as<bool>;
  { driver.execute(connection, sql) }
  noexcept->std::same_as<bool>;
  { driver.reset_session(connection) }
  noexcept->std::same_as<bool>;
  { driver.ping(connection) }
  noexcept->std::same_as<bool>;
  driver.query(connection, statement);
  driver.query_read_only(connection, statement);
};

// Whether D has the optional closed_by_server(c) (see above).
template <class D>
concept DriverSeesClosedConnections = requires(const D& driver,
                                               typename D::Connection& connection) {
  { driver.closed_by_server(connection) }
  noexcept->std::same_as<bool>;
};

}  // namespace pgobo
