// Built against an installed pgobo by find_package and by pkg-config; must
// compile, link and run using only what the install provides.
#include <pgobo/pgobo.hpp>

#include <cstdio>
#include <cstring>

int main() {
  pgobo::logger()->info("pgobo {} found by the consumer", pgobo::version_string);
  try {
    throw pgobo::AcquireTimeout("consumer can catch pgobo errors");
  } catch (const pgobo::Error& e) {
    if (std::strcmp(e.what(), "consumer can catch pgobo errors") != 0) return 1;
  }
  std::puts("pgobo consumer OK");
  return 0;
}
