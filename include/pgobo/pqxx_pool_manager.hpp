// pgobo/pqxx_pool_manager.hpp — PoolManager: the manager of libpqxx pools.
//
//   // given: pgobo::PoolManager::Options options; pgobo::UserContext user
//   pgobo::PoolManager manager(std::move(options));
//   auto rows = manager.get_pool(user)->query("SELECT * FROM app.notes");
//
// pgobo/pool_manager.hpp holds the generic BasicPoolManager and does not
// include libpqxx; this header names the manager over PqxxDriver, which the
// pgobo library compiles once (src/pqxx_pool.cpp): the extern template below
// keeps every file that uses PoolManager from compiling it again.
#pragma once

#include "pgobo/pool_manager.hpp"
#include "pgobo/pqxx_pool.hpp"

namespace pgobo {

using PoolManager = BasicPoolManager<PqxxDriver>;

extern template class BasicPoolManager<PqxxDriver>;

}  // namespace pgobo
