// pgobo/pgobo.hpp — includes every public pgobo header.
//
// Prefer the single headers (pool.hpp, routing_pool.hpp…) in large code bases;
// this one is for quick starts and examples.
#pragma once

#include "pgobo/connection_params.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "pgobo/secret.hpp"
#include "pgobo/version.hpp"
