// Fuzzes the read-only SQL policy (sql_policy.hpp).
//
// Properties checked on every input:
// - classify_read_only() never throws; check_read_only() throws exactly
//   SqlPolicyError when the verdict refuses, with the verdict's reason.
// - A reason is short printable ASCII (it quotes at most a keyword).
// - Differential: an independent lexer written after PostgreSQL 15's
//   scan.l splits the text into statements; whenever the policy accepts, no
//   statement the server would see begins with a keyword other than the
//   allowed ones (a write keyword such as DELETE, DROP, INSERT, UPDATE…).
// - Metamorphic: an accepted text followed by "\n;DELETE FROM t" is refused,
//   and so is one followed by a call of a denied function, spelled one of the
//   ways PostgreSQL resolves to the same name (case, quotes, schema, comments,
//   U& escapes); an accepted text stays accepted after "SELECT 1;\n".
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/errors.hpp"
#include "pgobo/sql_policy.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view sql, std::string_view detail = {}) {
  std::fprintf(stderr, "sql_policy_fuzz: %s\n  detail: %.*s\n  input (%zu bytes): %.*s\n", what,
               static_cast<int>(detail.size()), detail.data(), sql.size(),
               static_cast<int>(sql.size() > 500 ? 500 : sql.size()), sql.data());
  std::abort();
}

// --- The reference lexer: PostgreSQL 15 scan.l, standard_conforming_strings on.

