// pgobo/pqxx_replica_directory.hpp — the automatic connection limit's record
// of live replicas: a table at the server, written through the service
// principal's pool (connection_limit.hpp).
//
//   // given: std::shared_ptr<pgobo::Pool> service; pgobo::ConnectionLimitOptions limit
//   auto directory = pgobo::make_pqxx_replica_directory(service, limit);
//
// Each heartbeat is one transaction that locks the table against the other
// replicas' heartbeats (SHARE ROW EXCLUSIVE, waiting at most one interval),
// so each replica decides on the others' latest claims. It waits at most one
// interval for a service connection, each statement runs under a
// statement_timeout of one interval, and the server ends the transaction if
// it sits idle for half an interval (a replica stopped while it holds the
// lock must not hold every other one's heartbeat). leave() is bounded the
// same way. The table (columns
// replica_id text primary key, claimed integer, seen_at timestamptz) is
// created once by an operator, who grants the service role SELECT, INSERT,
// UPDATE and DELETE on it: the SQL is in docs/operations.md, "One limit for
// many replicas". The service role needs no DDL rights.
#pragma once

#include <memory>
#include <string>

#include "pgobo/connection_limit.hpp"
#include "pgobo/pqxx_pool.hpp"

namespace pgobo {

// `replica_id`: this replica's row ("" = host name, process id and a random
// part, unique per process).
[[nodiscard]] std::unique_ptr<ReplicaDirectory> make_pqxx_replica_directory(
    std::shared_ptr<Pool> service, const ConnectionLimitOptions& options,
    std::string replica_id = "");

// "<host>:<pid>:<8 random hex digits>".
[[nodiscard]] std::string default_replica_id();

}  // namespace pgobo
