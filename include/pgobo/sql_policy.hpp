// pgobo/sql_policy.hpp — is this SQL read-only enough to run for an AI agent?
//
// The text is parsed with PostgreSQL 15's own grammar (libpg_query), so the
// policy sees statements, names and literals exactly as the server will:
// comments, quoting, dollar quotes, U&"…" escapes and schema qualification
// cannot hide anything from it. A text is allowed when
//
// - it holds at least one statement, no NUL byte, and parses;
// - every statement is a query (SELECT, WITH … SELECT, VALUES, TABLE), a SHOW,
//   or an EXPLAIN of a query; no SELECT INTO, no INSERT/UPDATE/DELETE/MERGE
//   inside WITH;
// - no function of the deny list is called anywhere in it (docs/security.md
//   lists it): functions whose effect outlives the transaction or reaches
//   other sessions (session advisory locks, pg_terminate_backend, dblink,
//   large objects, server files, sequences, pg_notify…), and functions that
//   run SQL text the policy cannot see (query_to_xml, ts_stat…). A function
//   is matched by its name in any schema; set_config() is allowed only with
//   the literal TRUE as is_local.
//
//   pgobo::check_read_only("SELECT * FROM app.notes");          // ok
//   pgobo::check_read_only("DELETE FROM app.notes");            // throws SqlPolicyError
//   pgobo::check_read_only("SELECT pg_advisory_lock(1)");       // throws SqlPolicyError
//
// This is a first filter, not the guarantee: a function defined in the
// database can do anything its owner allows, under any name. So
// RoutingPool::query_read_only() also runs the statement inside
// BEGIN READ ONLY … ROLLBACK, where PostgreSQL itself refuses writes.
#pragma once

#include <string>
#include <string_view>

namespace pgobo {

struct ReadOnlyVerdict {
  bool allowed = false;
  // Why the text was refused (empty when allowed): the statement's number and
  // kind or the function refused, and why. Short printable ASCII; quotes at
  // most a short excerpt of the input, never the whole text.
  std::string reason;
};

// Classifies `sql` without throwing.
[[nodiscard]] ReadOnlyVerdict classify_read_only(std::string_view sql);

// Throws pgobo::SqlPolicyError with the verdict's reason unless allowed.
void check_read_only(std::string_view sql);

}  // namespace pgobo
