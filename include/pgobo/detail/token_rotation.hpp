// pgobo/detail/token_rotation.hpp — PoolManager's rotation policy: which
// requests a user's pool serves, and what happens when a new token arrives.
//
// A pool logs in with the credentials of the token it was built for. A
// request carrying that token's fingerprint uses it. A request carrying a
// recently seen older fingerprint uses it too, unless the pool's own login is
// failing (a bad or revoked token arrived last): then the working older token
// must not be locked out behind it and replaces the pool. A fingerprint never
// seen replaces the pool once; the old one drains. A request whose user id or
// email differs from the identity the key's pool was built for is refused
// (IdentityConflict): role_for and credentials_for saw that identity, not
// this one.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"

namespace pgobo::detail {

// Whether a request with token fingerprint `fingerprint` may use the entry's
// current pool (of a ManagerRegistry entry built for the request's user).
template <class Entry>
[[nodiscard]] bool serves_token(const Entry& entry, const std::string& fingerprint) {
  if (entry.fingerprint == fingerprint) return true;
  return entry.knows(fingerprint) && !PoolManagerGate{*entry.current}.login_failing();
}

// Makes `fresh` (built for `fingerprint`) the entry's current pool, remembers
// the replaced pool's fingerprint (at most `remembered` of them, oldest
// forgotten first) and returns the replaced pool, which the caller drains.
template <class Entry, class Pool>
[[nodiscard]] std::shared_ptr<Pool> rotate(Entry& entry, std::shared_ptr<Pool> fresh,
                                           const std::string& fingerprint, std::size_t remembered) {
  std::erase(entry.older_fingerprints, fingerprint);
  auto old = std::exchange(entry.current, std::move(fresh));
  entry.older_fingerprints.push_back(std::exchange(entry.fingerprint, fingerprint));
  if (entry.older_fingerprints.size() > remembered) {
    entry.older_fingerprints.erase(entry.older_fingerprints.begin());
  }
  return old;
}

// The key of `user` names the pool built for another identity (user id and
// email `built_for_*`). Says which field differs, never a value: both came
// from request headers.
[[noreturn]] inline void throw_identity_conflict(const std::string& built_for_user_id,
                                                 const std::string& built_for_email,
                                                 const UserContext& user) {
  const char* differs = built_for_user_id != user.user_id()
                            ? (built_for_email != user.email() ? "user id and email" : "user id")
                            : "email";
  throw IdentityConflict(
      "PoolManager: this request's user key (its " +
      std::string(user.email().empty() ? "user id" : "email") +
      ") already names the pool of another identity (the " + differs +
      " differ), which logs in with that identity's role and credentials; refusing to lend "
      "it. Emails and user ids of different users must not coincide: check the proxy or "
      "identity source");
}

}  // namespace pgobo::detail
