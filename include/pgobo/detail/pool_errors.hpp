// pgobo/detail/pool_errors.hpp — keeping the type of a connect failure while
// adding the pool's name to its message.
//
// A failed open is reported to the caller that tried it and, while the pool
// backs off, to later callers too. Both need the same exception type
// (AuthenticationFailed stays AuthenticationFailed) with a message that says
// which pool and why, so the failure is remembered as a kind plus a text.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "pgobo/errors.hpp"

namespace pgobo::detail {

enum class ConnectFailure {
  authentication,  // AuthenticationFailed
  unavailable,     // ServerUnavailable
  too_many,        // TooManyConnections
  unclassified,    // UnclassifiedConnectError
  connect,         // another ConnectError
  credential,      // CredentialError
  unsafe_role,     // UnsafeRole
  tls,             // TlsVerificationFailed
  other,           // anything else (reported as ConnectError)
};

// Classifies the exception being handled; call inside a catch block.
[[nodiscard]] inline ConnectFailure classify_current_exception(std::string& message) noexcept {
  try {
    throw;
  } catch (const UnsafeRole& e) {
    message = e.what();
    return ConnectFailure::unsafe_role;
  } catch (const AuthenticationFailed& e) {
    message = e.what();
    return ConnectFailure::authentication;
  } catch (const TooManyConnections& e) {
    message = e.what();
    return ConnectFailure::too_many;
  } catch (const ServerUnavailable& e) {
    message = e.what();
    return ConnectFailure::unavailable;
  } catch (const TlsVerificationFailed& e) {
    message = e.what();
    return ConnectFailure::tls;
  } catch (const UnclassifiedConnectError& e) {
    message = e.what();
    return ConnectFailure::unclassified;
  } catch (const ConnectError& e) {
    message = e.what();
    return ConnectFailure::connect;
  } catch (const CredentialError& e) {
    message = e.what();
    return ConnectFailure::credential;
  } catch (const std::exception& e) {
    message = e.what();
    return ConnectFailure::other;
  } catch (...) {
    message = "unknown error";
    return ConnectFailure::other;
  }
}

// The exception type a kind is thrown as, for observers (error.type).
[[nodiscard]] constexpr std::string_view type_name(ConnectFailure kind) noexcept {
  switch (kind) {
    case ConnectFailure::authentication:
      return "pgobo::AuthenticationFailed";
    case ConnectFailure::unavailable:
      return "pgobo::ServerUnavailable";
    case ConnectFailure::too_many:
      return "pgobo::TooManyConnections";
    case ConnectFailure::unclassified:
      return "pgobo::UnclassifiedConnectError";
    case ConnectFailure::credential:
      return "pgobo::CredentialError";
    case ConnectFailure::unsafe_role:
      return "pgobo::UnsafeRole";
    case ConnectFailure::tls:
      return "pgobo::TlsVerificationFailed";
    case ConnectFailure::connect:
    case ConnectFailure::other:
      break;
  }
  return "pgobo::ConnectError";
}

[[noreturn]] inline void throw_connect_failure(ConnectFailure kind, const std::string& message) {
  switch (kind) {
    case ConnectFailure::authentication:
      throw AuthenticationFailed(message);
    case ConnectFailure::unavailable:
      throw ServerUnavailable(message);
    case ConnectFailure::too_many:
      throw TooManyConnections(message);
    case ConnectFailure::unclassified:
      throw UnclassifiedConnectError(message);
    case ConnectFailure::credential:
      throw CredentialError(message);
    case ConnectFailure::unsafe_role:
      throw UnsafeRole(message);
    case ConnectFailure::tls:
      throw TlsVerificationFailed(message);
    case ConnectFailure::connect:
    case ConnectFailure::other:
      break;
  }
  throw ConnectError(message);
}

}  // namespace pgobo::detail
