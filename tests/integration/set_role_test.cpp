// set_role mode (issue 19): one shared pool logged in as an authenticator,
// each routed statement a transaction acting as its user (SET LOCAL ROLE).
// What it protects (escape attempts contained, nothing left on the
// connection, roles that bypass RLS refused, the authenticator holding no
// rights of its own) and what a lease of it is. The isolation and fault
// suites run in this mode too (ctest label set_role: PGOBO_TEST_ROUTING).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "pg_fixture.hpp"
#include "pgobo/context.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/routing_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class SetRole : public PgTest {
 protected:
  // The shared pool "shared" logs in as the authenticator; statements
  // without a user act as kServiceRole unless `service_role` is empty.
  [[nodiscard]] RoutingConfig config(std::size_t max_size = 2,
                                     std::string service_role = kServiceRole) const {
    RoutingConfig c;
    c.routing = RoutingMode::set_role;
    c.service.pool.name = "shared";
    c.service.pool.connection.host = server().pool_host;
    c.service.pool.connection.port = static_cast<std::uint16_t>(server().pool_port);
    c.service.pool.connection.dbname = server().database;
    c.service.pool.connection.user = kAuthenticatorRole;
    c.service.pool.connection.sslmode = SslMode::disable;
    c.service.pool.connection.application_name = "pgobo-set-role-test";
    c.service.pool.connection.connect_timeout = 5s;
    c.service.pool.max_size = max_size;
    c.service.password = Secret(password_for(kAuthenticatorRole));
    c.service_role = std::move(service_role);
    c.sweep_interval = 0ms;
    return c;
  }

  // current_user, session_user and the notes RLS lets the statement see.
  struct Seen {
    std::string current;
    std::string session;
    long notes = 0;
  };
  template <class Db>
  static Seen seen(Db&& db) {
    const pqxx::result r =
        db.query("SELECT current_user, session_user, (SELECT count(*) FROM app.notes)");
    return Seen{r[0][0].template as<std::string>(), r[0][1].template as<std::string>(),
                r[0][2].template as<long>()};
  }

  // Backends at the server itself (through PgBouncer too, where
  // backends_of() counts PgBouncer's clients).
  [[nodiscard]] int server_backends_of(const std::string& role) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    return tx.exec("SELECT count(*) FROM pg_stat_activity WHERE usename = " + tx.quote(role))[0][0]
        .as<int>();
  }

  // Roles outlive the test's database reset: created once, set each time.
  void ensure_role(const std::string& role, const std::string& attributes) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + tx.quote(role) +
            ") THEN CREATE ROLE " + tx.quote_name(role) + "; END IF; END $$");
    tx.exec("ALTER ROLE " + tx.quote_name(role) + " " + attributes);
  }

  void sql(const std::string& statement) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec(statement);
  }
};

TEST_F(SetRole, EachStatementRunsAsItsUserOnConnectionsOfTheAuthenticatorOnly) {
  auto db = RoutingPool::create(config());
  const Seen alice = seen(db->as_user(shared_user(kAlice)));
  EXPECT_EQ(alice.current, kAlice);
  EXPECT_EQ(alice.session, kAuthenticatorRole);
  EXPECT_EQ(alice.notes, 2);
  const Seen bob = seen(db->as_user(shared_user(kBob)));
  EXPECT_EQ(bob.current, kBob);
  EXPECT_EQ(bob.notes, 1);
  const Seen service = seen(*db);  // no user: the service role
  EXPECT_EQ(service.current, kServiceRole);
  EXPECT_EQ(service.notes, 3);  // the table's owner: RLS does not apply to it

  EXPECT_EQ(db->routing(), RoutingMode::set_role);
  EXPECT_EQ(backends_of(kAlice), 0);
  EXPECT_EQ(backends_of(kBob), 0);
  EXPECT_GE(backends_of(kAuthenticatorRole), 1);
  EXPECT_LE(backends_of(kAuthenticatorRole), 2);
  EXPECT_EQ(db->stats().users.pools, 0U);
  EXPECT_EQ(db->pg_config().user, kAuthenticatorRole);
}

