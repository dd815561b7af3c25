#include "pgobo/pqxx_driver.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {
namespace {

// --- libpq's status of a pqxx::connection ---------------------------------
//
// Whether a returned connection is still inside a transaction is libpq's
// PQtransactionStatus(), a local read with no round trip. libpqxx 6.4 keeps
// the PGconn private (connection_base::raw_connection()), so it is reached
// through the one door C++ leaves open to private members: naming them in an
// explicit template instantiation, where access is not checked
// ([temp.spec.general]/6). libpqxx 7 makes this public; drop this then.

template <auto RawConnection>
struct RawConnectionAccess {
  friend const PGconn* raw_pgconn(const pqxx::connection_base& connection) {
    return (connection.*RawConnection)();
  }
};
template struct RawConnectionAccess<&pqxx::connection_base::raw_connection>;
const PGconn* raw_pgconn(const pqxx::connection_base& connection);

// --- connect errors --------------------------------------------------------

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains_any(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
  });
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

// libpq ends its messages with a newline and may span several lines.
std::string tidy(std::string_view message) {
  std::string out(message);
  std::replace(out.begin(), out.end(), '\n', ' ');
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

}  // namespace

void throw_connect_error(std::string_view libpq_message, const ConnectionParams& params,
                         const Secret& password) {
  std::string detail = tidy(libpq_message);
  if (!password.empty()) {
    // Quoted form first: it contains the raw one.
    const std::string quoted = quote_conninfo_value(password.reveal(), "password");
    replace_all(detail, quoted, kRedacted);
    replace_all(detail, password.reveal(), kRedacted);
  }
  const std::string message = "could not connect to " + params.host + ":" +
                              std::to_string(params.port) + " database '" + params.dbname +
                              "' as '" + params.user + "': " + detail;
  const std::string text = lowercase(detail);
  if (contains_any(text, {"too many clients", "remaining connection slots are reserved",
                          "too many connections for"})) {
    throw TooManyConnections(message);
  }
  if (contains_any(text,
                   {"authentication failed", "no password supplied", "password is missing",
                    "no pg_hba.conf entry", "is not permitted to log in", "does not exist",
                    "permission denied for database", "authentication method", "fe_sendauth"})) {
    throw AuthenticationFailed(message);
  }
  throw ServerUnavailable(message);
}

std::unique_ptr<pqxx::connection> PqxxDriver::open(const ConnectionParams& params,
                                                   const Secret& password) const {
  // The connection string holds the password: keep it in a Secret so it is
  // wiped when this function returns, however it returns.
  const Secret conninfo{password.empty() ? params.to_conninfo() : params.to_conninfo(password)};
  try {
    auto connection = std::make_unique<pqxx::connection>(conninfo.reveal());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // A broken connection must stay broken so the pool sees it and replaces
    // it, instead of libpqxx quietly reconnecting (with a stale password).
    connection->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    if (rls_bypass_ != RlsBypass::allow) check_rls_bypass(*connection, params);
    return connection;
  } catch (const UnsafeRole&) {
    throw;
  } catch (const std::exception& e) {
    // broken_connection for every login failure; anything else (a conninfo
    // libpq cannot parse…) goes through the same masking of the password.
    throw_connect_error(e.what(), params, password);
  }
}

std::string PqxxDriver::rls_bypass_of(pqxx::connection& connection) {
  // Both the login role and the role in effect: a session left in SET ROLE
  // must not hide a login role that became a bypass role (or the reverse).
  // Aggregates: always exactly one row.
  pqxx::nontransaction tx(connection);
  const pqxx::result result = tx.exec(
      "SELECT coalesce(bool_or(rolsuper), false), coalesce(bool_or(rolbypassrls), false) "
      "FROM pg_catalog.pg_roles WHERE rolname IN (current_user, session_user)");
  if (result.size() != 1) return {};
  if (result[0][0].as<bool>()) return "a SUPERUSER";
  if (result[0][1].as<bool>()) return "BYPASSRLS";
  return {};
}

void PqxxDriver::check_rls_bypass(pqxx::connection& connection,
                                  const ConnectionParams& params) const {
  const std::string bypass = rls_bypass_of(connection);
  if (bypass.empty()) return;
  const std::string what = std::string("role '") + params.user + "' is " + bypass +
                           ": row-level security does not apply to it";
  if (rls_bypass_ == RlsBypass::warn) {
    logger()->warn("pgobo: {}; allowed by configuration (allow_rls_bypass_roles)", what);
    return;
  }
  throw UnsafeRole(what +
                   ", so a user pool refuses it; log users in as roles without SUPERUSER and "
                   "BYPASSRLS, or set allow_rls_bypass_roles to accept this");
}

ConnectionState PqxxDriver::state(pqxx::connection& connection) const noexcept {
  if (!connection.is_open()) return ConnectionState::broken;
  const PGconn* handle = raw_pgconn(connection);
  if (handle == nullptr || PQstatus(handle) != CONNECTION_OK) return ConnectionState::broken;
  switch (PQtransactionStatus(handle)) {
    case PQTRANS_IDLE:
      return ConnectionState::idle;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
      return ConnectionState::in_transaction;
    case PQTRANS_ACTIVE:   // a statement still running: its results would reach the next user
    case PQTRANS_UNKNOWN:  // the connection is bad
      break;
  }
  return ConnectionState::broken;
}

bool PqxxDriver::rollback(pqxx::connection& connection) const noexcept {
  return execute(connection, "ROLLBACK");
}

bool PqxxDriver::execute(pqxx::connection& connection, const std::string& sql) const noexcept {
  try {
    pqxx::nontransaction tx(connection);
    tx.exec(sql);
    return true;
  } catch (const std::exception& e) {
    logger()->warn("pgobo: '{}' failed on a returned connection: {}", sql, tidy(e.what()));
    return false;
  }
}

bool PqxxDriver::reset_session(pqxx::connection& connection) const noexcept {
  return execute(connection, kSessionReset);
}

bool PqxxDriver::ping(pqxx::connection& connection) const noexcept {
  try {
    if (rls_bypass_ == RlsBypass::refuse) {
      const std::string bypass = rls_bypass_of(connection);
      if (bypass.empty()) return true;
      logger()->warn(
          "pgobo: role '{}' became {} after this connection logged in, so row-level security "
          "no longer applies to it; closing the connection instead of lending it",
          connection.username(), bypass);
      return false;
    }
    pqxx::nontransaction tx(connection);
    tx.exec("SELECT 1");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace pgobo
