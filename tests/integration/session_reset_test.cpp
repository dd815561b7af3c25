// The session reset between borrowers, against a real PostgreSQL over TCP:
// what one lease leaves in its session (a session advisory lock, a setting,
// the role, LISTEN, a cursor, a temporary table) never reaches the next
// lease of the same connection, while libpqxx's prepared statements keep
// working across leases (DISCARD ALL would break them: refused).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/pqxx_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class SessionReset : public PgTest {
 protected:
  // One connection, so every lease gets the same backend.
  [[nodiscard]] PoolOptions one_connection(pgobo::SessionReset reset) const {
    PoolOptions options;
    options.name = "reset-test";
    options.connection.host = server().pool_host;
    options.connection.port = static_cast<std::uint16_t>(server().pool_port);
    options.connection.dbname = server().database;
    options.connection.user = kAlice;
    options.connection.sslmode = SslMode::disable;
    options.connection.connect_timeout = 5s;
    options.credentials = std::make_shared<StaticPassword>(Secret{password_for(kAlice)});
    options.max_size = 1;
    options.acquire_timeout = 10s;
    options.session_reset = reset;
    return options;
  }

  // Session advisory locks held by anyone, seen from another connection.
  [[nodiscard]] int advisory_locks() const {
    auto admin = superuser();
    pqxx::nontransaction tx(admin);
    return tx.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0][0].as<int>();
  }

  // What a borrower leaves behind: every kind of session state at once.
  static void dirty(Pool& pool) {
    Lease lease = pool.connect();
    pqxx::nontransaction tx(*lease);
    tx.exec("SELECT pg_advisory_lock(4242)");
    tx.exec("SET search_path = pg_catalog");
    tx.exec("LISTEN pgobo_reset_test");
    tx.exec("CREATE TEMP TABLE leftover (x int)");
    tx.exec("DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1");
  }

  struct Seen {
    std::string search_path;
    int listening = 0;
    int cursors = 0;
    bool temp_table = false;
  };
  static Seen look(Pool& pool) {
    Lease lease = pool.connect();
    pqxx::nontransaction tx(*lease);
    Seen seen;
    seen.search_path = tx.exec("SHOW search_path")[0][0].as<std::string>();
    seen.listening = tx.exec("SELECT count(*) FROM pg_listening_channels()")[0][0].as<int>();
    seen.cursors = tx.exec("SELECT count(*) FROM pg_cursors")[0][0].as<int>();
    seen.temp_table = !tx.exec("SELECT to_regclass('pg_temp.leftover')")[0][0].is_null();
    return seen;
  }
};

TEST_F(SessionReset, NothingALeaseLeftInItsSessionReachesTheNextLease) {
  Pool pool(one_connection(pgobo::SessionReset::when_exposed));
  dirty(pool);

  const int locks = advisory_locks();
  const Seen seen = look(pool);

  EXPECT_EQ(locks, 0);
  EXPECT_EQ(seen.search_path, "\"$user\", public");
  EXPECT_EQ(seen.listening, 0);
  EXPECT_EQ(seen.cursors, 0);
  EXPECT_FALSE(seen.temp_table);
  EXPECT_EQ(pool.stats().created, 1U);  // the same connection, reset, not a new one
}

// The control: without the reset, the same connection carries it all over.
TEST_F(SessionReset, WithoutTheResetTheNextLeaseInheritsTheSession) {
  Pool pool(one_connection(pgobo::SessionReset::never));
  dirty(pool);

  const int locks = advisory_locks();
  const Seen seen = look(pool);

  EXPECT_EQ(locks, 1);
  EXPECT_EQ(seen.search_path, "pg_catalog");
  EXPECT_EQ(seen.listening, 1);
  EXPECT_EQ(seen.cursors, 1);
  EXPECT_TRUE(seen.temp_table);
}

TEST_F(SessionReset, ASetRoleIsUndone) {
  {
    auto admin = superuser();
    pqxx::work tx(admin);
    ensure_user_role(tx, kBob);
    tx.exec("GRANT " + tx.quote_name(kBob) + " TO " + tx.quote_name(kAlice));
    tx.commit();
  }
  Pool pool(one_connection(pgobo::SessionReset::when_exposed));
  {
    Lease lease = pool.connect();
    pqxx::nontransaction(*lease).exec("SET ROLE " + lease->quote_name(kBob));
  }

  const pqxx::result rows = pool.query("SELECT current_user");

  EXPECT_EQ(rows[0][0].as<std::string>(), kAlice);
}

TEST_F(SessionReset, PreparedStatementsSurviveTheResetAcrossLeases) {
  Pool pool(one_connection(pgobo::SessionReset::always));
  {
    Lease lease = pool.connect();
    lease->prepare("pgobo_add", "SELECT $1::int + $2::int");
    pqxx::work tx(*lease);
    EXPECT_EQ(pgobo::pqxx_compat::exec_prepared(tx, "pgobo_add", 1, 2)[0][0].as<int>(), 3);
    tx.commit();
  }
  pool.query("SELECT 1");  // one more release, and its reset, in between

  Lease lease = pool.connect();
  pqxx::work tx(*lease);
  const pqxx::result rows = pgobo::pqxx_compat::exec_prepared(tx, "pgobo_add", 20, 22);

  EXPECT_EQ(rows[0][0].as<int>(), 42);
  EXPECT_EQ(pool.stats().created, 1U);
}

TEST_F(SessionReset, DiscardAllAsResetQueryIsRefusedBecauseItBreaksPreparedStatements) {
  auto options = one_connection(pgobo::SessionReset::when_exposed);
  options.reset_query = "discard   ALL";

  try {
    Pool pool(options);
    FAIL() << "a reset_query with DISCARD ALL was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("reset_query must not contain DISCARD ALL or DEALLOCATE"));
    EXPECT_THAT(e.what(), HasSubstr("prepared statement does not exist"));
  }
}

// Why DISCARD ALL is refused, shown on the server: libpqxx still believes in
// the statement the server forgot.
TEST_F(SessionReset, DiscardAllOnAPooledConnectionLosesLibpqxxPreparedStatements) {
  Pool pool(one_connection(pgobo::SessionReset::never));
  {
    Lease lease = pool.connect();
    lease->prepare("pgobo_one", "SELECT 1");
    {
      pqxx::work tx(*lease);
      (void)pgobo::pqxx_compat::exec_prepared(tx, "pgobo_one");  // prepared on the server by now
      tx.commit();
    }
    pqxx::nontransaction(*lease).exec("DISCARD ALL");
  }

  Lease lease = pool.connect();
  pqxx::work tx(*lease);

  EXPECT_THROW((void)pgobo::pqxx_compat::exec_prepared(tx, "pgobo_one"), pqxx::sql_error);
}

}  // namespace
}  // namespace pgobo::test
