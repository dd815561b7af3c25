// pgobo/pqxx_driver.hpp — how a pool opens, inspects and resets libpqxx
// connections.
//
// Pool (= BasicPool<PqxxDriver>) uses it; applications rarely touch it
// directly. It turns libpq's connect failures into pgobo's typed errors:
//
//   try {
//     pgobo::PqxxDriver{}.open(params, password);
//   } catch (const pgobo::AuthenticationFailed&) {   // wrong password, no such role
//   } catch (const pgobo::TooManyConnections&) {     // server out of slots
//   } catch (const pgobo::ServerUnavailable&) {      // refused, timeout, DNS, shutting down
//   } catch (const pgobo::ConnectError&) {           // UnclassifiedConnectError: see the message
//   }
//
// libpqxx 6.4, 7.x and 8.x (pgobo/pqxx_compat.hpp holds what differs). On
// 6.4 a connection's automatic "reactivation" (silently reconnecting a broken
// connection on next use) is switched off, so a broken connection stays
// broken and the pool replaces it; 7 and 8 never reconnect by themselves. libpqxx keeps the
// connection string, password included, inside the pqxx::connection for its
// lifetime; pgobo never logs or returns it.
#pragma once

#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>

#include "pgobo/connection_params.hpp"
#include "pgobo/detail/pool_errors.hpp"
#include "pgobo/driver.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/secret.hpp"
#include "pgobo/set_role.hpp"

namespace pgobo {

// What open() does when the role it logged in as could bypass row-level
// security (SUPERUSER or BYPASSRLS), for pools that act for a user.
enum class RlsBypass {
  allow,   // no check (the service principal's pool)
  warn,    // check, log a warning, use the connection
  refuse,  // check, close the connection, throw UnsafeRole (user pools' default)
};

class PqxxDriver {
 public:
  using Connection = pqxx::connection;

  PqxxDriver() = default;
  explicit PqxxDriver(RlsBypass rls_bypass) noexcept : rls_bypass_(rls_bypass) {}

  // Opens a connection with ConnectionParams::to_conninfo(password) (no
  // password if empty). Throws AuthenticationFailed, ServerUnavailable,
  // TooManyConnections or UnclassifiedConnectError with libpq's text, the
  // password masked (see "Why a login failed" below); UnsafeRole
  // when the RlsBypass check refuses the role (one extra round trip per new
  // connection, none when allowed).
  [[nodiscard]] std::unique_ptr<pqxx::connection> open(const ConnectionParams& params,
                                                       const Secret& password) const;

  // From libpq's own status (PQstatus, PQtransactionStatus): no round trip.
  [[nodiscard]] ConnectionState state(pqxx::connection& connection) const noexcept;
  // Before an idle connection is lent: whether the server has closed it
  // (shut down, failed over, pg_terminate_backend), seen locally. One
  // poll() of its socket with no wait (about a microsecond) when nothing
  // arrived, which is the usual case; when something did, libpq reads it
  // without blocking (PQconsumeInput): the server's last words and
  // end-of-file mean closed, a NOTIFY or ParameterStatus does not. Cannot
  // see a server that vanished without closing its sockets (a host or
  // network lost): that takes a round trip (PoolOptions::validate_idle_after)
  // or TCP keepalives.
  [[nodiscard]] bool closed_by_server(pqxx::connection& connection) const noexcept;
  // "ROLLBACK"; false if it failed.
  [[nodiscard]] bool rollback(pqxx::connection& connection) const noexcept;
  // Runs `sql` outside a transaction; false (and a warning) if it failed.
  [[nodiscard]] bool execute(pqxx::connection& connection, const std::string& sql) const noexcept;
  // kSessionReset in one message (one round trip); false (and a warning) if
  // it failed. Keeps prepared statements: libpqxx remembers which it
  // prepared and would not prepare them again.
  [[nodiscard]] bool reset_session(pqxx::connection& connection) const noexcept;
  // What reset_session() runs. Like DISCARD ALL without DEALLOCATE ALL (and
  // DISCARD PLANS/SEQUENCES, which only cost the next statements time):
  // RESET ALL leaves the role alone, hence RESET ROLE; RESET SESSION
  // AUTHORIZATION undoes what a superuser login may have changed.
  static constexpr const char* kSessionReset =
      "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL; RESET ROLE; "
      "RESET SESSION AUTHORIZATION; DISCARD TEMP";
  // "SELECT 1"; false if the server did not answer. When the RlsBypass check
  // refuses, the ping is that check instead (the same one round trip): a
  // role made SUPERUSER or BYPASSRLS after this connection logged in (which
  // PostgreSQL applies to open sessions at once) fails it, so the pool closes
  // the connection instead of lending it (with validate_idle_after set).
  [[nodiscard]] bool ping(pqxx::connection& connection) const noexcept;