TEST_F(SetRole, WritesAreCommittedAsTheUserAndRlsChecksThem) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));
  alice.query("INSERT INTO app.notes (body) VALUES ($1)", "alice: set_role");
  EXPECT_THROW(alice.query("INSERT INTO app.notes (owner, body) VALUES ($1, 'forged')", kBob),
               pqxx::sql_error);  // WITH CHECK (owner = current_user)
  auto conn = superuser();
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(
      tx.exec("SELECT owner FROM app.notes WHERE body = 'alice: set_role'")[0][0].as<std::string>(),
      kAlice);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM app.notes WHERE body = 'forged'")[0][0].as<long>(), 0);
}

TEST_F(SetRole, ClaimsAreTheUsersForTheTransactionOnlyAndNeverHoldTheToken) {
  auto db = RoutingPool::create(config(1));
  const UserPtr alice =
      std::make_shared<const UserContext>(make_user_context("u-alice", kAlice, "tok-SECRET-1"));
  const std::string claims = db->as_user(alice)
                                 .query("SELECT current_setting('request.jwt.claims', true)")[0][0]
                                 .as<std::string>();
  const auto json = nlohmann::json::parse(claims);
  EXPECT_EQ(json.at("sub"), "u-alice");
  EXPECT_EQ(json.at("email"), kAlice);
  EXPECT_EQ(json.at("role"), kAlice);
  EXPECT_THAT(claims, Not(HasSubstr("tok-SECRET-1")));
  // The one connection, next as the service: nothing of alice's is left.
  const pqxx::result after = db->query("SELECT current_setting('request.jwt.claims', true)");
  EXPECT_TRUE(after[0][0].is_null() || after[0][0].as<std::string>().empty());

  RoutingConfig c = config(1);
  c.claims_setting = "app.claims";
  c.claims_for = [](const UserContext& u) {
    return std::string(R"({"tenant":")") + u.user_id() + "\"}";
  };
  auto custom = RoutingPool::create(std::move(c));
  EXPECT_EQ(custom->as_user(alice)
                .query("SELECT current_setting('app.claims', true)")[0][0]
                .as<std::string>(),
            R"({"tenant":"u-alice"})");
}

TEST_F(SetRole, ReadOnlyRunsInAReadOnlyTransactionAsTheUser) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));
  const pqxx::result r =
      alice.query_read_only("SELECT current_user, current_setting('transaction_read_only')");
  EXPECT_EQ(r[0][0].as<std::string>(), kAlice);
  EXPECT_EQ(r[0][1].as<std::string>(), "on");
  // Policy first: statements that switch roles or settings never reach the server.
  for (const char* escape :
       {"RESET ROLE", "SET ROLE \"bob@example.com\"", "SET SESSION AUTHORIZATION DEFAULT",
        "SELECT set_config('role', 'bob@example.com', true)",
        "SELECT set_config('request.jwt.claims', '{}', true)", "COMMIT; SELECT 1"}) {
    EXPECT_THROW(alice.query_read_only(escape), SqlPolicyError) << escape;
  }
}

