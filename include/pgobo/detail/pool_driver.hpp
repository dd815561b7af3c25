// pgobo/detail/pool_driver.hpp — what BasicPool needs from a database driver.
//
// Include pgobo/pool.hpp, not this header. Two drivers exist: PqxxDriver
// (libpqxx, pgobo/pqxx_driver.hpp) and, in the tests, FakeDriver, a
// scriptable stand-in for libpq. Keeping the pool generic over the driver is
// what lets its logic be tested and benchmarked without a server.
#pragma once

#include <concepts>
#include <memory>
#include <string>

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

// A driver is called from many threads at once: open() concurrently, and the
// other functions concurrently on different connections (never on the same
// one). A connection is closed by destroying it.
template <class D>
concept PoolDriver = requires(D& driver, typename D::Connection& connection,
                              const ConnectionParams& params, const Secret& password,
                              const std::string& sql) {
  // Opens a connection; an empty password means none (libpq's fallbacks).
  // Throws AuthenticationFailed, ServerUnavailable, TooManyConnections or
  // another ConnectError, with libpq's text and never the password.
  { driver.open(params, password) } -> std::same_as<std::unique_ptr<typename D::Connection>>;
  { driver.state(connection) }
  noexcept->std::same_as<ConnectionState>;
  // Ends the open transaction; false if that failed (the pool then closes it).
  { driver.rollback(connection) }
  noexcept->std::same_as<bool>;
  // Runs one statement outside any transaction (the reset query); false on
  // failure.
  { driver.execute(connection, sql) }
  noexcept->std::same_as<bool>;
  // Resets what a borrower may have left in the session (advisory locks,
  // settings, role, LISTEN, cursors, temporary tables) but keeps prepared
  // statements; false on failure (the pool then closes it). One round trip.
  { driver.reset_session(connection) }
  noexcept->std::same_as<bool>;
  // A cheap round trip proving the server still answers.
  { driver.ping(connection) }
  noexcept->std::same_as<bool>;
};

}  // namespace pgobo
