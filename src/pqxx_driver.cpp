#include "pgobo/pqxx_driver.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

// --- libpq's status of a pqxx::connection ---------------------------------
//
// Whether a returned connection is still inside a transaction is libpq's
// PQtransactionStatus(), a local read with no round trip. libpqxx keeps the
// PGconn private (raw_connection(), in 6.4 a member of connection_base, in 7
// and 8 of connection), so it is reached through the one door C++ leaves open
// to private members: naming them in an explicit template instantiation,
// where access is not checked ([temp.spec.general]/6). Naming it through
// pqxx::connection reaches the inherited member in 6.4 and the class's own in
// 7 and 8. libpqxx 7 and 8 offer no read-only accessor (release/seize hand the
// PGconn over and leave the pqxx::connection unusable), so this stays until
// one does; if a libpqxx renames the member, this is the one place that
// stops compiling. (8.0 declares it returning its own internal::pq::PGconn,
// an alias of void so as not to include libpq-fe.h: the cast makes it libpq's.)

template <auto RawConnection>
struct RawConnectionAccess {
  friend const PGconn* raw_pgconn(const pqxx::connection& connection) {
    return static_cast<const PGconn*>((connection.*RawConnection)());
  }
  // For closed_by_server(), which lets libpq read what arrived on an idle
  // connection (libpqxx reads through the same PGconn and caches nothing of
  // its input).
  friend PGconn* mutable_pgconn(pqxx::connection& connection) {
    return const_cast<PGconn*>(static_cast<const PGconn*>((connection.*RawConnection)()));
  }
};
template struct RawConnectionAccess<&pqxx::connection::raw_connection>;
const PGconn* raw_pgconn(const pqxx::connection& connection);
PGconn* mutable_pgconn(pqxx::connection& connection);

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

