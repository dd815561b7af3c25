// Pool against a real PostgreSQL over TCP with scram passwords: statements
// with parameters, transactions through a lease, what happens when the server
// kills a backend, wrong passwords, and that close() leaves nothing logged in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>

#include "log_capture.hpp"
#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"
#include "pgobo/pqxx_pool.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class PoolIntegration : public PgTest {
 protected:
  [[nodiscard]] PoolOptions options_for(std::string_view role) const {
    PoolOptions options;
    options.name = std::string(role);
    options.connection.host = server().pool_host;
    options.connection.port = static_cast<std::uint16_t>(server().pool_port);
    options.connection.dbname = server().database;
    options.connection.user = std::string(role);
    options.connection.sslmode = SslMode::disable;
    options.connection.application_name = "pgobo-pool-test";
    options.connection.connect_timeout = 5s;
    options.credentials = std::make_shared<StaticPassword>(Secret{password_for(role)});
    options.max_size = 3;
    options.acquire_timeout = 10s;
    return options;
  }

  void terminate_backend(int pid) const {
    auto admin = superuser();
    pqxx::nontransaction tx(admin);
    pgobo::pqxx_compat::exec_params(tx, "SELECT pg_terminate_backend($1)", pid);
  }
};

TEST_F(PoolIntegration, QueryBindsParametersAndReturnsRows) {
  Pool pool(options_for(kAlice));

  const pqxx::result sum = pool.query("SELECT $1::int + $2::int", 2, 3);
  const pqxx::result notes =
      pool.query("SELECT body FROM app.notes WHERE body LIKE $1 ORDER BY id", "alice:%");

  EXPECT_EQ(sum[0][0].as<int>(), 5);
  ASSERT_EQ(notes.size(), 2U);
  EXPECT_EQ(notes[0][0].as<std::string>(), "alice: buy milk");
}

TEST_F(PoolIntegration, ConnectionsLogInAsTheConfiguredRoleSoRowLevelSecurityApplies) {
  Pool pool(options_for(kAlice));

  const pqxx::result rows = pool.query("SELECT current_user, count(*) FROM app.notes");

  EXPECT_EQ(rows[0][0].as<std::string>(), kAlice);
  EXPECT_EQ(rows[0][1].as<int>(), 2);  // bob's note is invisible
}

TEST_F(PoolIntegration, TransactionThroughALeaseCommits) {
  Pool pool(options_for(kAlice));
  {
    Lease lease = pool.connect();
    pqxx::work tx(*lease);
    pgobo::pqxx_compat::exec_params(tx, "INSERT INTO app.notes (body) VALUES ($1)",
                                    "alice: committed");
    tx.commit();
  }

  const pqxx::result rows = pool.query("SELECT count(*) FROM app.notes");

  EXPECT_EQ(rows[0][0].as<int>(), 3);
}

TEST_F(PoolIntegration, TransactionLeftOpenOnReleaseIsRolledBack) {
  auto options = options_for(kAlice);
  options.max_size = 1;  // the next lease is the same connection
  Pool pool(options);
  int first_pid = 0;
  {
    Lease lease = pool.connect();
    first_pid = lease->backendpid();
    pqxx::nontransaction raw(*lease);
    raw.exec("BEGIN");
    pgobo::pqxx_compat::exec_params(raw, "INSERT INTO app.notes (body) VALUES ($1)",
                                    "alice: never committed");
  }

  Lease lease = pool.connect();
  pqxx::nontransaction tx(*lease);
  const pqxx::result rows =
      tx.exec("SELECT count(*), now() = statement_timestamp() FROM app.notes");

  EXPECT_EQ(lease->backendpid(), first_pid);
  EXPECT_EQ(rows[0][0].as<int>(), 2);
  EXPECT_TRUE(rows[0][1].as<bool>());  // not inside the old transaction any more
}

TEST_F(PoolIntegration, TerminatedBackendIsReplacedAndNeverLentAgain) {
  auto options = options_for(kAlice);
  options.max_size = 1;
  Pool pool(options);
  int killed_pid = 0;
  {
    Lease lease = pool.connect();
    killed_pid = lease->backendpid();
    terminate_backend(killed_pid);
    ASSERT_TRUE(eventually([&] { return backends_of(kAlice) == 0; }));
    // Killed while leased: the next statement finds out, and the broken
    // connection is closed when its lease ends.
    EXPECT_THROW((void)pqxx::nontransaction(*lease).exec("SELECT 1"), pqxx::broken_connection);
  }
  Lease lease = pool.connect();
  const pqxx::result rows = pqxx::nontransaction(*lease).exec("SELECT pg_backend_pid()");

  EXPECT_NE(rows[0][0].as<int>(), killed_pid);
  EXPECT_EQ(pool.stats().closed.broken, 1U);
  EXPECT_EQ(pool.total_count(), 1U);
}