bool pg_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool pg_ident_start(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}
bool pg_ident_cont(unsigned char c) {
  return pg_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

// The first word of each top-level statement, upper-cased (empty when the
// statement starts with something else). nullopt when the text ends inside
// a literal or comment: the server refuses it as a whole.
std::optional<std::vector<std::string>> statement_first_words(std::string_view s) {
  std::vector<std::string> words;
  bool at_statement_start = true;
  std::size_t i = 0;
  const auto n = s.size();
  while (i < n) {
    const char c = s[i];
    if (pg_space(c)) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < n && s[i + 1] == '-') {  // to the end of the line (LF or CR)
      while (i < n && s[i] != '\n' && s[i] != '\r') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {  // nested block comments
      int depth = 0;
      while (i < n) {
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
      if (depth != 0) return std::nullopt;
      continue;
    }
    if (c == ';') {
      at_statement_start = true;
      ++i;
      continue;
    }
    const bool starts = at_statement_start;
    at_statement_start = false;
    if (pg_ident_start(static_cast<unsigned char>(c))) {
      const std::size_t begin = i;
      while (i < n && pg_ident_cont(static_cast<unsigned char>(s[i]))) ++i;
      const std::string_view word = s.substr(begin, i - begin);
      // E'…' (and e'…'): an escape string when the E is a word of its own.
      if ((word == "E" || word == "e") && i < n && s[i] == '\'') {
        ++i;
        bool closed = false;
        while (i < n) {
          if (s[i] == '\\') {
            i += 2;
          } else if (s[i] == '\'') {
            if (i + 1 < n && s[i + 1] == '\'') {
              i += 2;
            } else {
              ++i;
              closed = true;
              break;
            }
          } else {
            ++i;
          }
        }
        if (!closed) return std::nullopt;
        if (starts) words.emplace_back();
        continue;
      }
      if (starts) {
        std::string upper;
        for (const char w : word) upper += (w >= 'a' && w <= 'z') ? static_cast<char>(w - 32) : w;
        words.push_back(upper);
      }
      continue;
    }
    if (starts) words.emplace_back();
    if (c == '\'' || c == '"') {  // doubled quote inside
      ++i;
      bool closed = false;
      while (i < n) {
        if (s[i] == c) {
          if (i + 1 < n && s[i + 1] == c) {
            i += 2;
          } else {
            ++i;
            closed = true;
            break;
          }
        } else {
          ++i;
        }
      }
      if (!closed) return std::nullopt;
      continue;
    }
    if (c == '$') {
      // $tag$ … $tag$, tag = [A-Za-z\200-\377_][A-Za-z\200-\377_0-9]* or empty.
      std::size_t j = i + 1;
      if (j < n && pg_ident_start(static_cast<unsigned char>(s[j]))) {
        while (j < n && pg_ident_cont(static_cast<unsigned char>(s[j])) && s[j] != '$') ++j;
      }
      if (j < n && s[j] == '$') {
        const std::string_view tag = s.substr(i, j - i + 1);
        const std::size_t close = s.find(tag, j + 1);
        if (close == std::string_view::npos) return std::nullopt;
        i = close + tag.size();
        continue;
      }
      ++i;  // $1 parameter or a lone $
      continue;
    }
    ++i;  // digits, operators, punctuation
  }
  return words;
}

// What the policy's parse tree allows a statement to start with: queries
// (SELECT, WITH, VALUES, TABLE, or a parenthesis: no word), SHOW, EXPLAIN.
constexpr std::array<std::string_view, 6> kAllowed{"SELECT",  "WITH",  "SHOW",
                                                   "EXPLAIN", "TABLE", "VALUES"};

// A call of a denied function, each spelled differently; the policy must
// refuse every one after any accepted text.
constexpr std::array<std::string_view, 8> kDeniedCalls{
    "SELECT pg_advisory_lock(1)",
    "SELECT PG_CATALOG . /* c */ \"pg_advisory_lock\" -- c\n (1)",
    "SELECT U&\"pg_\\0061dvisory_lock\"(1)",
    "SELECT * FROM public.dblink_exec('', '')",
    "SELECT query_to_xml('SELECT 1', true, true, '')",
    "SELECT set_config('role', 'x', false)",
    "VALUES (pg_terminate_backend(1))",
    "EXPLAIN ANALYZE SELECT Pg_Sleep(1)",
};

bool allowed_word(const std::string& word) {
  if (word.empty()) return true;  // not a keyword: the server raises a syntax error
  for (const auto allowed : kAllowed) {
    if (word == allowed) return true;
  }
  return false;
}

void check_reason(const pgobo::ReadOnlyVerdict& verdict, std::string_view sql) {
  if (verdict.allowed != verdict.reason.empty()) fail("reason set iff refused broken", sql);
  if (verdict.reason.size() > 200) fail("reason longer than 200 bytes", sql, verdict.reason);
  for (const char c : verdict.reason) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) fail("reason holds a non-printable byte", sql, verdict.reason);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  const pgobo::ReadOnlyVerdict verdict = pgobo::classify_read_only(sql);
  check_reason(verdict, sql);

  try {
    pgobo::check_read_only(sql);
    if (!verdict.allowed) fail("check_read_only accepted what classify refused", sql);
  } catch (const pgobo::SqlPolicyError& e) {
    if (verdict.allowed) fail("check_read_only refused what classify accepted", sql, e.what());
    if (std::string_view(e.what()).find(verdict.reason) == std::string_view::npos) {
      fail("SqlPolicyError without the verdict's reason", sql, e.what());
    }
  }

  if (!verdict.allowed) return 0;

  if (const auto words = statement_first_words(sql)) {
    for (const auto& word : *words) {
      if (!allowed_word(word)) fail("accepted a statement PostgreSQL starts with", sql, word);
    }
  }

  std::string with_write(sql);
  with_write += "\n;DELETE FROM t";
  const auto write_verdict = pgobo::classify_read_only(with_write);
  if (write_verdict.allowed) fail("accepted text + \"\\n;DELETE FROM t\"", sql);
  check_reason(write_verdict, with_write);

  std::string with_call(sql);
  with_call += "\n;";
  with_call += kDeniedCalls[size % kDeniedCalls.size()];
  const auto call_verdict = pgobo::classify_read_only(with_call);
  if (call_verdict.allowed) fail("accepted text + a denied call", sql, with_call);
  check_reason(call_verdict, with_call);

  const std::string after_select = "SELECT 1;\n" + std::string(sql);
  if (!pgobo::classify_read_only(after_select).allowed) {
    fail("refused \"SELECT 1;\\n\" + an accepted text", sql);
  }
  return 0;
}
