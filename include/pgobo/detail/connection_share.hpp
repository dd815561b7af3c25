// pgobo/detail/connection_share.hpp — the arithmetic of the automatic
// connection limit: what one replica of a service may hold of the server's
// connections, given what the server allows and what the other replicas
// hold. Pure functions, no I/O (connection_limit.hpp does the heartbeats).
//
//   pgobo::detail::ShareInputs in;
//   in.server = {/*max_connections=*/100, /*superuser_reserved=*/3, /*reserved=*/0};
//   in.reserve = 5;                // for psql, migrations, other clients
//   in.service_pool_size = 2;      // this replica's service pool (max_size)
//   in.others = 2;                 // other live replicas
//   in.others_claimed = 60;        // what they hold or may hold
//   const pgobo::detail::Share s = pgobo::detail::compute_share(in);
//   std::printf("%zu of %zu\n", s.user_limit, s.capacity);  // 28 of 92 (fair share 30)
//
// Why "claimed" and not only the fair part: a replica that joins must not
// open what the others still hold before they have shrunk. Each replica
// publishes its claim (claim_of: its service pool plus the larger of its
// user limit and what its user pools hold now), and takes at most what the
// others' claims leave. Heartbeats are serialized at the server, so the
// user pools' claims never add up to more than the capacity: a newcomer
// starts small and grows once the others have seen it and given back. The
// service pools are the exception: each is claimed whole, also when the share
// is smaller (capacity / replicas < service_pool_size; e.g. PGOBO_MAX_SIZE 10,
// capacity 92, 10 replicas), so the claims may then exceed the capacity by
// that difference, which comes out of the reserve. The coordinator counts
// and warns about it (ConnectionLimitStats::share_below_service_pool).
#pragma once

#include <algorithm>
#include <cstddef>

namespace pgobo::detail {

// What the server allows (SHOW max_connections, superuser_reserved_connections,
// and reserved_connections from PostgreSQL 16 on, else 0).
struct ServerLimits {
  std::size_t max_connections = 0;
  std::size_t superuser_reserved = 0;
  std::size_t reserved = 0;
};

struct ShareInputs {
  ServerLimits server;
  std::size_t reserve = 0;            // left for everyone but the replicas
  std::size_t service_pool_size = 0;  // this replica's service pool, always claimed
  std::size_t others = 0;             // other live replicas
  std::size_t others_claimed = 0;     // the sum of their claims
  std::size_t cap = 0;                // an upper bound on user_limit; 0 = none
};

struct Share {
  std::size_t capacity = 0;    // divided among the replicas
  std::size_t replicas = 0;    // this one included
  std::size_t fair = 0;        // capacity / replicas
  std::size_t share = 0;       // what this replica may hold: min(fair, what the others leave)
  std::size_t user_limit = 0;  // of which its user pools: share - service_pool_size (>= 0)
};

[[nodiscard]] constexpr std::size_t saturating_sub(std::size_t a, std::size_t b) noexcept {
  return a > b ? a - b : 0;
}

[[nodiscard]] constexpr Share compute_share(const ShareInputs& in) noexcept {
  Share s;
  s.capacity = saturating_sub(
      saturating_sub(saturating_sub(in.server.max_connections, in.server.superuser_reserved),
                     in.server.reserved),
      in.reserve);
  s.replicas = in.others + 1;
  s.fair = s.capacity / s.replicas;
  s.share = std::min(s.fair, saturating_sub(s.capacity, in.others_claimed));
  s.user_limit = saturating_sub(s.share, in.service_pool_size);
  if (in.cap > 0) s.user_limit = std::min(s.user_limit, in.cap);
  return s;
}

// What a replica publishes: all it may hold until its next heartbeat. Its
// user pools may hold more than a limit just lowered (leases out are not
// taken back), so the larger of the two.
[[nodiscard]] constexpr std::size_t claim_of(std::size_t service_pool_size, std::size_t user_limit,
                                             std::size_t user_in_use) noexcept {
  return service_pool_size + std::max(user_limit, user_in_use);
}

}  // namespace pgobo::detail