// Killed while idle: before lending it the pool sees locally that the server
// closed it (PqxxDriver::closed_by_server, no ping), with or without
// validate_idle_after, and lends a new connection instead.
TEST_F(PoolIntegration, AnIdleTerminatedBackendIsSeenBeforeALendAndReplaced) {
  for (const bool validate : {false, true}) {
    SCOPED_TRACE(validate ? "validate_idle_after = 0" : "no validation");
    auto options = options_for(kAlice);
    options.max_size = 1;
    if (validate) options.validate_idle_after = 0ms;
    Pool pool(options);
    int killed_pid = 0;
    {
      Lease lease = pool.connect();
      killed_pid = lease->backendpid();
    }
    terminate_backend(killed_pid);
    ASSERT_TRUE(eventually([&] { return backends_of(kAlice) == 0; }));

    const pqxx::result rows = pool.query("SELECT pg_backend_pid()");

    EXPECT_NE(rows[0][0].as<int>(), killed_pid);
    EXPECT_EQ(pool.stats().closed.broken, 1U);
    EXPECT_EQ(pool.stats().closed.validation_failed, 0U) << "seen before any ping";
  }
}

TEST_F(PoolIntegration, WrongPasswordIsAuthenticationFailedWithoutThePassword) {
  auto options = options_for(kAlice);
  const std::string wrong = "wrong-Pa55word-zq81";
  options.credentials = std::make_shared<StaticPassword>(Secret{wrong});
  Pool pool(options);

  try {
    (void)pool.connect();
    FAIL() << "logged in with a wrong password";
  } catch (const AuthenticationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("password authentication failed"));
    EXPECT_THAT(e.what(), HasSubstr("pool 'alice@example.com'"));
    EXPECT_THAT(e.what(), Not(HasSubstr(wrong)));
    EXPECT_THAT(e.what(), Not(HasSubstr(password_for(kAlice))));
  }
}

TEST_F(PoolIntegration, FailedLoginLogsAWarningWithoutAnyPassword) {
  auto options = options_for(kAlice);
  const std::string wrong = "wrong-Pa55word-log-check";
  options.credentials = std::make_shared<StaticPassword>(Secret{wrong});
  std::string log;
  {
    const LogCapture capture(spdlog::level::debug);
    {
      Pool pool(options);
      EXPECT_THROW((void)pool.connect(), AuthenticationFailed);
    }
    log = capture.text();
  }

  EXPECT_THAT(log, HasSubstr("[warning]"));
  EXPECT_THAT(log, HasSubstr("password authentication failed"));
  EXPECT_THAT(log, Not(HasSubstr(wrong)));
  EXPECT_THAT(log, Not(HasSubstr(password_for(kAlice))));
}

TEST_F(PoolIntegration, RotatedPasswordIsUsedByTheNextConnection) {
  auto options = options_for(kAlice);
  auto password = std::make_shared<std::string>(password_for(kAlice));
  auto password_mutex = std::make_shared<std::mutex>();
  options.credentials = make_credential_function([password, password_mutex] {
    std::lock_guard lock(*password_mutex);
    return Secret{*password};
  });
  Pool pool(options);
  (void)pool.query("SELECT 1");
  const std::string rotated = password_for(kAlice) + "-rotated";
  {
    auto admin = superuser();
    pqxx::nontransaction tx(admin);
    tx.exec("ALTER ROLE " + tx.quote_name(kAlice) + " PASSWORD " + tx.quote(rotated));
  }
  {
    std::lock_guard lock(*password_mutex);
    *password = rotated;
  }
  pool.close_idle_connections();

  const pqxx::result rows = pool.query("SELECT current_user");

  EXPECT_EQ(rows[0][0].as<std::string>(), kAlice);
  EXPECT_EQ(pool.stats().created, 2U);
}

TEST_F(PoolIntegration, ASessionSettingDoesNotReachTheNextLease) {
  auto options = options_for(kAlice);
  options.max_size = 1;
  Pool pool(options);
  {
    Lease lease = pool.connect();
    pqxx::nontransaction(*lease).exec("SET search_path = pg_catalog");
  }

  const pqxx::result rows = pool.query("SHOW search_path");

  EXPECT_EQ(rows[0][0].as<std::string>(), "\"$user\", public");
}

TEST_F(PoolIntegration, EndLeavesNoBackendOfTheRole) {
  Pool pool(options_for(kAlice));
  {
    Lease a = pool.connect();
    Lease b = pool.connect();
    Lease c = pool.connect();
  }
  ASSERT_EQ(backends_of(kAlice), 3);

  pool.close();

  EXPECT_TRUE(eventually([&] { return backends_of(kAlice) == 0; }));
}

}  // namespace
}  // namespace pgobo::test
