// The pool and the manager over libpqxx, compiled once here: pqxx_pool.hpp
// and pqxx_pool_manager.hpp declare them extern, so files using Pool, Lease or
// PoolManager do not instantiate them again.
#include "pgobo/pqxx_pool.hpp"

#include <chrono>

#include "pgobo/pqxx_pool_manager.hpp"

namespace pgobo {

template class detail::PoolCore<PqxxDriver, std::chrono::steady_clock>;
template class detail::PoolLease<detail::PoolCore<PqxxDriver, std::chrono::steady_clock>>;
template class BasicPool<PqxxDriver>;
template class BasicPoolManager<PqxxDriver>;

}  // namespace pgobo
