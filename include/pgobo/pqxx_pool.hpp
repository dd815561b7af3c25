// pgobo/pqxx_pool.hpp — Pool and Lease: the pool over libpqxx.
//
//   // given: pgobo::PoolOptions options
//   pgobo::Pool my_pool(options);
//   pgobo::Lease lease = my_pool.connect();      // a pqxx::connection
//   pqxx::work tx(*lease);
//
// pgobo/pool.hpp holds the generic BasicPool and does not include libpqxx;
// this header adds PqxxDriver (pgobo/pqxx_driver.hpp) and names the pool
// over it. BasicPool<PqxxDriver> is compiled once, in the pgobo library
// (src/pqxx_pool.cpp): the extern template declarations below keep every
// file that uses Pool from compiling it again.
#pragma once

#include <chrono>

#include "pgobo/pool.hpp"
#include "pgobo/pqxx_driver.hpp"

namespace pgobo {

// The pool over libpqxx.
using Pool = BasicPool<PqxxDriver>;
using Lease = Pool::Lease;

extern template class detail::PoolCore<PqxxDriver, std::chrono::steady_clock>;
extern template class detail::PoolLease<detail::PoolCore<PqxxDriver, std::chrono::steady_clock>>;
extern template class BasicPool<PqxxDriver>;

}  // namespace pgobo
