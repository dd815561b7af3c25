// pgobo/sql_policy.hpp — is this SQL read-only enough to run for an AI agent?
//
// The policy of the reference (AppKit's Lakebase read-only queries), ported:
// split the text into statements on `;` (ignoring semicolons inside comments,
// quoted strings, quoted identifiers and dollar quotes) and require every
// statement to start with SELECT, WITH, SHOW, EXPLAIN, DESCRIBE or DESC.
// Comments end where PostgreSQL ends them (-- at CR or LF; /* */ nested).
//
//   pgobo::check_read_only("SELECT * FROM app.notes");   // ok
//   pgobo::check_read_only("DELETE FROM app.notes");     // throws SqlPolicyError
//
// This is a first filter, not the guarantee: `WITH d AS (DELETE …) SELECT …`
// passes it. RoutingPool::query_read_only() therefore also runs the statement
// inside BEGIN READ ONLY … ROLLBACK, where PostgreSQL itself refuses writes.
#pragma once

#include <string>
#include <string_view>

namespace pgobo {

struct ReadOnlyVerdict {
  bool allowed = false;
  // Why the text was refused (empty when allowed). Quotes at most a short
  // keyword of the input, never the whole text.
  std::string reason;
};

// Classifies `sql` without throwing.
[[nodiscard]] ReadOnlyVerdict classify_read_only(std::string_view sql);

// Throws pgobo::SqlPolicyError with the verdict's reason unless allowed.
void check_read_only(std::string_view sql);

}  // namespace pgobo
