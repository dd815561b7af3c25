// pgobo/set_role.hpp — acting as a user's role on a shared connection
// (RoutingPool's set_role mode; docs/security.md, "Two modes").
//
// In set_role mode a RoutingPool opens no pool per user: one shared pool logs
// in as an "authenticator" role that is a member of every user's role, and
// each routed transaction becomes the user inside the server:
//
//   // (not compiled: the SQL a statement of alice runs as)
//   SELECT <check of the role>; COMMIT; BEGIN; RESET ALL;
//   SET LOCAL ROLE "alice@example.com";
//   SET LOCAL request.jwt.claims = '{"sub":"u-1",…}'
//   <the statement>
//   SET CONSTRAINTS ALL IMMEDIATE; CLOSE ALL; …; RESET ALL; RESET ROLE; COMMIT
//
// so row-level security, grants and current_user see alice while the server
// sees few connections. The check refuses a role with SUPERUSER or
// BYPASSRLS, and an authenticator with SUPERUSER, BYPASSRLS or INHERIT, in the
// same round trip (UnsafeRole).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgobo/identity.hpp"

namespace pgobo {

// How a RoutingPool acts for the user of a request.
enum class RoutingMode {
  per_user_pools,  // one small pool per user, logged in as the user (the default)
  set_role,        // one shared pool, logged in as an authenticator; SET LOCAL ROLE per transaction
};

// "per_user_pools" or "set_role".
[[nodiscard]] std::string_view to_string(RoutingMode mode) noexcept;

// PostgreSQL keeps at most 63 bytes of a name (NAMEDATALEN - 1) and cuts
// longer ones, so two long keys could name one role: set_role mode refuses
// them.
inline constexpr std::size_t kMaxRoleNameBytes = 63;

// Who one transaction acts as (PqxxDriver::begin_acting_as).
struct ActingAs {
  std::string role;            // SET LOCAL ROLE, quoted as an identifier
  std::string claims_setting;  // set_config(claims_setting, claims, true); empty: none
  std::string claims;
  // Refuse (UnsafeRole) a role that is SUPERUSER or BYPASSRLS, and an
  // authenticator that is SUPERUSER, BYPASSRLS (one RESET ROLE away) or
  // INHERIT (it holds every user role's rights). Off for the service role
  // and with allow_rls_bypass_roles.
  bool refuse_rls_bypass = true;
  // A user's role (false: the service role): refused when it is the
  // authenticator itself.
  bool user = true;
  // Run the check of the role and the authenticator in this prologue (the
  // router skips it for a role that passed within role_check_ttl: planning
  // the query on pg_roles costs more than the rest of the transaction).
  bool check = true;
};

// Roles that passed the check, and when (RoutingPool's set_role mode): a
// role is checked again once `ttl` has passed (0: every time). Thread-safe;
// at most kMaxRoles remembered (then it starts over).
class RoleCheckCache {
 public:
  static constexpr std::size_t kMaxRoles = 100'000;
  using Clock = std::chrono::steady_clock;

  explicit RoleCheckCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  [[nodiscard]] bool fresh(const std::string& role, Clock::time_point now) const;
  void remember(const std::string& role, Clock::time_point now);

 private:
  std::chrono::milliseconds ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> checked_at_;
};

// What set_role mode sets under the claims setting by default, as JSON:
// {"sub": user id, "email": email, "role": role}, leaving out empty fields,
// with "preferred_username" when the proxy sent one. Never the access token.
// Bytes that are not UTF-8 are replaced by U+FFFD.
[[nodiscard]] std::string default_claims(const UserContext& user, std::string_view role);

// Whether `name` can hold claims: a custom setting "prefix.name", each part
// an identifier (a letter or _, then letters, digits, _ and $), at least one
// dot, at most 63 bytes: PostgreSQL lets any role set it, and no built-in
// setting has a dot.
[[nodiscard]] bool is_claims_setting_name(std::string_view name) noexcept;

// What the router needs to act for users on its shared pool.
struct SetRoleRouting {
  // The role a user acts as. Null: the key (email, else user id).
  std::function<std::string(const UserContext&)> role_for;
  // Where the claims go; empty: no claims are set.
  std::string claims_setting = "request.jwt.claims";
  // The claims' text. Null: default_claims().
  std::function<std::string(const UserContext&)> claims_for;
  // The role statements without a user act as. Required by
  // RoutingPool::create: the authenticator holds no rights of its own.
  std::string service_role;
  // Let users act as SUPERUSER or BYPASSRLS roles (and the authenticator be a
  // SUPERUSER). Off: UnsafeRole.
  bool allow_rls_bypass_roles = false;
  // How long a role that passed the check is not checked again (a role made
  // BYPASSRLS meanwhile is refused once it has passed); 0: every statement.
  std::chrono::milliseconds role_check_ttl{60'000};

  // Who `user` acts as. Throws AuthenticationError when role_for gives an
  // empty role, one longer than kMaxRoleNameBytes, one with a NUL byte,
  // "none" (SET ROLE none is RESET ROLE) or the service role; ConfigError
  // when claims_for gives text with a NUL byte.
  [[nodiscard]] ActingAs acting_as(const UserContext& user) const;
  // Who a statement without a user acts as: service_role, with no claims and
  // no check (the service principal may bypass RLS, as its pool may).
  [[nodiscard]] ActingAs acting_as_service() const;
};

}  // namespace pgobo