  // One statement, outside a transaction, parameters bound to $1, $2…
  // (std::optional or nullptr for NULL; from libpqxx 7.6 also one
  // pqxx::params). What Pool::query() runs.
  template <class... Params>
  [[nodiscard]] pqxx::result query(pqxx::connection& connection, std::string_view sql,
                                   const Params&... params) const {
    pqxx::nontransaction tx(connection);
    return pqxx_compat::exec_params(tx, sql, params...);
  }

  // --- Acting as a role (RoutingPool's set_role mode, pgobo/set_role.hpp) --
  //
  // Opens a transaction acting as `who`, in one message (one round trip):
  //   [SELECT <check of the role and the login role, by name>; COMMIT;]
  //   BEGIN [READ ONLY]; RESET ALL; SET LOCAL ROLE <role>;
  //   [SET LOCAL <claims_setting> = <claims>]
  // Names and texts are quoted by libpq (PQescapeIdentifier/PQescapeLiteral).
  // The check (who.check) runs before the transaction, so the transaction has no
  // snapshot yet (a serializable pqxx::transaction may follow). A role that
  // does not exist, or that the login role is not a member of, throws
  // AuthenticationFailed; a user's role that is the login role itself throws
  // UnsafeRole, and with who.refuse_rls_bypass so does a SUPERUSER or
  // BYPASSRLS role, or a SUPERUSER, BYPASSRLS or INHERIT login role. Other
  // server errors are thrown as pqxx::sql_error. After a throw the
  // connection may be inside a transaction: abandon_acting_as().
  void begin_acting_as(pqxx::connection& connection, const ActingAs& who, bool read_only) const;
  // Ends it, one round trip: kEndActingAs when `commit`, else ROLLBACK.
  // When a statement ended the transaction itself, kClearSession instead.
  // Throws what the server said (a deferred constraint), or pgobo::Error when
  // a transaction is still open afterwards.
  void end_acting_as(pqxx::connection& connection, bool commit) const;
  // What a transaction may have left for the session, undone inside it
  // before COMMIT makes it last: deferred constraints and triggers fire
  // first, still as the user; then cursors (WITH HOLD too), LISTEN, session
  // advisory locks, temporary tables, settings (SET ROLE, SET …) go.
  static constexpr const char* kEndActingAs =
      "SET CONSTRAINTS ALL IMMEDIATE; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); "
      "DISCARD TEMP; RESET ALL; RESET ROLE; COMMIT";
  static constexpr const char* kClearSession =
      "CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; RESET ALL; "
      "RESET ROLE";
  // After a failure: ROLLBACK of whatever is open (which also undoes every
  // SET of the transaction). False when the connection is not idle
  // afterwards or could not be asked: close it.
  [[nodiscard]] bool abandon_acting_as(pqxx::connection& connection) const noexcept;

