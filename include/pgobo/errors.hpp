// pgobo/errors.hpp — the exceptions pgobo throws, grouped by meaning.
//
// Catch by what you want to do about it, as with libpqxx's hierarchy:
//
//   try {
//     auto rows = pool.query("SELECT * FROM app.notes");
//   } catch (const pgobo::AcquireTimeout& e) {   // pool saturated: 503 + Retry-After
//   } catch (const pgobo::ConnectError& e) {     // server or login problem
//   } catch (const pgobo::Error& e) {            // anything else pgobo reports
//   }
//
// SQL errors raised by PostgreSQL while a statement runs are libpqxx's own
// exceptions (pqxx::sql_error and friends) and pass through unchanged.
//
// No message ever contains a secret (token, password, client secret): messages
// are built from names, counts and libpq's text, never from credentials.
#pragma once

#include <stdexcept>
#include <string>

namespace pgobo {

// Base of every exception pgobo throws itself.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration value is missing or malformed. The message names the
// environment variable or JSON key and what is expected.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// The request carries no usable identity (missing token, empty user id,
// header value with CR/LF/NUL…). Typically maps to HTTP 401.
class AuthenticationError : public Error {
 public:
  using Error::Error;
};

// The request's user key (email, else user id) already names a pool built
// for another identity: same key, other user id or email (user A with email
// x and user B whose user id is x). Its pool logs in with the first one's
// role and credentials, so PoolManager refuses rather than lend them to the
// second. A proxy or identity source that mixes emails and user ids; maps to
// HTTP 403 rather than 401 (retrying with the same headers cannot help).
class IdentityConflict : public AuthenticationError {
 public:
  using AuthenticationError::AuthenticationError;
};

// connect() waited past its acquire deadline. The message names the pool,
// its size and how many requests were waiting (or the global limit).
class AcquireTimeout : public Error {
 public:
  using Error::Error;
};

// The pool (or router) was closed (close(), or end() under AppKit's name); no new work is accepted.
class PoolClosed : public Error {
 public:
  using Error::Error;
};

// Opening a new database connection failed. Carries libpq's text, never
// the password. Subclasses say why; thrown as itself when none fits, e.g.
// PgBouncer refusing a login parameter (the message says which setting to
// move where: docs/operations.md, "Behind PgBouncer").
class ConnectError : public Error {
 public:
  using Error::Error;
};

// The server rejected the login: wrong password, unknown or NOLOGIN role,
// no pg_hba entry, no such database or no CONNECT privilege on it (SQLSTATE
// class 28, 3D000, 42501), or libpq had no password to send. Retrying with
// the same credential will not help.
class AuthenticationFailed : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

// The server could not be reached: refused, timed out, DNS failure, TLS
// handshake failure (but see TlsVerificationFailed), shutting down or starting up, out of memory or
// disk (SQLSTATE class 08, 57P01-57P03, 53 but 53300), it sent no error at all, or the connection
// was lost right after the login. Usually transient.
class ServerUnavailable : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

// TLS could not verify the server (sslmode verify-ca / verify-full): its
// certificate is not signed by a CA in sslrootcert, it is not for the host
// name connected to, or the root certificate file is missing or unreadable.
// The message says which and which setting to change (PGSSLROOTCERT,
// PGHOST, PGSSLMODE). A configuration or deployment problem: retrying will
// not help.
class TlsVerificationFailed : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

// The server is out of connection slots (max_connections reached).
class TooManyConnections : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

// The login failed and nothing told pgobo why: the server answered with an
// error code none of the other kinds covers (the message quotes it), or a
// failure other than a login (an unparsable conninfo…) had text pgobo does
// not know. Not assumed transient or permanent; look at the message.
class UnclassifiedConnectError : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

// A database credential or workspace token could not be obtained (HTTP
// error, timeout, malformed response). The message says which, with the HTTP
// status and the API's error text, never a token.
class CredentialError : public Error {
 public:
  using Error::Error;
};

// A statement was refused by the read-only SQL policy before reaching the
// server. The message gives the policy's reason.
class SqlPolicyError : public Error {
 public:
  using Error::Error;
};

// A user pool logged in as a role that may bypass row-level security
// (SUPERUSER or BYPASSRLS) and the configuration does not allow that. The
// connection was closed before any statement of the user ran on it.
class UnsafeRole : public ConnectError {
 public:
  using ConnectError::ConnectError;
};

}  // namespace pgobo
