// The read-only policy's accept/refuse table, after the reference's rules.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "pgobo/errors.hpp"
#include "pgobo/sql_policy.hpp"

namespace pgobo {
namespace {

using namespace std::string_literals;

struct Case {
  const char* sql;
  bool allowed;
  const char* reason_part;  // for refusals: a phrase the reason must contain
};

class ReadOnlyPolicy : public ::testing::TestWithParam<Case> {};

TEST_P(ReadOnlyPolicy, ClassifiesAsExpected) {
  const Case& c = GetParam();
  const auto verdict = classify_read_only(c.sql);
  EXPECT_EQ(verdict.allowed, c.allowed) << c.sql << " -> " << verdict.reason;
  if (c.allowed) {
    EXPECT_TRUE(verdict.reason.empty());
  } else {
    EXPECT_NE(verdict.reason.find(c.reason_part), std::string::npos)
        << c.sql << " -> " << verdict.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReadOnlyPolicy,
    ::testing::Values(
        // Queries, any case, after whitespace and comments.
        Case{"SELECT 1", true, ""}, Case{"select * from app.notes", true, ""},
        Case{"  \n\tSeLeCt 1", true, ""}, Case{"WITH t AS (SELECT 1) SELECT * FROM t", true, ""},
        Case{"SHOW search_path", true, ""}, Case{"EXPLAIN SELECT 1", true, ""},
        Case{"EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1", true, ""},
        Case{"VALUES (1), (2)", true, ""}, Case{"TABLE app.notes", true, ""},
        Case{"(SELECT 1) UNION ALL (SELECT 2)", true, ""},
        Case{"-- leading comment\nSELECT 1", true, ""}, Case{"/* c */ SELECT 1", true, ""},
        Case{"/* outer /* nested */ still comment */ SELECT 1", true, ""},
        Case{"SELECT 1;", true, ""}, Case{"SELECT 1; SELECT 2", true, ""},
        Case{"SELECT 1;;  ; ", true, ""},
        // Semicolons hidden in literals do not split statements.
        Case{"SELECT 'a; DELETE FROM t'", true, ""}, Case{"SELECT 'it''s; DROP TABLE t'", true, ""},
        Case{"SELECT E'it\\'s; DROP TABLE t'", true, ""},
        Case{"SELECT \"weird;name\" FROM t", true, ""},
        Case{"SELECT \"a\"\"b;c\" FROM t", true, ""}, Case{"SELECT $$; DROP TABLE t$$", true, ""},
        Case{"SELECT $tag$; DELETE $$ FROM t$tag$", true, ""},
        Case{"SELECT * FROM t WHERE id = $1", true, ""},
        Case{"SELECT 1 -- ; DELETE FROM t", true, ""},
        Case{"SELECT 1 /* ; DELETE FROM t */", true, ""},
        // Read-only functions, and names of denied ones where they call nothing.
        Case{"SELECT count(*), now(), current_setting('search_path') FROM t", true, ""},
        Case{"SELECT set_config('search_path', 'app', true)", true, ""},
        Case{"SELECT set_config(setting_name => 'a', new_value => 'b', is_local => true)", true,
             ""},
        Case{"SELECT 'pg_advisory_lock(1)', \"pg_sleep\" FROM t", true, ""},
        Case{"SELECT nextval FROM t", true, ""},
        Case{"SELECT \"PG_SLEEP\"(1)", true, ""},  // quoted: another function, not pg_sleep
        Case{"SELECT txid_current_if_assigned(), currval('s')", true, ""},
        // Writes and every other statement are refused, naming the kind.
        Case{"DELETE FROM app.notes", false, "statement 1 is a DELETE"},
        Case{"insert into t values (1)", false, "is an INSERT"},
        Case{"UPDATE t SET x = 1", false, "UPDATE"}, Case{"DROP TABLE t", false, "DROP"},
        Case{"BEGIN", false, "BEGIN"}, Case{"COPY t TO STDOUT", false, "COPY"},
        Case{"SET ROLE postgres", false, "SET"},
        Case{"SET SESSION AUTHORIZATION postgres", false, "a SET or RESET"},
        Case{"RESET ALL", false, "a SET or RESET"}, Case{"LISTEN x", false, "a LISTEN"},
        Case{"NOTIFY x", false, "a NOTIFY"}, Case{"PREPARE p AS SELECT 1", false, "a PREPARE"},
        Case{"CREATE TEMP TABLE x (a int)", false, "a CREATE TABLE"},
        Case{"SELECT 1 INTO TEMP t", false, "SELECT INTO"},
        Case{"DO $$ BEGIN PERFORM 1; END $$", false, "a DO block"},
        Case{"DECLARE c CURSOR FOR SELECT 1", false, "DECLARE"},
        Case{"WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d", false, "holds a DELETE"},
        Case{"WITH d AS (SELECT 1) INSERT INTO t SELECT * FROM d", false, "is an INSERT"},
        Case{"EXPLAIN ANALYZE DELETE FROM t", false, "EXPLAIN of a DELETE"},
        Case{"SELECT 1; DELETE FROM t", false, "statement 2 is a DELETE"},
        Case{"SELECT 'x'; UPDATE t SET a = 1", false, "statement 2 is an UPDATE"},
        Case{"/* c */ DELETE FROM t", false, "DELETE"},
        // DESCRIBE is not PostgreSQL: the server would refuse it too.
        Case{"DESCRIBE notes", false, "syntax error at or near \"DESCRIBE\""},
        Case{"SELECTED 1", false, "syntax error at or near \"SELECTED\""},
        // Malformed or empty input is refused with a reason.
        Case{"", false, "empty statement"}, Case{"   ", false, "empty statement"},
        Case{";", false, "empty statement"}, Case{"-- only a comment", false, "empty statement"},
        Case{"SELECT 'unterminated", false, "unterminated quoted string"},
        Case{"SELECT E'ends in escape\\'", false, "unterminated quoted string"},
        Case{"SELECT \"unterminated", false, "unterminated quoted identifier"},
        Case{"SELECT $$unterminated", false, "unterminated dollar-quoted string"},
        Case{"SELECT $a$ x $b$", false, "unterminated dollar-quoted string"},
        Case{"/* unterminated", false, "unterminated /* comment"},
        Case{"/* a /* b */ SELECT 1", false, "unterminated /* comment"}));

// The deny list: each function refused, named, with why, however it is
// spelled. Every row failed before the policy parsed SQL.
INSTANTIATE_TEST_SUITE_P(
    DeniedFunctions, ReadOnlyPolicy,
    ::testing::Values(
        Case{"SELECT pg_advisory_lock(1)", false, "calls pg_advisory_lock(): it takes"},
        Case{"SELECT pg_advisory_xact_lock(1)", false, "pg_advisory_xact_lock()"},
        Case{"SELECT pg_try_advisory_lock_shared(1, 2)", false, "pg_try_advisory_lock_shared()"},
        Case{"SELECT pg_advisory_unlock_all()", false, "pg_advisory_unlock_all()"},
        Case{"SELECT PG_ADVISORY_LOCK(1)", false, "pg_advisory_lock()"},
        Case{"SELECT pg_catalog.pg_advisory_lock(1)", false, "pg_advisory_lock()"},
        Case{"SELECT \"pg_catalog\".\"pg_advisory_lock\"(1)", false, "pg_advisory_lock()"},
        Case{"SELECT pg_catalog . /* hidden */ pg_advisory_lock -- x\n (1)", false,
             "pg_advisory_lock()"},
        Case{"SELECT U&\"pg_\\0061dvisory_lock\"(1)", false, "pg_advisory_lock()"},
        Case{"SELECT U&\"pg_!0061dvisory_lock\" UESCAPE '!' (1)", false, "pg_advisory_lock()"},
        Case{"SELECT * FROM pg_advisory_lock(1)", false, "pg_advisory_lock()"},
        Case{"SELECT 1 WHERE EXISTS (SELECT pg_advisory_lock(1))", false, "pg_advisory_lock()"},
        Case{"SELECT 1; SELECT pg_advisory_lock(1)", false, "statement 2 calls pg_advisory_lock"},
        Case{"WITH l AS (SELECT pg_advisory_lock(1)) SELECT * FROM l", false, "pg_advisory_lock"},
        Case{"EXPLAIN ANALYZE SELECT pg_advisory_lock(1)", false, "pg_advisory_lock()"},
        Case{"SELECT pg_terminate_backend(pid) FROM pg_stat_activity", false,
             "pg_terminate_backend(): it signals other sessions"},
        Case{"SELECT pg_cancel_backend(1)", false, "pg_cancel_backend()"},
        Case{"SELECT pg_reload_conf()", false, "pg_reload_conf()"},
        Case{"SELECT pg_rotate_logfile()", false, "pg_rotate_logfile()"},
        Case{"SELECT dblink_exec('dbname=x', 'DELETE FROM t')", false,
             "dblink_exec(): it acts outside the transaction"},
        Case{"SELECT * FROM public.dblink('dbname=x', 'SELECT 1') AS t(a int)", false, "dblink()"},
        Case{"SELECT lo_import('/etc/passwd')", false, "lo_import()"},
        Case{"SELECT lo_unlink(1)", false, "lo_unlink()"},
        Case{"SELECT lowrite(0, 'x')", false, "lowrite()"},
        Case{"SELECT pg_read_file('postgresql.conf')", false, "pg_read_file(): it reads"},
        Case{"SELECT pg_read_binary_file('x')", false, "pg_read_binary_file()"},
        Case{"SELECT pg_read_file_old('x', 0, 1)", false, "pg_read_file_old()"},
        Case{"SELECT pg_extension_config_dump('t', '')", false, "pg_extension_config_dump()"},
        Case{"SELECT * FROM pg_ls_dir('.')", false, "pg_ls_dir()"},
        Case{"SELECT pg_stat_file('x')", false, "pg_stat_file()"},
        Case{"SELECT pg_file_write('x', 'y', false)", false, "pg_file_write()"},
        Case{"SELECT set_config('role', 'x', false)", false,
             "calls set_config() without the literal TRUE as is_local"},
        Case{"SELECT set_config('a', 'b', 1 = 1)", false, "set_config()"},
        // Who the statement runs as, and custom settings RLS policies read
        // (set_role mode's claims), not even for the transaction.
        Case{"SELECT set_config('role', 'bob', true)", false, "set_config() on 'role'"},
        Case{"SELECT set_config('ROLE', 'bob', true)", false, "set_config() on 'role'"},
        Case{"SELECT set_config('session_authorization', 'bob', true)", false,
             "set_config() on 'session_authorization'"},
        Case{"SELECT set_config('request.jwt.claims', '{}', true)", false,
             "the custom setting 'request.jwt.claims'"},
        Case{"SELECT set_config(new_value => '{}', setting_name => 'app.user', is_local => true)",
             false, "the custom setting 'app.user'"},
        Case{"SELECT set_config('ro' || 'le', 'bob', true)", false,
             "a setting named by an expression"},
        Case{"SELECT set_config('a', 'b', NULL)", false, "set_config()"},
        Case{"SELECT set_config('a', 'b')", false, "set_config()"},
        Case{"SELECT set_config(is_local => false, setting_name => 'a', new_value => 'b')", false,
             "set_config()"},
        Case{"SELECT pg_catalog.SET_CONFIG('a', 'b', false)", false, "set_config()"},
        Case{"SELECT pg_notify('c', 'x')", false, "pg_notify(): it sends a notification"},
        Case{"SELECT txid_current()", false, "txid_current()"},
        Case{"SELECT pg_current_xact_id()", false, "pg_current_xact_id()"},
        Case{"SELECT nextval('s')", false, "nextval(): it advances a sequence"},
        Case{"SELECT setval('s', 1)", false, "setval()"},
        Case{"SELECT setseed(0.5)", false, "setseed(): it changes session state"},
        Case{"SELECT pg_sleep(10)", false, "pg_sleep(): it only waits"},
        Case{"SELECT pg_sleep_for('1 hour')", false, "pg_sleep_for()"},
        Case{"SELECT query_to_xml('SELECT pg_advisory_lock(1)', true, true, '')", false,
             "query_to_xml(): it runs SQL text"},
        Case{"SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '')", false,
             "query_to_xml_and_xmlschema()"},
        Case{"SELECT cursor_to_xml('c', 1, true, true, '')", false, "cursor_to_xml()"},
        Case{"SELECT table_to_xml('t', true, true, '')", false, "table_to_xml()"},
        Case{"SELECT ts_stat('SELECT pg_advisory_lock(1)')", false, "ts_stat()"},
        Case{"SELECT * FROM crosstab('SELECT 1')", false, "crosstab()"},
        Case{"SELECT pg_logical_emit_message(false, 'p', 'x')", false, "pg_logical_emit_message()"},
        Case{"SELECT pg_create_physical_replication_slot('s')", false,
             "pg_create_physical_replication_slot()"},
        Case{"SELECT pg_drop_replication_slot('s')", false, "pg_drop_replication_slot()"},
        Case{"SELECT pg_promote()", false, "pg_promote()"},
        Case{"SELECT pg_switch_wal()", false, "pg_switch_wal()"},
        Case{"SELECT pg_backup_start('x')", false, "pg_backup_start()"},
        Case{"SELECT pg_import_system_collations('pg_catalog')", false,
             "pg_import_system_collations()"},
        Case{"SELECT pg_stat_reset()", false, "pg_stat_reset()"},
        Case{"SELECT brin_summarize_new_values('i')", false, "brin_summarize_new_values()"},
        Case{"SELECT t.pg_advisory_lock FROM t", false,
             "may call (column notation) pg_advisory_lock()"}));

TEST(ReadOnlyPolicyCheck, ThrowsSqlPolicyErrorWithTheReason) {
  try {
    check_read_only("DELETE FROM t");
    FAIL() << "expected SqlPolicyError";
  } catch (const SqlPolicyError& e) {
    EXPECT_NE(std::string(e.what()).find("read-only policy: statement 1 is a DELETE"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(check_read_only("SELECT 1"));
}

TEST(ReadOnlyPolicyCheck, ReasonQuotesAtMostAShortKeywordOfHugeInput) {
  const std::string huge(1 << 20, 'X');
  const auto verdict = classify_read_only(huge);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_LT(verdict.reason.size(), 200U);
}

TEST(ReadOnlyPolicyCheck, NulAndControlBytesAreRefusedNotEchoed) {
  const std::string with_nul("DEL\0ETE", 7);
  const auto verdict = classify_read_only(with_nul);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.reason.find('\0'), std::string::npos);

  const auto control = classify_read_only("\x01SELECT 1");
  EXPECT_FALSE(control.allowed);
  EXPECT_NE(control.reason.find("syntax error at or near \"?\""), std::string::npos)
      << control.reason;
}

// libpq sends the text up to its first NUL: the server would run a text the
// policy did not see as a whole. Refused, wherever the NUL is.
TEST(ReadOnlyPolicyCheck, NulAnywhereIsRefused) {
  const std::string in_literal = "SELECT 'a\0;DELETE' "s;
  ASSERT_EQ(in_literal.size(), 19U);
  const auto verdict = classify_read_only(in_literal);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_NE(verdict.reason.find("NUL byte at offset 9"), std::string::npos) << verdict.reason;
}

// The refusal names the function and says why, as check_read_only's message.
TEST(ReadOnlyPolicyCheck, DeniedFunctionErrorNamesItAndWhy) {
  try {
    check_read_only("SELECT pg_catalog.pg_advisory_lock(42)");
    FAIL() << "expected SqlPolicyError";
  } catch (const SqlPolicyError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "read-only policy: statement 1 calls pg_advisory_lock(): it takes or releases "
                  "an advisory lock"),
              std::string::npos)
        << e.what();
  }
}

// The grammar allows nesting thousands of levels deep; the policy walks the
// tree without recursion and refuses what the parser cannot take.
TEST(ReadOnlyPolicyCheck, DeepNestingIsHandled) {
  std::string deep = "SELECT ";
  for (int i = 0; i < 3000; ++i) deep += "coalesce(";
  deep += "pg_sleep(1)";
  for (int i = 0; i < 3000; ++i) deep += ")";
  const auto verdict = classify_read_only(deep);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_NE(verdict.reason.find("pg_sleep()"), std::string::npos) << verdict.reason;

  const std::string too_deep =
      "SELECT " + std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_FALSE(classify_read_only(too_deep).allowed);
}

// Bounded random input: never crashes, and a verdict has a reason iff refused.
TEST(ReadOnlyPolicyCheck, RandomBytesNeverCrashTheScanner) {
  std::mt19937 rng(12345);
  const std::string alphabet = "SELCTDWIHsel ;'\"$-/*\\\nE\0x1"s;
  ASSERT_NE(alphabet.find('\0'), std::string::npos);
  for (int i = 0; i < 20000; ++i) {
    std::string sql;
    const auto length = rng() % 40;
    for (unsigned j = 0; j < length; ++j) sql += alphabet[rng() % alphabet.size()];
    const auto verdict = classify_read_only(sql);
    EXPECT_EQ(verdict.allowed, verdict.reason.empty()) << sql;
  }
}

}  // namespace
}  // namespace pgobo