  // One statement as `who`: begin_acting_as(), the statement with the
  // extended protocol (one statement only, parameters bound as values), then
  // end_acting_as() (COMMIT, or ROLLBACK when `read_only`). Three round trips.
  template <class... Params>
  [[nodiscard]] pqxx::result query_as(pqxx::connection& connection, const ActingAs& who,
                                      bool read_only, std::string_view sql,
                                      const Params&... params) const {
    begin_acting_as(connection, who, read_only);
    return query_as_begun(connection, read_only, sql, params...);
  }
  // The statement and end_acting_as(), after begin_acting_as().
  template <class... Params>
  [[nodiscard]] pqxx::result query_as_begun(pqxx::connection& connection, bool read_only,
                                            std::string_view sql, const Params&... params) const {
    pqxx::result result;
    {
      pqxx::nontransaction tx(connection);
      result = pqxx_compat::exec_params(tx, sql, params...);
    }
    end_acting_as(connection, !read_only);
    return result;
  }

  // One statement inside BEGIN READ ONLY … ROLLBACK: PostgreSQL refuses any
  // write, also one hidden in a CTE or a function. What
  // RoutingPool::query_read_only() runs after the SQL policy.
  template <class... Params>
  [[nodiscard]] pqxx::result query_read_only(pqxx::connection& connection, std::string_view sql,
                                             const Params&... params) const {
    pqxx::read_transaction tx(connection);
    pqxx::result result = pqxx_compat::exec_params(tx, sql, params...);
    tx.abort();
    return result;
  }

 private:
  void check_rls_bypass(pqxx::connection& connection, const ConnectionParams& params) const;
  // What the role logged in on `connection` is, if it bypasses RLS
  // ("a SUPERUSER", "BYPASSRLS"); empty otherwise. One round trip.
  [[nodiscard]] static std::string rls_bypass_of(pqxx::connection& connection);

  RlsBypass rls_bypass_ = RlsBypass::allow;
};

// --- Why a login failed ------------------------------------------------------
//
// libpq reports a failed login as text, and the server's part of it comes in
// the server's lc_messages (libpq's own part in the client's locale): on a
// German server "password authentication failed" arrives as
// "Passwort-Authentifizierung … fehlgeschlagen". What does not depend on the
// language is the SQLSTATE of the server's ErrorResponse, which libpq 15
// gives for a failed connection only in its message, and only at
// PQERRORS_SQLSTATE verbosity set before the connection starts; libpqxx 6.4
// sets no verbosity. So PqxxDriver::open() classifies a failure by the
// English text when it recognizes it (no extra work with English servers),
// and otherwise makes one more connection attempt of its own at that
// verbosity to learn the code (docs/operations.md, "Connect errors in other
// languages").

// What the diagnostic attempt learned.
struct ConnectDiagnosis {
  bool connected = false;       // it logged in: the failure did not repeat
  std::string sqlstate;         // the server's error code; empty if the server sent none
  bool needs_password = false;  // libpq had no password for a server asking for one
};

// The kind a diagnosis means: SQLSTATE class 28, 3D000, 42501 and
// needs_password → authentication; 53300 → too_many; class 08, 57P01-57P03,
// the rest of class 53 and 58, no SQLSTATE at all (the server was not
// reached, or TLS failed), and `connected` (the failure did not repeat: a
// transient one) → unavailable; any other code → unclassified.
[[nodiscard]] detail::ConnectFailure connect_failure_of(const ConnectDiagnosis& diagnosis) noexcept;

// The SQLSTATE in a libpq message built at PQERRORS_SQLSTATE verbosity
// ("connection to server … failed: FATAL:  28P01"); with several hosts tried,
// the last one's. Empty when there is none.
[[nodiscard]] std::string sqlstate_in_libpq_message(std::string_view message);

// Throws the pgobo error that libpq's connect failure text `libpq_message`
// means, with a message naming host, port, database and user, and every
// occurrence of `password` (raw or conninfo-quoted) replaced by ***. When
// the text is not one pgobo recognizes, `diagnose` (if set) is called once
// and its diagnosis decides; the message then ends with the SQLSTATE.
[[noreturn]] void throw_connect_error(std::string_view libpq_message,
                                      const ConnectionParams& params, const Secret& password,
                                      const std::function<ConnectDiagnosis()>& diagnose = {});

}  // namespace pgobo