// Escape attempts through query(), the application's own SQL (as an
// injection would reach it). One connection, so the next statement shows
// what the attempt left behind: the session itself is read through the
// shared Pool's own query(), which adds no prologue.
TEST_F(SetRole, EscapeAttemptsThroughQueryAreContainedToTheirOwnStatement) {
  auto db = RoutingPool::create(config(1));
  auto alice = db->as_user(shared_user(kAlice));
  auto bob = db->as_user(shared_user(kBob));
  const auto session = [&] {
    const pqxx::result r = db->service_pool().query(
        "SELECT current_user, current_setting('search_path'), "
        "coalesce(current_setting('request.jwt.claims', true), ''), "
        "(SELECT count(*) FROM pg_catalog.pg_cursors WHERE name <> ''), "
        "(SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = "
        "pg_backend_pid()), pg_catalog.pg_my_temp_schema()::int");
    EXPECT_EQ(r[0][0].as<std::string>(), kAuthenticatorRole) << "the session's role";
    EXPECT_THAT(r[0][1].as<std::string>(), HasSubstr("public"));
    EXPECT_EQ(r[0][2].as<std::string>(), "") << "claims left for the session";
    EXPECT_EQ(r[0][3].as<long>(), 0) << "cursors left open";
    EXPECT_EQ(r[0][4].as<long>(), 0) << "advisory locks left";
  };
  // Two statements: the extended protocol refuses the message.
  EXPECT_THROW(alice.query("COMMIT; SELECT current_user"), pqxx::sql_error);
  EXPECT_THROW(alice.query("RESET ROLE; SELECT count(*) FROM app.notes"), pqxx::sql_error);
  session();
  // One statement each: it runs, nothing after it in the transaction does,
  // and what it left for the session is undone before COMMIT.
  for (const char* escape :
       {"RESET ROLE", "SET ROLE \"bob@example.com\"",
        "SELECT set_config('role', 'bob@example.com', false)",
        "SET request.jwt.claims = '{\"sub\":\"bob\"}'", "COMMIT", "ROLLBACK", "COMMIT AND CHAIN",
        "SET search_path = pg_catalog",
        "DECLARE page CURSOR WITH HOLD FOR SELECT body FROM app.notes",
        "SELECT pg_advisory_lock(42)", "CREATE TEMP TABLE mine AS SELECT body FROM app.notes",
        "LISTEN alices_channel"}) {
    SCOPED_TRACE(escape);
    EXPECT_NO_THROW(alice.query(escape));
    session();
    EXPECT_EQ(seen(bob).current, kBob);
    EXPECT_EQ(seen(alice).notes, 2);
    EXPECT_THROW(bob.query("FETCH 1 FROM page"), pqxx::sql_error);
    EXPECT_THROW(bob.query("SELECT * FROM mine"), pqxx::sql_error);
  }
  // Only a superuser may change the session user; the authenticator is none.
  try {
    alice.query("SET SESSION AUTHORIZATION \"bob@example.com\"");
    ADD_FAILURE() << "SET SESSION AUTHORIZATION ran";
  } catch (const pqxx::sql_error&) {
    EXPECT_EQ(describe_current_exception().sqlstate, "42501");
  }
  session();
  EXPECT_EQ(db->service_pool().total_count(), 1U);  // the one connection all along
}

TEST_F(SetRole, TheAuthenticatorHasNoRightsBeyondBecomingTheUsers) {
  pqxx::connection conn(conninfo_for(kAuthenticatorRole));
  pqxx::nontransaction tx(conn);
  EXPECT_FALSE(tx.exec("SELECT has_schema_privilege('app', 'USAGE')")[0][0].as<bool>());
  EXPECT_FALSE(tx.exec("SELECT has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE') "
                       "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = 'app' AND c.relname = 'notes'")[0][0]
                   .as<bool>());
  const pqxx::result attributes = tx.exec(
      "SELECT rolsuper, rolbypassrls, rolinherit, rolcreaterole, rolcreatedb FROM pg_roles "
      "WHERE rolname = current_user");
  for (const auto& field : attributes[0]) EXPECT_FALSE(field.as<bool>()) << field.name();
  try {
    tx.exec("SELECT count(*) FROM app.notes");
    ADD_FAILURE() << "the authenticator read app.notes";
  } catch (const pqxx::sql_error&) {
    EXPECT_EQ(describe_current_exception().sqlstate, "42501");
  }
  // What it may do: become a user, and then only what the user may.
  tx.exec("SET ROLE " + tx.quote_name(kAlice));
  EXPECT_EQ(tx.exec("SELECT count(*) FROM app.notes")[0][0].as<long>(), 2);
}