namespace {

bool is_sqlstate_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

// The kind English text names, for the failures whose text pgobo knows (from
// the server in English, or from libpq in an English or C locale). nullopt
// for anything else, translated text included.
std::optional<detail::ConnectFailure> english_failure(const std::string& text) {
  if (contains_any(text, {"too many clients", "remaining connection slots are reserved",
                          "too many connections for"})) {
    return detail::ConnectFailure::too_many;
  }
  if (contains_any(text,
                   {"authentication failed", "no password supplied", "password is missing",
                    "no pg_hba.conf entry", "is not permitted to log in", "does not exist",
                    "permission denied for database", "authentication method", "fe_sendauth"})) {
    return detail::ConnectFailure::authentication;
  }
  // libpq's own network failures: classified without a second attempt,
  // which would wait out a timeout again.
  if (contains_any(
          text, {"connection refused", "timeout expired", "could not translate host name",
                 "no route to host", "network is unreachable", "no such file or directory",
                 "server closed the connection unexpectedly", "the database system is starting up",
                 "the database system is shutting down", "the database system is in recovery mode",
                 "the database system is not yet accepting connections",
                 "the database system is not accepting connections",
                 // target_session_attrs: no server of the list was of the kind asked for
                 "session is read-only", "session is not read-only",
                 "server is in hot standby mode", "server is not in hot standby mode"})) {
    return detail::ConnectFailure::unavailable;
  }
  // libpqxx's own texts (never translated): the connection was lost right
  // after the login, e.g. its backend was killed.
  if (contains_any(text, {"could not obtain client encoding", "setting client encoding failed",
                          "no connection to database", "reactivation is inhibited"})) {
    return detail::ConnectFailure::unavailable;
  }
  return std::nullopt;
}

// What to change when TLS could not verify the server, for libpq's own
// texts (fe-secure-common.c, fe-secure-openssl.c; OpenSSL's reason strings
// are never translated). Empty for any other failure. Checked before the
// other kinds: "root certificate file … does not exist" is no unknown role.
std::string tls_verification_advice(const std::string& text, const ConnectionParams& params) {
  const std::string roots = params.sslrootcert.empty()
                                ? std::string(
                                      "libpq's default root certificate file "
                                      "(~/.postgresql/root.crt; sslrootcert is not set)")
                                : "sslrootcert '" + params.sslrootcert + "'";
  if (contains_any(text, {"does not match host name",
                          "could not get server's host name from server certificate",
                          "host name must be specified for a verified ssl connection"})) {
    // With several servers, libpq's text above names the one that failed.
    const std::string which =
        params.additional_hosts.empty() && params.host.find(',') == std::string::npos
            ? "host '" + params.host + "'"
            : "the host connected to (one of " + params.hosts_text() + ")";
    return "TLS host-name verification failed: the server's certificate is not for " + which +
           ". Connect with a host name the certificate lists (PGHOST / JSON key 'host'), or set "
           "sslmode (PGSSLMODE) to verify-ca to check the certificate's CA only";
  }
  if (contains_any(text, {"certificate verify failed"})) {
    return "TLS certificate verification failed: the server's certificate is not signed by a "
           "CA in " +
           roots +
           " (or has expired). Set sslrootcert (PGSSLROOTCERT / JSON key 'sslrootcert') to the "
           "CA certificate that signed the server's certificate";
  }
  if (contains_any(text, {"root certificate file", "could not load system root certificate",
                          "could not get home directory to locate root certificate"})) {
    return "TLS certificate verification cannot start: the trusted CA certificates (" + roots +
           ") could not be read. Set sslrootcert (PGSSLROOTCERT / JSON key 'sslrootcert') to a "
           "readable CA certificate file";
  }
  return {};
}

// What to change when a connection pooler refused a startup parameter:
// PgBouncer answers "unsupported startup parameter: <name>" (SQLSTATE 08P01)
// for one it neither tracks nor ignores (`options` in 1.18, Debian 12's; later
// releases track more) and refuses every login alike. pgobo sends `options` for
// ConnectionParams::settings; libpq sends it for PGOPTIONS too. Retrying
// cannot help, so this is no ServerUnavailable. Empty for any other failure.
std::string pooler_advice(const std::string& text, const ConnectionParams& params) {
  constexpr std::string_view kRefused = "unsupported startup parameter";
  if (text.find(kRefused) == std::string::npos) return {};
  std::string advice =
      "the server is a connection pooler (PgBouncer) that refuses this login parameter";
  if (text.find(std::string(kRefused) + ": options") != std::string::npos) {
    advice += params.settings.empty()
                  ? ". pgobo sent no server settings, so it is libpq's PGOPTIONS environment "
                    "variable: unset it"
                  : ". It refuses the server settings pgobo sends at login (ConnectionParams "
                    "settings: PGOBO_STATEMENT_TIMEOUT_MS, "
                    "PGOBO_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS, JSON 'settings'). Remove "
                    "them and set them on the role instead (ALTER ROLE … SET "
                    "statement_timeout = '5s'), which applies to the pooler's own server "
                    "connections";
  } else {
    advice +=
        ": remove it from the connection's settings or environment, or list it in "
        "PgBouncer's ignore_startup_parameters";
  }
  return advice;
}

// One more login attempt with libpq itself, at PQERRORS_SQLSTATE verbosity,
// to learn the code of the server's error. Bounded by the connection's
// connect_timeout (30 s when that is 0, "wait forever").
ConnectDiagnosis diagnose_connect(const Secret& conninfo, std::chrono::seconds timeout) {
  ConnectDiagnosis diagnosis;
  const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectStart(conninfo.reveal().c_str()),
                                                          &PQfinish);
  if (!conn) return diagnosis;  // out of memory: nothing learned
  PQsetErrorVerbosity(conn.get(), PQERRORS_SQLSTATE);
  const auto deadline =
      std::chrono::steady_clock::now() +
      (timeout.count() > 0 ? std::chrono::seconds(timeout) : std::chrono::seconds(30));
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (PQstatus(conn.get()) != CONNECTION_BAD && status != PGRES_POLLING_OK &&
         status != PGRES_POLLING_FAILED) {
    const int fd = PQsocket(conn.get());
    if (fd < 0) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return diagnosis;  // no answer in time: nothing learned
    pollfd wait{fd, static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    const int ready = ::poll(&wait, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    status = PQconnectPoll(conn.get());
  }
  if (PQstatus(conn.get()) == CONNECTION_OK) {
    diagnosis.connected = true;
    return diagnosis;
  }
  diagnosis.sqlstate = sqlstate_in_libpq_message(PQerrorMessage(conn.get()));
  diagnosis.needs_password = PQconnectionNeedsPassword(conn.get()) == 1;
  return diagnosis;
}

}  // namespace

std::string sqlstate_in_libpq_message(std::string_view message) {
  // pqBuildErrorMessage3 writes "<severity>:  <code>" and a newline; the
  // severity word may be translated, the code never is.
  std::string found;
  for (auto at = message.find(":  "); at != std::string_view::npos;
       at = message.find(":  ", at + 1)) {
    const std::string_view rest = message.substr(at + 3);
    if (rest.size() < 5) break;
    if (!std::all_of(rest.begin(), rest.begin() + 5, is_sqlstate_char)) continue;
    if (rest.size() > 5 && rest[5] != '\n' && rest[5] != '\r') continue;
    found = std::string(rest.substr(0, 5));
  }
  return found;
}

detail::ConnectFailure connect_failure_of(const ConnectDiagnosis& diagnosis) noexcept {
  using detail::ConnectFailure;
  // Logged in the second time: a transient failure (a backend killed during
  // the login, a restart in between).
  if (diagnosis.connected) return ConnectFailure::unavailable;
  const std::string_view code = diagnosis.sqlstate;
  if (code.empty()) {
    return diagnosis.needs_password ? ConnectFailure::authentication : ConnectFailure::unavailable;
  }
  if (code == "53300") return ConnectFailure::too_many;
  if (code.starts_with("28") || code == "3D000" || code == "42501") {
    return ConnectFailure::authentication;
  }
  if (code.starts_with("08") || code == "57P01" || code == "57P02" || code == "57P03" ||
      code.starts_with("53") || code.starts_with("58")) {
    return ConnectFailure::unavailable;
  }
  return ConnectFailure::unclassified;
}

void throw_connect_error(std::string_view libpq_message, const ConnectionParams& params,
                         const Secret& password,
                         const std::function<ConnectDiagnosis()>& diagnose) {
  std::string detail = tidy(libpq_message);
  if (!password.empty()) {
    // Quoted form first: it contains the raw one.
    const std::string quoted = quote_conninfo_value(password.reveal(), "password");
    replace_all(detail, quoted, kRedacted);
    replace_all(detail, password.reveal(), kRedacted);
  }
  // Every server tried: libpq's text says what each one answered.
  const bool several =
      !params.additional_hosts.empty() || params.host.find(',') != std::string::npos;
  std::string message = "could not connect to " + std::string(several ? "any of " : "") +
                        params.hosts_text() + " database '" + params.dbname + "' as '" +
                        params.user + "': " + detail;
  const std::string lowered = lowercase(detail);
  if (const std::string advice = tls_verification_advice(lowered, params); !advice.empty()) {
    throw TlsVerificationFailed(message + ". " + advice);
  }
  if (const std::string advice = pooler_advice(lowered, params); !advice.empty()) {
    detail::throw_connect_failure(detail::ConnectFailure::connect, message + ". " + advice);
  }
  auto kind = english_failure(lowered);
  if (!kind && diagnose) {
    const ConnectDiagnosis diagnosis = diagnose();
    kind = connect_failure_of(diagnosis);
    if (!diagnosis.sqlstate.empty()) {
      message += " (SQLSTATE " + diagnosis.sqlstate + ")";
    } else if (diagnosis.connected) {
      message += " (a second attempt logged in: the failure did not repeat)";
    } else if (diagnosis.needs_password) {
      message += " (no password to send)";
    } else {
      message += " (no error from the server)";
    }
  }
  detail::throw_connect_failure(kind.value_or(detail::ConnectFailure::unclassified), message);
}

std::unique_ptr<pqxx::connection> PqxxDriver::open(const ConnectionParams& params,
                                                   const Secret& password) const {
  // The connection string holds the password: keep it in a Secret so it is
  // wiped when this function returns, however it returns.
  const Secret conninfo{password.empty() ? params.to_conninfo() : params.to_conninfo(password)};
  try {
    auto connection = std::make_unique<pqxx::connection>(conninfo.reveal());
    // A broken connection must stay broken so the pool sees it and replaces
    // it, instead of libpqxx 6 quietly reconnecting (with a stale password).
    pqxx_compat::forbid_reactivation(*connection);
    if (rls_bypass_ != RlsBypass::allow) check_rls_bypass(*connection, params);
    return connection;
  } catch (const UnsafeRole&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    // A failed login. Text pgobo does not recognize (a server or client in
    // another language) is diagnosed by one more attempt that learns the
    // SQLSTATE.
    throw_connect_error(e.what(), params, password,
                        [&] { return diagnose_connect(conninfo, params.connect_timeout); });
  } catch (const std::exception& e) {
    // Anything else (a conninfo libpq cannot parse, a failure of the RLS
    // check's query…) goes through the same masking of the password.
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

// --- acting as a role (set_role mode) ----------------------------------------

namespace {

// `text` quoted by libpq for this connection's encoding: as an identifier
// ("…") or a literal ('…' or E'…').
std::string quoted(pqxx::connection& connection, std::string_view text, bool identifier,
                   std::string_view what) {
  PGconn* handle = mutable_pgconn(connection);
  char* out = identifier ? PQescapeIdentifier(handle, text.data(), text.size())
                         : PQescapeLiteral(handle, text.data(), text.size());
  if (out == nullptr) {
    throw AuthenticationError("set_role mode: the " + std::string(what) + " '" +
                              detail::printable_excerpt(text) +
                              "' is not valid in the connection's client encoding");
  }
  std::string result(out);
  PQfreemem(out);
  return result;
}

}  // namespace

namespace {

struct ClearResult {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using OwnedResult = std::unique_ptr<PGresult, ClearResult>;

// Sends `sql` (several statements, the simple protocol) and returns every
// statement's result: one round trip. libpqxx would keep only the last one.
// libpqxx holds no state of its own between statements, so libpq may be
// used directly on its connection (as closed_by_server() does).
std::vector<OwnedResult> exec_all(pqxx::connection& connection, const std::string& sql) {
  PGconn* handle = mutable_pgconn(connection);
  if (PQsendQuery(handle, sql.c_str()) == 0) {
    throw pqxx::broken_connection(PQerrorMessage(handle));
  }
  std::vector<OwnedResult> results;
  while (PGresult* result = PQgetResult(handle)) results.emplace_back(result);
  if (PQstatus(handle) != CONNECTION_OK) throw pqxx::broken_connection(PQerrorMessage(handle));
  return results;
}

[[noreturn]] void throw_missing_role(const std::string& role, const std::string& login) {
  throw AuthenticationFailed("set_role mode: role '" + role +
                             "' does not exist; create it (CREATE ROLE … NOLOGIN) and grant it to "
                             "the authenticator '" +
                             login + "' (GRANT … TO " + login + ")");
}

bool is_true(const PGresult* result, int column) {
  return PQgetisnull(result, 0, column) == 0 && PQgetvalue(result, 0, column)[0] == 't';
}

}  // namespace

void PqxxDriver::begin_acting_as(pqxx::connection& connection, const ActingAs& who,
                                 bool read_only) const {
  const std::string role = quoted(connection, who.role, true, "role");
  // With who.check:
  // 0: the check, in an implicit transaction of its own: its snapshot is not
  //    the lease's, so a pqxx::transaction<serializable> on the lease may
  //    still set its isolation level. By name: the role, and the login role.
  // 1: COMMIT ends that implicit transaction.
  // 2, 3: the transaction starts clean, whatever a session left on this
  //    server connection (behind PgBouncer: another client's).
  // 4, 5: the role and the claims, for this transaction only.
  std::string sql;
  if (who.check) {
    const std::string role_text = quoted(connection, who.role, false, "role");
    sql = "SELECT count(*) FILTER (WHERE rolname = " + role_text +
          "), coalesce(bool_or(rolsuper) FILTER (WHERE rolname = " + role_text +
          "), false), coalesce(bool_or(rolbypassrls) FILTER (WHERE rolname = " + role_text +
          "), false), coalesce(bool_or(rolsuper) FILTER (WHERE rolname = session_user), false), "
          "coalesce(bool_or(rolbypassrls) FILTER (WHERE rolname = session_user), false), "
          "coalesce(bool_or(rolinherit) FILTER (WHERE rolname = session_user), false), " +
          role_text + " = session_user::text FROM pg_catalog.pg_roles WHERE rolname IN (" +
          role_text + ", session_user); COMMIT; ";
  }
  sql +=
      std::string(read_only ? "BEGIN READ ONLY" : "BEGIN") + "; RESET ALL; SET LOCAL ROLE " + role;
  const std::size_t set_role_index = who.check ? 4 : 2;
  if (!who.claims_setting.empty()) {
    // Written unquoted, so checked here too (a router built without create()
    // skips RoutingPool::create's check): letters, digits, _, $ and dots only.
    if (!is_claims_setting_name(who.claims_setting)) {
      throw ConfigError("set_role mode: the claims setting '" +
                        detail::printable_excerpt(who.claims_setting) +
                        "' is not a custom setting prefix.name");
    }
    sql += "; SET LOCAL " + who.claims_setting + " = " +
           quoted(connection, who.claims, false, "claims");
  }
  const std::vector<OwnedResult> results = exec_all(connection, sql);
  const std::string name = detail::printable_excerpt(who.role);
  const std::string login = detail::printable_excerpt(connection.username());
  for (std::size_t i = 0; i < results.size(); ++i) {
    const PGresult* result = results[i].get();
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) continue;
    const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const std::string state = code != nullptr ? code : "";
    if (i == set_role_index && state == "42501") {
      throw AuthenticationFailed("set_role mode: the authenticator '" + login +
                                 "' is not a member of role '" + name + "'; GRANT it to " + login);
    }
    if (i == set_role_index && (state == "22023" || state == "42704")) {
      throw_missing_role(name, login);
    }
    const char* message = PQresultErrorMessage(result);
    throw pqxx::sql_error(message != nullptr ? message : "set_role mode: the prologue failed", "",
                          state.c_str());  // empty when the server sent none
  }
  if (!who.check) return;
  const PGresult* check = results.empty() ? nullptr : results.front().get();
  if (check == nullptr || PQntuples(check) != 1 || PQnfields(check) != 7) {
    throw Error("set_role mode: the role check of role '" + name + "' returned no row");
  }
  if (std::string_view(PQgetvalue(check, 0, 0)) == "0") throw_missing_role(name, login);
  if (!who.user) return;  // the service role: configured, not a user's
  if (is_true(check, 6)) {
    throw UnsafeRole("set_role mode: role '" + name +
                     "' is the authenticator itself; a user must act as a role of their own");
  }
  if (!who.refuse_rls_bypass) return;
  std::string unsafe;
  if (is_true(check, 1)) {
    unsafe = "role '" + name + "' is a SUPERUSER";
  } else if (is_true(check, 2)) {
    unsafe = "role '" + name + "' is BYPASSRLS";
  } else if (is_true(check, 3) || is_true(check, 4)) {
    unsafe = "the authenticator '" + login + "' is " +
             (is_true(check, 3) ? "a SUPERUSER" : "BYPASSRLS") +
             " (any statement could RESET ROLE to it)";
  } else if (is_true(check, 5)) {
    unsafe = "the authenticator '" + login +
             "' has INHERIT, so it holds every user role's rights itself (ALTER ROLE … NOINHERIT)";
  }
  if (unsafe.empty()) return;
  throw UnsafeRole("set_role mode: " + unsafe +
                   ": row-level security would not hold, so the router refuses it; use roles "
                   "without SUPERUSER and BYPASSRLS and a NOINHERIT authenticator, or set "
                   "allow_rls_bypass_roles to accept this");
}

void PqxxDriver::end_acting_as(pqxx::connection& connection, bool commit) const {
  if (state(connection) == ConnectionState::idle) {
    // The statement ended the transaction itself (COMMIT, ROLLBACK): what it
    // may have left for the session is cleared all the same.
    pqxx::nontransaction tx(connection);
    tx.exec(kClearSession);
    return;
  }
  {
    pqxx::nontransaction tx(connection);
    tx.exec(commit ? kEndActingAs : "ROLLBACK");
  }
  if (state(connection) != ConnectionState::idle) {
    throw Error("set_role mode: the transaction did not end (" +
                std::string(commit ? "COMMIT" : "ROLLBACK") + " left it open)");
  }
}

bool PqxxDriver::abandon_acting_as(pqxx::connection& connection) const noexcept {
  try {
    switch (state(connection)) {
      case ConnectionState::idle:
        return true;
      case ConnectionState::in_transaction: {
        {
          pqxx::nontransaction tx(connection);
          tx.exec("ROLLBACK");
        }
        return state(connection) == ConnectionState::idle;
      }
      case ConnectionState::broken:
        break;
    }
  } catch (const std::exception&) {
  }
  return false;
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

bool PqxxDriver::closed_by_server(pqxx::connection& connection) const noexcept {
  PGconn* handle = mutable_pgconn(connection);
  if (handle == nullptr || PQstatus(handle) != CONNECTION_OK) return true;
  const int fd = PQsocket(handle);
  if (fd < 0) return true;
  // An idle connection receives nothing unless the server has something to
  // say of its own: its last words before closing the session (a FATAL
  // ErrorResponse: shutdown, pg_terminate_backend, idle_session_timeout) and
  // then end-of-file, or a NOTIFY or ParameterStatus. A few rounds read the
  // last words and then find the end; a connection that keeps receiving
  // notifications is alive.
  for (int round = 0; round < 4; ++round) {
    pollfd look{fd, POLLIN, 0};
    const int ready = ::poll(&look, 1, 0);
    if (ready == 0) return false;  // nothing arrived: the usual case, one system call
    if (ready < 0) return false;   // cannot look (EINTR, ENOMEM): lend as before
    if ((look.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return true;
    // Non-blocking; 0 when the read failed or found end-of-file, after which
    // libpq has marked the connection bad.
    if (PQconsumeInput(handle) == 0) return true;
    if (PQstatus(handle) != CONNECTION_OK) return true;
  }
  return false;
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
