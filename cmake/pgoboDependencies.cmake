# Finds what pgobo links against. Kept in one place so the package config
# installed for consumers (pgoboConfig.cmake.in) looks for the same things.
find_package(PkgConfig REQUIRED)
# libpqxx 6.4 ships only a pkg-config file, no CMake package.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(CURL REQUIRED)
