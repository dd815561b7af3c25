# Finds what pgobo links against. Kept in one place so the package config
# installed for consumers (pgoboConfig.cmake.in) looks for the same things.
find_package(PkgConfig REQUIRED)
# libpqxx 6.4 ships only a pkg-config file, no CMake package.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
# libpqxx's pkg-config file does not name libpq, which pgobo also calls
# directly (connection status without a round trip, conninfo parsing).
find_package(PostgreSQL REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CURL REQUIRED)
# PostgreSQL's parser as a library, for the read-only SQL policy
# (src/sql_policy.cpp). A private dependency: no public header includes it.
list(PREPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
find_package(PgQuery REQUIRED)