TEST_F(SetRole, ALeaseIsOneTransactionAsTheUserCommittedOnReturn) {
  auto db = RoutingPool::create(config(1));
  {
    pgobo::UserScope scope(shared_user(kAlice));
    Lease lease = db->connect();
    pqxx::nontransaction n(*lease);
    EXPECT_EQ(n.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
    n.exec("INSERT INTO app.notes (body) VALUES ('alice: kept at release')");
  }  // given back inside its transaction: committed, as autocommit would have
  {
    pgobo::UserScope scope(shared_user(kAlice));
    Lease lease = db->connect();
    {
      pqxx::work tx(*lease);  // BEGIN inside the lease's transaction: a warning only
      EXPECT_EQ(tx.exec("SELECT current_user")[0][0].as<std::string>(), kAlice);
      tx.exec("INSERT INTO app.notes (body) VALUES ('alice: work committed')");
      tx.commit();
    }
    // The first COMMIT ended the acting: what follows is the authenticator,
    // which may read nothing.
    pqxx::nontransaction n(*lease);
    EXPECT_EQ(n.exec("SELECT current_user")[0][0].as<std::string>(), kAuthenticatorRole);
    EXPECT_THROW(n.exec("SELECT count(*) FROM app.notes"), pqxx::sql_error);
  }
  {
    pgobo::UserScope scope(shared_user(kAlice));
    Lease lease = db->connect();
    pqxx::nontransaction n(*lease);
    n.exec("INSERT INTO app.notes (body) VALUES ('alice: discarded')");
    n.exec("SET ROLE \"bob@example.com\"");  // session-level: undone before the commit
    lease.discard();                         // closed: nothing committed
  }
  auto conn = superuser();
  pqxx::nontransaction tx(conn);
  const pqxx::result rows = tx.exec(
      "SELECT owner, body FROM app.notes WHERE body LIKE 'alice: %' AND id > 3 ORDER BY id");
  ASSERT_EQ(static_cast<std::size_t>(rows.size()), 2U);
  EXPECT_EQ(rows[0][1].as<std::string>(), "alice: kept at release");
  EXPECT_EQ(rows[1][1].as<std::string>(), "alice: work committed");
  for (const auto& row : rows) EXPECT_EQ(row[0].as<std::string>(), kAlice);
  EXPECT_EQ(seen(*db).current, kServiceRole);
}

TEST_F(SetRole, ALeaseReturnedAfterSessionChangesLeavesNothingForTheNextBorrower) {
  RoutingConfig c = config(1);
  c.service.pool.session_reset = SessionReset::never;  // the lease's reset happens anyway
  auto db = RoutingPool::create(std::move(c));
  {
    pgobo::UserScope scope(shared_user(kAlice));
    Lease lease = db->connect();
    pqxx::work tx(*lease);
    tx.exec("SET ROLE \"bob@example.com\"");
    tx.exec("SET search_path = pg_catalog");
    tx.commit();  // the session now holds both
    lease.set_session_reset(false);
  }
  const pqxx::result r =
      db->service_pool().query("SELECT current_user, current_setting('search_path')");
  EXPECT_EQ(r[0][0].as<std::string>(), kAuthenticatorRole);
  EXPECT_THAT(r[0][1].as<std::string>(), HasSubstr("public"));
  EXPECT_EQ(db->service_pool().total_count(), 1U);
}

// A serializable transaction on a lease: the prologue took no snapshot, so
// libpqxx's BEGIN ISOLATION LEVEL still applies (a warning of the BEGIN only).
TEST_F(SetRole, ALeaseTakesAnIsolationLevelOfItsTransaction) {
  auto db = RoutingPool::create(config(1));
  pgobo::UserScope scope(shared_user(kAlice));
  Lease lease = db->connect();
  pqxx::transaction<pqxx::isolation_level::serializable> tx(*lease);
  const pqxx::result r = tx.exec("SELECT current_user, current_setting('transaction_isolation')");
  EXPECT_EQ(r[0][0].as<std::string>(), kAlice);
  EXPECT_EQ(r[0][1].as<std::string>(), "serializable");
  tx.commit();
}

// Deferred constraint triggers fire before the end's resets: as the user,
// with the claims.
TEST_F(SetRole, DeferredTriggersRunAsTheUserWithTheClaims) {
  {
    auto conn = superuser();
    pqxx::work tx(conn);
    tx.exec("SET ROLE " + tx.quote_name(kServiceRole));
    tx.exec("CREATE TABLE app.audit (who text, claims text)");
    tx.exec("GRANT INSERT ON app.audit TO PUBLIC");
    tx.exec(
        "CREATE FUNCTION app.audit_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO app.audit VALUES (current_user, current_setting('request.jwt.claims', "
        "true)); RETURN NULL; END $$");
    tx.exec(
        "CREATE CONSTRAINT TRIGGER audit_note AFTER INSERT ON app.notes DEFERRABLE INITIALLY "
        "DEFERRED FOR EACH ROW EXECUTE FUNCTION app.audit_note()");
    tx.commit();
  }
  auto db = RoutingPool::create(config(1));
  db->as_user(shared_user(kAlice)).query("INSERT INTO app.notes (body) VALUES ('audited')");
  auto conn = superuser();
  pqxx::nontransaction tx(conn);
  const pqxx::result r = tx.exec("SELECT who, claims FROM app.audit");
  ASSERT_EQ(static_cast<std::size_t>(r.size()), 1U);
  EXPECT_EQ(r[0][0].as<std::string>(), kAlice);
  EXPECT_THAT(r[0][1].as<std::string>(), HasSubstr(kAlice));
}

TEST_F(SetRole, RolesThatBypassRlsAndASuperuserAuthenticatorAreRefused) {
  ensure_role("setrole-carol@example.com", "BYPASSRLS");
  sql("GRANT \"setrole-carol@example.com\" TO pgobo_authenticator");
  ensure_role("setrole-root@example.com", "SUPERUSER");
  sql("GRANT \"setrole-root@example.com\" TO pgobo_authenticator");
  auto db = RoutingPool::create(config(1));
  for (const char* role : {"setrole-carol@example.com", "setrole-root@example.com"}) {
    SCOPED_TRACE(role);
    auto user = db->as_user(shared_user(role));
    EXPECT_THROW(user.query("SELECT 1"), UnsafeRole);
    EXPECT_THROW(user.query_read_only("SELECT 1"), UnsafeRole);
    EXPECT_THROW((void)user.connect(), UnsafeRole);
    try {
      user.query("SELECT 1");
    } catch (const UnsafeRole& e) {
      EXPECT_THAT(e.what(), HasSubstr(role));
    }
  }
  EXPECT_EQ(seen(db->as_user(shared_user(kAlice))).current, kAlice);  // the connection is fine
  EXPECT_EQ(db->service_pool().total_count(), 1U);

  RoutingConfig allowed = config(1);
  allowed.allow_rls_bypass_roles = true;
  auto lenient = RoutingPool::create(std::move(allowed));
  EXPECT_EQ(lenient->as_user(shared_user("setrole-carol@example.com"))
                .query("SELECT current_user")[0][0]
                .as<std::string>(),
            "setrole-carol@example.com");

  // A role made BYPASSRLS after it was used: refused at its next statement
  // when each statement checks (role_check_ttl 0), …
  RoutingConfig every = config(1);
  every.role_check_ttl = 0ms;
  auto strict = RoutingPool::create(std::move(every));
  auto alice = strict->as_user(shared_user(kAlice));
  EXPECT_EQ(seen(alice).current, kAlice);
  auto cached_alice = db->as_user(shared_user(kAlice));
  EXPECT_EQ(seen(cached_alice).current, kAlice);
  sql("ALTER ROLE \"alice@example.com\" BYPASSRLS");
  EXPECT_THROW(alice.query("SELECT 1"), UnsafeRole);
  // … and within role_check_ttl (default 60 s) not yet where it passed lately.
  EXPECT_EQ(seen(cached_alice).current, kAlice);
  sql("ALTER ROLE \"alice@example.com\" NOBYPASSRLS");
  EXPECT_EQ(seen(alice).current, kAlice);

  // An authenticator with INHERIT holds every user role's rights itself.
  sql("ALTER ROLE pgobo_authenticator INHERIT");
  try {
    alice.query("SELECT 1");
    ADD_FAILURE() << "an INHERIT authenticator was accepted";
  } catch (const UnsafeRole& e) {
    EXPECT_THAT(e.what(), HasSubstr("INHERIT"));
  }
  sql("ALTER ROLE pgobo_authenticator NOINHERIT");

  // An authenticator that is a SUPERUSER could RESET ROLE to everything.
  if (server().via_pgbouncer) GTEST_SKIP() << kNoSuperuserBehindPgBouncer;
  sql("ALTER ROLE pgobo_authenticator SUPERUSER");
  auto unsafe = RoutingPool::create(config(1));
  try {
    unsafe->as_user(shared_user(kAlice)).query("SELECT 1");
    ADD_FAILURE() << "a SUPERUSER authenticator was accepted";
  } catch (const UnsafeRole& e) {
    EXPECT_THAT(e.what(), HasSubstr("authenticator"));
  }
  sql("ALTER ROLE pgobo_authenticator NOSUPERUSER");
}

TEST_F(SetRole, AMissingRoleOrOneTheAuthenticatorIsNotAMemberOfIsAnAuthenticationFailure) {
  ensure_role("setrole-eve@example.com", "NOLOGIN");  // exists, not granted to the authenticator
  auto db = RoutingPool::create(config(1));
  try {
    db->as_user(shared_user("nobody@example.com")).query("SELECT 1");
    ADD_FAILURE() << "no error for a missing role";
  } catch (const AuthenticationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("'nobody@example.com' does not exist"));
    EXPECT_THAT(e.what(), HasSubstr("GRANT"));
  }
  try {
    (void)db->as_user(shared_user("setrole-eve@example.com")).connect();
    ADD_FAILURE() << "no error for a role the authenticator is not a member of";
  } catch (const AuthenticationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a member of role 'setrole-eve@example.com'"));
  }
  EXPECT_EQ(seen(db->as_user(shared_user(kAlice))).current, kAlice);
  EXPECT_EQ(db->service_pool().total_count(), 1U);
  // Too long to be a role: refused before the server would cut it.
  EXPECT_THROW(db->as_user(shared_user(std::string(60, 'x') + "@example.com")).query("SELECT 1"),
               AuthenticationError);
}

