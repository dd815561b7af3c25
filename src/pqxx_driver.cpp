// Compiled part of pqxx_driver.hpp (opening libpqxx connections, classifying
// connect errors). Filled in by the pool work (issue 3).
