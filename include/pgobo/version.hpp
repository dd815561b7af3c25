// pgobo/version.hpp — the library's version, for feature checks and logs.
#pragma once

#define PGOBO_VERSION_MAJOR 0
#define PGOBO_VERSION_MINOR 1
#define PGOBO_VERSION_PATCH 0
#define PGOBO_VERSION_STRING "0.1.0"

namespace pgobo {

// The version of the headers compiled into the caller.
inline constexpr const char* version_string = PGOBO_VERSION_STRING;

}  // namespace pgobo
