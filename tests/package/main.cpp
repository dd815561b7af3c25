// Built against an installed pgobo by find_package and by pkg-config; must
// compile, link and run using only what the install provides.
#include <pgobo/pgobo.hpp>

#include <cstdio>
#include <cstring>
#include <pqxx/version>

int main() {
  pgobo::logger()->info("pgobo {} found by the consumer", pgobo::version_string);
  try {
    throw pgobo::AcquireTimeout("consumer can catch pgobo errors");
  } catch (const pgobo::Error& e) {
    if (std::strcmp(e.what(), "consumer can catch pgobo errors") != 0) return 1;
  }
  // The libpqxx its headers came from: the test checks it is the build's.
  std::printf("libpqxx %d.%d\n", PQXX_VERSION_MAJOR, PQXX_VERSION_MINOR);
  std::puts("pgobo consumer OK");
  return 0;
}
