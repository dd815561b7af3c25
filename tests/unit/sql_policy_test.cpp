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
        // Allowed first keywords, any case, after whitespace and comments.
        Case{"SELECT 1", true, ""}, Case{"select * from app.notes", true, ""},
        Case{"  \n\tSeLeCt 1", true, ""}, Case{"WITH t AS (SELECT 1) SELECT * FROM t", true, ""},
        Case{"SHOW search_path", true, ""}, Case{"EXPLAIN SELECT 1", true, ""},
        Case{"DESCRIBE notes", true, ""}, Case{"desc notes", true, ""},
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
        // Writes and everything else are refused, naming the keyword.
        Case{"DELETE FROM app.notes", false, "statement 1 starts with DELETE"},
        Case{"insert into t values (1)", false, "starts with INSERT"},
        Case{"UPDATE t SET x = 1", false, "UPDATE"}, Case{"DROP TABLE t", false, "DROP"},
        Case{"BEGIN", false, "BEGIN"}, Case{"COPY t TO STDOUT", false, "COPY"},
        Case{"SET ROLE postgres", false, "SET"}, Case{"(SELECT 1)", false, "'('"},
        Case{"SELECT 1; DELETE FROM t", false, "statement 2 starts with DELETE"},
        Case{"SELECT 'x'; UPDATE t SET a = 1", false, "statement 2 starts with UPDATE"},
        Case{"SELECTED 1", false, "SELECTED"}, Case{"/* c */ DELETE FROM t", false, "DELETE"},
        // Malformed or empty input is refused with a reason.
        Case{"", false, "empty statement"}, Case{"   ", false, "empty statement"},
        Case{";", false, "empty statement"}, Case{"-- only a comment", false, "empty statement"},
        Case{"SELECT 'unterminated", false, "unterminated string literal"},
        Case{"SELECT E'ends in escape\\'", false, "unterminated string literal"},
        Case{"SELECT \"unterminated", false, "unterminated quoted identifier"},
        Case{"SELECT $$unterminated", false, "unterminated dollar-quoted string"},
        Case{"SELECT $a$ x $b$", false, "unterminated dollar-quoted string"},
        Case{"/* unterminated", false, "unterminated /* comment"},
        Case{"/* a /* b */ SELECT 1", false, "unterminated /* comment"}));

TEST(ReadOnlyPolicyCheck, ThrowsSqlPolicyErrorWithTheReason) {
  try {
    check_read_only("DELETE FROM t");
    FAIL() << "expected SqlPolicyError";
  } catch (const SqlPolicyError& e) {
    EXPECT_NE(std::string(e.what()).find("read-only policy: statement 1 starts with DELETE"),
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
  EXPECT_NE(control.reason.find("non-keyword character"), std::string::npos);
}

TEST(ReadOnlyPolicyCheck, NulInsideAStringLiteralDoesNotEndIt) {
  const std::string sql = "SELECT 'a\0;DELETE' "s;
  ASSERT_EQ(sql.size(), 19U);
  EXPECT_TRUE(classify_read_only(sql).allowed);
}

// Bounded random input: never crashes, and any accepted text starts (after
// blanks and comments) with an allowed keyword.
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
