// The throwaway PostgreSQL the integration tests run against, and a fixture
// that puts it in a known state before every test.
//
// scripts/pg starts the server and exports PGOBO_PG_* (see that script).
// Without them the tests are skipped, unless PGOBO_REQUIRE_PG is set (as
// scripts/test does), in which case a missing server is a failure: a CI run
// must never pass by skipping its integration tests.
//
// Known state after SetUp():
//   roles  pgobo_service          LOGIN, owns schema app (so RLS does not
//                                 apply to it: it sees every row)
//          alice@example.com,     LOGIN NOSUPERUSER NOBYPASSRLS; RLS applies
//          bob@example.com
//   table  app.notes(id, owner default current_user, body) with RLS policy
//          owner = current_user; alice owns 2 rows, bob 1.
//   every role's password is password_for(role); no backend of a test role
//   is left from an earlier test.
//
// Every password_for() value and the superuser's password are registered with
// the secret guard (secret_guard.hpp): none may ever reach pgobo's log.
//
// Through PgBouncer: with PGOBO_PG_VIA=pgbouncer (the ctest label pgbouncer
// sets it; scripts/test starts one PgBouncer in transaction pooling mode with
// scripts/pgbouncer), pgobo's pools connect to PgBouncer (pool_host,
// pool_port) while the fixture's own set-up (superuser()) still talks to the
// server directly, and backends_of() counts PgBouncer's clients (the
// connections pgobo holds) instead of the server's backends.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "connection_census.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "secret_guard.hpp"
#include "test_users.hpp"

namespace pgobo::test {

inline constexpr const char* kServiceRole = "pgobo_service";
// set_role mode's login (RoutingConfig::routing): a member of every user
// role and of kServiceRole, NOINHERIT, with no rights of its own.
inline constexpr const char* kAuthenticatorRole = "pgobo_authenticator";

// PGOBO_TEST_ROUTING=set_role (the set_role ctest label): routing_config()
// (test_routing.hpp) builds routers in set_role mode, so the same suites
// run in both modes.
[[nodiscard]] inline bool testing_set_role_mode() {
  const char* mode = std::getenv("PGOBO_TEST_ROUTING");  // NOLINT(concurrency-mt-unsafe)
  return mode != nullptr && std::string_view(mode) == "set_role";
}
inline constexpr const char* kAlice = "alice@example.com";
inline constexpr const char* kBob = "bob@example.com";

struct PgServer {
  std::string host;
  int port = 0;
  std::string socket_dir;
  std::string database;
  std::string superuser;
  std::string superuser_password;
  // Where pgobo's pools connect: the server itself, or the PgBouncer in
  // front of it when the test runs through PgBouncer.
  std::string pool_host;
  int pool_port = 0;
  bool via_pgbouncer = false;
  std::string pgbouncer_admin_conninfo;  // its admin console, when via_pgbouncer

  // The server scripts/pg started, or nullopt when none was (or when the
  // test should run through a PgBouncer that scripts/pgbouncer did not start).
  static const std::optional<PgServer>& get() {
    static const std::optional<PgServer> server = from_env();
    return server;
  }

  // Superuser over TCP (scram-sha-256).
  [[nodiscard]] std::string superuser_conninfo() const {
    return tcp_conninfo(superuser, superuser_password);
  }

  // Any role over TCP with a password, straight to the server.
  [[nodiscard]] std::string tcp_conninfo(std::string_view role, std::string_view password) const {
    return "host=" + host + " port=" + std::to_string(port) + " dbname=" + database +
           " user=" + quote(role) + " password=" + quote(password);
  }

  // Counts pgobo's connections by role: at the server, or at PgBouncer
  // when the test runs through it (connection_census.hpp).
  [[nodiscard]] ConnectionCensus census() const {
    return via_pgbouncer ? ConnectionCensus::at_pgbouncer(pgbouncer_admin_conninfo)
                         : ConnectionCensus::at_server(superuser_conninfo());
  }

  // What a refused password login says: the server names the role,
  // PgBouncer (which checks the SCRAM proof itself) does not.
  [[nodiscard]] std::string refused_password_text(std::string_view role) const {
    if (via_pgbouncer) return "SASL authentication failed";
    return "password authentication failed for user \"" + std::string(role) + "\"";
  }

