// Placeholder demo until the pool lands: one query as the service, one as a user.
#include <pgobo/pgobo.hpp>
int main() { return 0; }
