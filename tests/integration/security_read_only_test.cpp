// query_read_only() against a real PostgreSQL: the deny list of the SQL
// policy (docs/security.md). BEGIN READ ONLY … ROLLBACK stops writes to
// tables, but not a session advisory lock (which outlives the ROLLBACK),
// signals to other sessions, dblink, sequences or notifications. The policy
// refuses those calls before a connection is even taken; these tests show it
// with the server's own view (pg_locks, pg_stat_activity, the sequence).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "pg_fixture.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "test_routing.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr int kLockKey = 4242;

class ReadOnlyDenyList : public PgTest {
 protected:
  [[nodiscard]] RoutingConfig config() const {
    return routing_config(server(), "pgobo-read-only-test");
  }

  // Advisory locks held by any session, seen from a connection of its own.
  [[nodiscard]] int advisory_locks() const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    return tx.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0][0].as<int>();
  }

  [[nodiscard]] long notes_sequence() const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    return tx.exec("SELECT last_value FROM app.notes_id_seq")[0][0].as<long>();
  }
};

// The danger is real: inside BEGIN READ ONLY … ROLLBACK, which is all
// query_read_only() had besides the keyword check, a session advisory lock
// survives. (Run on a plain connection of alice's, not through pgobo.)
TEST_F(ReadOnlyDenyList, ASessionAdvisoryLockOutlivesAReadOnlyRollback) {
  pqxx::connection alice(conninfo_for(kAlice));
  {
    pqxx::read_transaction tx(alice);
    tx.exec("SELECT pg_advisory_lock(" + std::to_string(kLockKey) + ")");
  }  // rolled back
  EXPECT_EQ(advisory_locks(), 1);
}

struct Denied {
  const char* sql;
  const char* reason_part;
};

// Each is refused by the policy: no connection of alice's is ever opened, so
// the server never sees the statement.
TEST_F(ReadOnlyDenyList, EachDeniedCallIsRefusedBeforeReachingTheServer) {
  const std::vector<Denied> denied{
      {"SELECT pg_advisory_lock(4242)", "pg_advisory_lock()"},
      {"SELECT pg_catalog.pg_advisory_lock(4242)", "pg_advisory_lock()"},
      {"SELECT \"pg_catalog\".\"pg_advisory_lock\" /* c */ (4242)", "pg_advisory_lock()"},
      {"SELECT U&\"pg_\\0061dvisory_lock\"(4242)", "pg_advisory_lock()"},
      {"SELECT PG_TRY_ADVISORY_LOCK(4242)", "pg_try_advisory_lock()"},
      {"SELECT query_to_xml('SELECT pg_advisory_lock(4242)', true, true, '')", "query_to_xml()"},
      {"SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend()"},
      {"SELECT pg_cancel_backend(pg_backend_pid())", "pg_cancel_backend()"},
      {"SELECT public.dblink_exec('dbname=postgres', 'DELETE FROM app.notes')", "dblink_exec()"},
      {"SELECT set_config('search_path', 'pg_temp', false)", "set_config()"},
      {"SELECT nextval('app.notes_id_seq')", "nextval()"},
      {"SELECT pg_notify('channel', 'payload')", "pg_notify()"},
      {"SELECT pg_sleep(600)", "pg_sleep()"},
      {"SELECT lo_import('/etc/passwd')", "lo_import()"},
      {"SELECT pg_read_file('postgresql.conf')", "pg_read_file()"},
      {"SET SESSION AUTHORIZATION DEFAULT", "a SET or RESET"},
      {"LISTEN channel", "a LISTEN"},
      {"PREPARE p AS SELECT 1", "a PREPARE"},
      {"CREATE TEMP TABLE t (a int)", "a CREATE TABLE"},
      {"SELECT 1 INTO TEMP t", "SELECT INTO"},
  };
  const long sequence_before = notes_sequence();
  {
    pqxx::connection service(
        conninfo_for(kServiceRole));  // a session pg_terminate_backend would hit
    auto db = RoutingPool::create(config());
    auto alice = db->as_user(shared_user(kAlice));

    for (const auto& d : denied) {
      SCOPED_TRACE(d.sql);
      try {
        (void)alice.query_read_only(d.sql);
        ADD_FAILURE() << "query_read_only ran it";
      } catch (const SqlPolicyError& e) {
        EXPECT_THAT(e.what(), HasSubstr(d.reason_part));
      }
    }

    EXPECT_FALSE(db->manager().has_pool(kAlice)) << "no connection was even taken";
    EXPECT_EQ(backends_of(kAlice), 0);
    EXPECT_EQ(advisory_locks(), 0) << "no advisory lock is held after the refusals";
    EXPECT_EQ(notes_sequence(), sequence_before);
    EXPECT_TRUE(service.is_open());
    pqxx::nontransaction tx(service);
    EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1) << "the service's session was not killed";

    // A plain query of alice's still runs, on a connection that holds no lock.
    const pqxx::result rows = alice.query_read_only(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()");
    EXPECT_EQ(rows[0][0].as<int>(), 0);
  }
  EXPECT_EQ(advisory_locks(), 0);
}

// What the deny list lets through still runs: SET LOCAL through set_config()
// with is_local TRUE ends with the transaction.
TEST_F(ReadOnlyDenyList, LocalSetConfigIsAllowedAndEndsWithTheTransaction) {
  auto db = RoutingPool::create(config());
  auto alice = db->as_user(shared_user(kAlice));

  const pqxx::result set = alice.query_read_only(
      "SELECT set_config('application_name', 'changed-locally', true), "
      "current_setting('application_name')");
  EXPECT_EQ(set[0][1].as<std::string>(), "changed-locally");

  const pqxx::result after = alice.query_read_only("SELECT current_setting('application_name')");
  EXPECT_NE(after[0][0].as<std::string>(), "changed-locally");
}

}  // namespace
}  // namespace pgobo::test
