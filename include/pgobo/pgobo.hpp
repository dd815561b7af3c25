// pgobo/pgobo.hpp — includes every public pgobo header: the core, the
// exposition and the Databricks integration (link pgobo::pgobo).
//
// Prefer the single headers (pool.hpp, routing_pool.hpp…) in large code bases;
// this one is for quick starts and examples.
#pragma once

#include "pgobo/config.hpp"
#include "pgobo/connection_limit.hpp"
#include "pgobo/connection_params.hpp"
#include "pgobo/context.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/databricks.hpp"
#include "pgobo/driver.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/log.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/pool_manager.hpp"
#include "pgobo/pool_manager_options.hpp"
#include "pgobo/pool_manager_stats.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/pqxx_driver.hpp"
#include "pgobo/pqxx_pool.hpp"
#include "pgobo/pqxx_pool_manager.hpp"
#include "pgobo/pqxx_replica_directory.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/secret.hpp"
#include "pgobo/source_location.hpp"
#include "pgobo/sql_policy.hpp"
#include "pgobo/stats.hpp"
#include "pgobo/stats_exposition.hpp"
#include "pgobo/task.hpp"
#include "pgobo/version.hpp"
