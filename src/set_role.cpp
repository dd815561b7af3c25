#include "pgobo/set_role.hpp"

#include <nlohmann/json.hpp>

#include <cctype>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo {

std::string_view to_string(RoutingMode mode) noexcept {
  switch (mode) {
    case RoutingMode::per_user_pools:
      return "per_user_pools";
    case RoutingMode::set_role:
      return "set_role";
  }
  return "unknown";
}

std::string default_claims(const UserContext& user, std::string_view role) {
  nlohmann::json claims = nlohmann::json::object();
  if (!user.user_id().empty()) claims["sub"] = user.user_id();
  if (!user.email().empty()) claims["email"] = user.email();
  if (user.preferred_username() && !user.preferred_username()->empty()) {
    claims["preferred_username"] = *user.preferred_username();
  }
  claims["role"] = std::string(role);
  // Header values may hold any byte: replaced, never thrown on.
  return claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_claims_setting_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxRoleNameBytes) return false;
  bool dot = false;
  char previous = '.';  // so a leading dot is an empty part
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (previous == '.') return false;
      dot = true;
    } else if (previous == '.') {
      if (std::isalpha(u) == 0 && c != '_') return false;  // a part starts as an identifier
    } else if (std::isalnum(u) == 0 && c != '_' && c != '$') {
      return false;
    }
    previous = c;
  }
  return dot && previous != '.';
}

ActingAs SetRoleRouting::acting_as(const UserContext& user) const {
  std::string role = role_for ? role_for(user) : user.key();
  if (role.empty()) {
    throw AuthenticationError("set_role mode: role_for gave an empty role for user '" +
                              detail::printable_excerpt(user.key()) + "'");
  }
  if (role.size() > kMaxRoleNameBytes) {
    throw AuthenticationError(
        "set_role mode: role '" + detail::printable_excerpt(role) + "' is " +
        std::to_string(role.size()) +
        " bytes long; PostgreSQL keeps 63 of a name, so two roles could become one: map long "
        "keys to shorter roles with role_for");
  }
  if (role.find('\0') != std::string::npos) {
    throw AuthenticationError("set_role mode: role_for gave a role with a NUL byte for user '" +
                              detail::printable_excerpt(user.key()) + "'");
  }
  // SET ROLE none is RESET ROLE, quoted or not: the authenticator.
  if (role == "none") {
    throw AuthenticationError("set_role mode: user '" + detail::printable_excerpt(user.key()) +
                              "' would act as role 'none', which PostgreSQL reads as the "
                              "authenticator; map such keys to other roles with role_for");
  }
  if (role == service_role) {
    throw AuthenticationError("set_role mode: user '" + detail::printable_excerpt(user.key()) +
                              "' would act as the service role '" +
                              detail::printable_excerpt(role) + "'");
  }
  ActingAs who;
  if (!claims_setting.empty()) {
    who.claims_setting = claims_setting;
    who.claims = claims_for ? claims_for(user) : default_claims(user, role);
    if (who.claims.find('\0') != std::string::npos) {
      throw ConfigError("set_role mode: claims_for gave claims with a NUL byte");
    }
  }
  who.role = std::move(role);
  who.refuse_rls_bypass = !allow_rls_bypass_roles;
  return who;
}

bool RoleCheckCache::fresh(const std::string& role, Clock::time_point now) const {
  if (ttl_.count() <= 0) return false;
  const std::lock_guard lock(mutex_);
  const auto found = checked_at_.find(role);
  return found != checked_at_.end() && now - found->second < ttl_;
}

void RoleCheckCache::remember(const std::string& role, Clock::time_point now) {
  if (ttl_.count() <= 0) return;
  const std::lock_guard lock(mutex_);
  if (checked_at_.size() >= kMaxRoles && checked_at_.find(role) == checked_at_.end()) {
    checked_at_.clear();  // bounded: many roles cost one check each again
  }
  checked_at_[role] = now;
}

ActingAs SetRoleRouting::acting_as_service() const {
  ActingAs who;
  who.role = service_role;
  who.refuse_rls_bypass = false;
  who.user = false;
  return who;
}

}  // namespace pgobo