  // Which connection `connection` is, as ConnectionCensus::ids_of() names
  // it: its backend's pid, or through PgBouncer its own local port (PgBouncer
  // lends each transaction whichever server connection is free, so the pid
  // names no client connection).
  [[nodiscard]] int connection_id(pqxx::connection& connection) const {
    if (!via_pgbouncer) {
      pqxx::nontransaction tx(connection);
      return tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
    }
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(connection.sock(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("getsockname failed on a connection to PgBouncer");
    }
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }

  // Quotes a conninfo value by libpq's rules (single quotes, \ escapes).
  static std::string quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  }

 private:
  static std::optional<PgServer> from_env() {
    auto env = [](const char* name) -> std::string {
      const char* value = std::getenv(name);
      return value ? value : "";
    };
    PgServer s;
    s.host = env("PGOBO_PG_HOST");
    const std::string port = env("PGOBO_PG_PORT");
    if (s.host.empty() || port.empty()) return std::nullopt;
    s.port = std::stoi(port);
    s.socket_dir = env("PGOBO_PG_SOCKET_DIR");
    s.database = env("PGOBO_PG_DATABASE");
    s.superuser = env("PGOBO_PG_SUPERUSER");
    s.superuser_password = env("PGOBO_PG_SUPERUSER_PASSWORD");
    if (s.superuser_password.size() >= 8) register_secret(s.superuser_password);
    s.pool_host = s.host;
    s.pool_port = s.port;
    if (env("PGOBO_PG_VIA") == "pgbouncer") {
      const std::string bouncer_port = env("PGOBO_PGBOUNCER_PORT");
      s.pool_host = env("PGOBO_PGBOUNCER_HOST");
      if (s.pool_host.empty() || bouncer_port.empty()) return std::nullopt;
      s.pool_port = std::stoi(bouncer_port);
      s.via_pgbouncer = true;
      const std::string admin_password = env("PGOBO_PGBOUNCER_ADMIN_PASSWORD");
      if (admin_password.size() >= 8) register_secret(admin_password);
      s.pgbouncer_admin_conninfo =
          "host=" + s.pool_host + " port=" + bouncer_port +
          " dbname=pgbouncer user=" + quote(env("PGOBO_PGBOUNCER_ADMIN_USER")) +
          " password=" + quote(admin_password);
    }
    return s;
  }
};

// Passwords of the test roles: distinctive and random per test process, so a
// leak check can search logs and messages for them.
inline std::string password_for(std::string_view role) {
  static const std::string suffix = [] {
    std::random_device rd;
    std::string s;
    const char* alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (int i = 0; i < 20; ++i) s += alphabet[rd() % 57];
    return s;
  }();
  std::string password = "pw-" + std::string(role.substr(0, role.find('@'))) + "-" + suffix;
  register_secret(password);
  return password;
}

// Why a test of a SUPERUSER login skips behind PgBouncer: scripts/pgbouncer's
// auth_query hides superusers (as PgBouncer's documentation advises), so
// PgBouncer refuses their login before pgobo's check could see one. The
// BYPASSRLS cases run the same check there.
inline constexpr const char* kNoSuperuserBehindPgBouncer =
    "superusers cannot log in through PgBouncer (its auth_query hides them)";

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PgServer::get()) {
      if (std::getenv("PGOBO_REQUIRE_PG") != nullptr) {
        FAIL() << "PGOBO_REQUIRE_PG is set but no server is described by PGOBO_PG_* (or "
                  "PGOBO_PG_VIA=pgbouncer and no PgBouncer by PGOBO_PGBOUNCER_*); run the "
                  "tests through scripts/test, or scripts/pg run [scripts/pgbouncer run]";
      }
      GTEST_SKIP() << "no PostgreSQL (run through scripts/pg run -- ctest ...)";
    }
    reset_database();
  }

  [[nodiscard]] const PgServer& server() const { return *PgServer::get(); }

  [[nodiscard]] pqxx::connection superuser() const {
    return pqxx::connection(server().superuser_conninfo());
  }

  [[nodiscard]] std::string conninfo_for(std::string_view role) const {
    return server().tcp_conninfo(role, password_for(role));
  }

  // Creates (or resets) a login role subject to RLS with password_for(role)
  // and the grants a user needs on app.notes.
  void ensure_user_role(pqxx::work& tx, std::string_view role) {
    const std::string name = tx.quote_name(std::string(role));
    tx.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " +
            tx.quote(std::string(role)) + ") THEN CREATE ROLE " + name + "; END IF; END $$");
    tx.exec("ALTER ROLE " + name + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD " +
            tx.quote(password_for(role)));
    tx.exec("GRANT USAGE ON SCHEMA app TO " + name);
    tx.exec("GRANT SELECT, INSERT, UPDATE, DELETE ON app.notes TO " + name);
    tx.exec("GRANT USAGE ON SEQUENCE app.notes_id_seq TO " + name);
    // For set_role mode: the authenticator may become the user.
    tx.exec("GRANT " + name + " TO " + tx.quote_name(kAuthenticatorRole));
  }

  // A user whose role exists (ensure_user_role) once `tx` commits.
  UserPtr add_user(pqxx::work& tx, const std::string& email) {
    ensure_user_role(tx, email);
    return shared_user(email);
  }

  // `count` users numbered_email(prefix, 0…count-1), each with a login role.
  std::vector<UserPtr> make_users(const std::string& prefix, int count) {
    std::vector<UserPtr> users;
    auto conn = superuser();
    pqxx::work tx(conn);
    for (int i = 0; i < count; ++i) users.push_back(add_user(tx, numbered_email(prefix, i)));
    tx.commit();
    return users;
  }

  // Number of pgobo's connections logged in as `role` (server backends, or
  // PgBouncer's clients through PgBouncer: see connection_census.hpp).
  [[nodiscard]] int backends_of(std::string_view role) const { return server().census().of(role); }

  // Connections of a load test: its roles "<prefix>…" and the service
  // principal.
  [[nodiscard]] int load_backends(const std::string& prefix) const {
    auto census = server().census();
    int total = census.of(kServiceRole);
    for (const auto& [role, n] : census.by_role(prefix)) total += n;
    return total;
  }

 private:
  void reset_database() {
    auto conn = superuser();
    {
      pqxx::nontransaction tx(conn);
      // Nothing from an earlier test may still be logged in.
      tx.exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE usename IS NOT NULL AND usename <> current_user "
          "AND backend_type = 'client backend'");
    }
    pqxx::work tx(conn);
    const std::string service = tx.quote_name(kServiceRole);
    tx.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " +
            tx.quote(kServiceRole) + ") THEN CREATE ROLE " + service + "; END IF; END $$");
    tx.exec("ALTER ROLE " + service + " LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD " +
            tx.quote(password_for(kServiceRole)));
    // set_role mode's authenticator: it logs in, may become any user (and the
    // service), and has no rights of its own (NOINHERIT: not even theirs).
    const std::string authenticator = tx.quote_name(kAuthenticatorRole);
    tx.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " +
            tx.quote(kAuthenticatorRole) + ") THEN CREATE ROLE " + authenticator +
            "; END IF; END $$");
    tx.exec("ALTER ROLE " + authenticator +
            " LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD " +
            tx.quote(password_for(kAuthenticatorRole)));
    tx.exec("GRANT " + service + " TO " + authenticator);
    tx.exec("DROP SCHEMA IF EXISTS app CASCADE");
    tx.exec("CREATE SCHEMA app AUTHORIZATION " + service);
    tx.exec("SET ROLE " + service);
    tx.exec(
        "CREATE TABLE app.notes ("
        "  id bigserial PRIMARY KEY,"
        "  owner text NOT NULL DEFAULT current_user,"
        "  body text NOT NULL)");
    tx.exec("ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY");
    tx.exec(
        "CREATE POLICY own_notes ON app.notes FOR ALL TO PUBLIC "
        "USING (owner = current_user) WITH CHECK (owner = current_user)");
    tx.exec(
        "INSERT INTO app.notes (owner, body) VALUES "
        "('alice@example.com', 'alice: buy milk'), "
        "('alice@example.com', 'alice: call bob'), "
        "('bob@example.com', 'bob: fix the bike')");
    tx.exec("RESET ROLE");
    ensure_user_role(tx, kAlice);
    ensure_user_role(tx, kBob);
    tx.commit();
  }
};

}  // namespace pgobo::test
