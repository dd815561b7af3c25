# Finds libpg_query, PostgreSQL's parser packaged as a C library (Debian:
# libpg-query-dev). It ships neither a CMake package nor a pkg-config file.
#
# Defines PgQuery::PgQuery. Set PgQuery_INCLUDE_DIR / PgQuery_LIBRARY to
# point at another build.
find_path(PgQuery_INCLUDE_DIR NAMES pg_query.h)
find_library(PgQuery_LIBRARY NAMES pg_query)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PgQuery
  REQUIRED_VARS PgQuery_LIBRARY PgQuery_INCLUDE_DIR
  REASON_FAILURE_MESSAGE
    "pgobo's read-only SQL policy parses SQL with libpg_query (PostgreSQL 15's grammar): install it (Debian/Ubuntu: libpg-query-dev, or run scripts/install-deps), or set PgQuery_INCLUDE_DIR and PgQuery_LIBRARY")

if(PgQuery_FOUND AND NOT TARGET PgQuery::PgQuery)
  add_library(PgQuery::PgQuery UNKNOWN IMPORTED)
  set_target_properties(PgQuery::PgQuery PROPERTIES
    IMPORTED_LOCATION "${PgQuery_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PgQuery_INCLUDE_DIR}")
endif()
mark_as_advanced(PgQuery_INCLUDE_DIR PgQuery_LIBRARY)
