// The users tests act for: a UserContext as the forwarded headers of a Databricks
// App would describe them. Roles for them on the test server come from PgTest
// (pg_fixture.hpp: add_user(), make_users()).
//
//   const UserContext alice = user_context("alice@example.com");
//   const UserPtr bob = shared_user("bob@example.com", "another-token");
//   const UserPtr carol = named_user("carol");    // id "carol", carol@example.com
//   numbered_email("load", 7) == "load07@example.com"
#pragma once

#include <memory>
#include <string>

#include "pgobo/identity.hpp"

namespace pgobo::test {

using UserPtr = std::shared_ptr<const UserContext>;

// User id "id-<email>", the email, and a token ("token-of-<email>" unless given).
[[nodiscard]] inline UserContext user_context(const std::string& email,
                                              const std::string& token = {}) {
  return make_user_context("id-" + email, email, token.empty() ? "token-of-" + email : token);
}

// user_context(), shared: what UserScope, as_user and RoutingPool take.
[[nodiscard]] inline UserPtr shared_user(const std::string& email, const std::string& token = {}) {
  return std::make_shared<const UserContext>(user_context(email, token));
}

// A user known by a short name: user id "<name>", email "<name>@example.com",
// token "token-<name>".
[[nodiscard]] inline UserPtr named_user(const std::string& name) {
  return std::make_shared<const UserContext>(
      make_user_context(name, name + "@example.com", "token-" + name));
}

// "<prefix><i, two digits>@example.com": the i-th of a test's generated users.
[[nodiscard]] inline std::string numbered_email(const std::string& prefix, int i) {
  return prefix + (i < 10 ? "0" : "") + std::to_string(i) + "@example.com";
}

}  // namespace pgobo::test
