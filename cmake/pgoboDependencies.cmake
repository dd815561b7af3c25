# Finds what pgobo links against. Kept in one place so the package config
# installed for consumers (pgoboConfig.cmake.in) looks for the same things.
find_package(PkgConfig REQUIRED)

# libpqxx 7 and 8 install a CMake package (libpqxx::pqxx); 6.4 only a
# pkg-config file. The CMake package is preferred where it exists. No version
# is asked of it: it accepts only its own major version, and pgobo takes 6.4,
# 7.x and 8.x (pgobo/pqxx_compat.hpp checks the version it compiles against).
find_package(libpqxx CONFIG QUIET)
if(libpqxx_FOUND)
  set(PGOBO_PQXX_TARGET libpqxx::pqxx)
  message(STATUS "pgobo: libpqxx ${libpqxx_VERSION} (CMake package, ${libpqxx_DIR})")
else()
  pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
  set(PGOBO_PQXX_TARGET PkgConfig::PQXX)
  set(libpqxx_VERSION "${PQXX_VERSION}")
  message(STATUS "pgobo: libpqxx ${PQXX_VERSION} (pkg-config)")
endif()
# The compatibility presets (libpqxx7, libcxx) name the major version they
# test, so that a missing prefix fails here instead of quietly testing the
# system's libpqxx again.
set(PGOBO_REQUIRE_LIBPQXX_MAJOR "" CACHE STRING
  "Fail unless the libpqxx found has this major version (the compatibility presets)")
if(PGOBO_REQUIRE_LIBPQXX_MAJOR AND NOT libpqxx_VERSION MATCHES "^${PGOBO_REQUIRE_LIBPQXX_MAJOR}\\.")
  message(FATAL_ERROR "pgobo: this build wants libpqxx ${PGOBO_REQUIRE_LIBPQXX_MAJOR}.x and found "
    "${libpqxx_VERSION}; run it through scripts/test, which builds libpqxx and sets "
    "PGOBO_COMPAT_PREFIX (scripts/compat-deps)")
endif()
# libpqxx's pkg-config file does not name libpq, which pgobo also calls
# directly (connection status without a round trip, conninfo parsing).
find_package(PostgreSQL REQUIRED)

# Debian's spdlog and fmt are compiled libraries, built against libstdc++. A
# build with another standard library (clang's libc++) uses both as headers
# only: nothing C++ that pgobo links may come from the other library.
option(PGOBO_HEADER_ONLY_LOGGING
  "Use spdlog and fmt as header-only libraries (for builds with libc++)" OFF)
find_package(spdlog REQUIRED)
if(PGOBO_HEADER_ONLY_LOGGING)
  find_package(fmt REQUIRED)
  set_property(TARGET spdlog::spdlog_header_only
    PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads fmt::fmt-header-only)
  set(PGOBO_SPDLOG_TARGET spdlog::spdlog_header_only)
else()
  set(PGOBO_SPDLOG_TARGET spdlog::spdlog)
endif()
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CURL 7.80 REQUIRED)  # curl_url_strerror (README, "Supported platforms")
# PostgreSQL's parser as a library, for the read-only SQL policy
# (src/sql_policy.cpp). A private dependency: no public header includes it.
list(PREPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
find_package(PgQuery REQUIRED)