// Names that would make a user someone else: 'none' (SET ROLE none is RESET
// ROLE), the authenticator's own name, the service role.
TEST_F(SetRole, AUserCannotActAsNoneTheAuthenticatorOrTheServiceRole) {
  auto db = RoutingPool::create(config(1));
  for (const char* role : {"none", kServiceRole}) {
    SCOPED_TRACE(role);
    auto user = db->as_user(make_user_context(role, "", "t"));
    EXPECT_THROW(user.query("SELECT 1"), AuthenticationError);
    EXPECT_THROW((void)user.connect(), AuthenticationError);
  }
  auto itself = db->as_user(make_user_context(kAuthenticatorRole, "", "t"));
  EXPECT_THROW(itself.query("SELECT 1"), UnsafeRole);
  EXPECT_EQ(seen(db->as_user(shared_user(kAlice))).current, kAlice);
  EXPECT_EQ(db->service_pool().total_count(), 1U);
}

TEST_F(SetRole, ARoleDroppedWhileInUseFailsItsUserOnlyAndLeavesTheConnectionClean) {
  {
    auto conn = superuser();
    pqxx::work tx(conn);
    (void)add_user(tx, "temp@example.com");
    tx.commit();
  }
  auto db = RoutingPool::create(config(1));
  auto temp = db->as_user(shared_user("temp@example.com"));
  EXPECT_EQ(seen(temp).current, "temp@example.com");
  {
    Lease lease = temp.connect();
    sql("DROP OWNED BY \"temp@example.com\"; DROP ROLE \"temp@example.com\"");
    pqxx::nontransaction n(*lease);
    try {
      // Still the dropped role's transaction: never anyone else.
      EXPECT_EQ(n.exec("SELECT current_user")[0][0].as<std::string>(), "temp@example.com");
    } catch (const std::exception&) {
      // the server may refuse statements of a role that no longer exists
    }
  }
  EXPECT_THROW(temp.query("SELECT 1"), AuthenticationFailed);
  EXPECT_EQ(seen(db->as_user(shared_user(kAlice))).current, kAlice);
  EXPECT_EQ(seen(*db).current, kServiceRole);
  EXPECT_EQ(db->service_pool().total_count(), 1U);
}

