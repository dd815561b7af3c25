#include "pgobo/secret.hpp"

#include <string.h>  // explicit_bzero (glibc 2.25+, musl, the BSDs)

namespace pgobo::detail {

void secure_wipe(void* p, std::size_t n) noexcept {
  // explicit_bzero is memset that the optimiser must not drop as a dead store.
  if (p != nullptr && n > 0) ::explicit_bzero(p, n);
}

}  // namespace pgobo::detail