TEST_F(SetRole, ACommitRefusedByTheServerIsTheCallersErrorAndTheConnectionStaysClean) {
  {
    auto conn = superuser();
    pqxx::work tx(conn);
    tx.exec("SET ROLE " + tx.quote_name(kServiceRole));
    tx.exec("CREATE TABLE app.pairs (a int, b int, CONSTRAINT b_is_a CHECK (a = b)) ");
    tx.exec("CREATE TABLE app.uniq (k int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    tx.exec("GRANT INSERT ON app.uniq TO PUBLIC");
    tx.commit();
  }
  auto db = RoutingPool::create(config(1));
  auto alice = db->as_user(shared_user(kAlice));
  try {
    alice.query("INSERT INTO app.uniq VALUES (1), (1)");  // fails at COMMIT
    ADD_FAILURE() << "the deferred unique violation was not reported";
  } catch (const pqxx::sql_error&) {
    EXPECT_EQ(describe_current_exception().sqlstate, "23505");
  }
  EXPECT_EQ(seen(alice).current, kAlice);
  EXPECT_EQ(db->service_pool().total_count(), 1U);
}

// 10,000 users, each with a role of its own (NOLOGIN, in a group holding
// the grants), through 10 connections: every statement as its own user, and
// the server never sees more than the 10.
TEST_F(SetRole, TenThousandUsersShareTenConnections) {
  // Under a sanitizer (CI time) 2,000: the same sharing, a fifth of the work.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kUsers = 2'000;
#else
  constexpr int kUsers = 10'000;
#endif
  constexpr int kThreads = 16;
  // Idempotent: a run that failed half-way may have left some of them.
  sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgobo_many') THEN "
      "CREATE ROLE pgobo_many NOLOGIN; END IF; "
      "GRANT USAGE ON SCHEMA app TO pgobo_many; GRANT SELECT ON app.notes TO pgobo_many; "
      "FOR i IN 0.." +
      std::to_string(kUsers - 1) +
      " LOOP "
      "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'many' || i) THEN "
      "EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE pgobo_many', 'many' || i); END IF; "
      "EXECUTE format('GRANT %I TO pgobo_authenticator', 'many' || i); END LOOP; END $$");
  auto db = RoutingPool::create(config(10));
  std::atomic<int> next{0};
  std::atomic<int> mismatches{0};
  std::atomic<int> failures{0};
  std::atomic<int> peak{0};
  std::mutex first_mutex;
  std::string first;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kUsers; i = next++) {
        const std::string role = "many" + std::to_string(i);
        try {
          auto user = db->as_user(make_user_context(role, "", "token-" + role));
          if (user.query("SELECT current_user")[0][0].as<std::string>() != role) ++mismatches;
        } catch (const std::exception& e) {
          if (failures++ == 0) {
            const std::lock_guard lock(first_mutex);
            first = e.what();
          }
        }
        if (i % 500 == 0) {
          const int now = backends_of(kAuthenticatorRole);
          for (int seen_peak = peak;
               now > seen_peak && !peak.compare_exchange_weak(seen_peak, now);) {
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(failures, 0) << first;
  EXPECT_LE(peak, 10);
  EXPECT_LE(db->service_pool().total_count(), 10U);
  std::cout << "[ measure  ] " << kUsers << " users on " << db->service_pool().total_count()
            << " connections, peak " << peak << " at the server\n";
  db->close();
  sql("DO $$ BEGIN FOR i IN 0.." + std::to_string(kUsers - 1) +
      " LOOP "
      "EXECUTE format('DROP ROLE %I', 'many' || i); END LOOP; "
      "DROP OWNED BY pgobo_many; DROP ROLE pgobo_many; END $$");
}

// The shared pool's backends killed between rounds of statements: every
// statement after a kill still runs as its own user, a killed idle
// connection is replaced before it is lent, and nothing fails.
TEST_F(SetRole, BackendsKilledBetweenRoundsAreReplacedAndNoStatementChangesIdentity) {
  auto db = RoutingPool::create(config(4));
  const std::vector<std::string> users = {kAlice, kBob};
  int mismatches = 0;
  for (int round = 0; round < 5; ++round) {
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        auto user = db->as_user(shared_user(users[static_cast<std::size_t>(t) % 2]));
        for (int i = 0; i < 25; ++i) {
          if (seen(user).current != user.user().key()) ++wrong;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    mismatches += wrong;
    // With a timeout, pg_terminate_backend waits until the backend is gone: the
    // next round starts after every kill, no polling.
    sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = "
        "'pgobo_authenticator'");
    EXPECT_EQ(server_backends_of(kAuthenticatorRole), 0) << "round " << round;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(seen(db->as_user(shared_user(kAlice))).current, kAlice);
  EXPECT_LE(db->service_pool().total_count(), 4U);
}

// The claims setting is written into the prologue unquoted: the driver
// refuses one that is not a plain prefix.name even when no create() checked it.
TEST_F(SetRole, AClaimsSettingThatIsNotANameNeverReachesTheServer) {
  RoutingConfig c = config(1);
  auto service = std::make_shared<Pool>(c.service.make_pool_options());
  PoolManager::Options users;
  users.credentials_for = [](const UserContext&) -> std::shared_ptr<CredentialProvider> {
    throw ConfigError("no user pools");
  };
  users.sweep_interval = 0ms;
  SetRoleRouting routing;
  routing.service_role = kServiceRole;
  routing.claims_setting = "a.b = '1'; RESET ROLE; SET LOCAL x.y";
  RoutingPool db(service, users, PqxxDriver(RlsBypass::refuse), std::nullopt, routing);
  EXPECT_THROW(db.as_user(shared_user(kAlice)).query("SELECT 1"), ConfigError);
  EXPECT_EQ(service->total_count(), 1U);
  EXPECT_EQ(db.service_pool().query("SELECT current_user")[0][0].as<std::string>(),
            kAuthenticatorRole);
}

TEST_F(SetRole, ConfigurationThatWouldBeIgnoredIsRefused) {
  RoutingConfig limited = config();
  limited.max_total_connections = 10;
  EXPECT_THROW((void)RoutingPool::create(std::move(limited)), ConfigError);
  RoutingConfig pools = config();
  pools.max_pools = 10;
  EXPECT_THROW((void)RoutingPool::create(std::move(pools)), ConfigError);
  RoutingConfig claims = config();
  claims.claims_setting = "role";  // a real setting, not a custom one
  EXPECT_THROW((void)RoutingPool::create(std::move(claims)), ConfigError);
  RoutingConfig no_service_role = config();
  no_service_role.service_role.clear();
  EXPECT_THROW((void)RoutingPool::create(std::move(no_service_role)), ConfigError);
  RoutingConfig per_user = config();
  per_user.routing = RoutingMode::per_user_pools;
  per_user.user_credentials = [](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret("x"));
  };
  EXPECT_THROW((void)RoutingPool::create(std::move(per_user)), ConfigError);  // service_role
}

}  // namespace
}  // namespace pgobo::test
