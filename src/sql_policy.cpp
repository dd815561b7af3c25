#include "pgobo/sql_policy.hpp"

#include <array>
#include <cstddef>
#include <optional>

#include "pgobo/errors.hpp"

namespace pgobo {
namespace {

constexpr std::array<std::string_view, 6> kAllowedFirstKeywords{"SELECT",  "WITH",     "SHOW",
                                                                "EXPLAIN", "DESCRIBE", "DESC"};
constexpr std::size_t kMaxQuotedKeyword = 32;

bool is_ident_start(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
}
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// Walks the text once, tracking where each statement starts its first
// keyword. Everything that can hide a `;` is skipped as a unit.
class Scanner {
 public:
  explicit Scanner(std::string_view sql) : sql_(sql) {}

  ReadOnlyVerdict run() {
    std::size_t statement = 0;    // 1-based number of the current statement
    bool statement_open = false;  // seen the first token of this statement?
    bool any_statement = false;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (is_space(c)) {
        ++pos_;
      } else if (c == '-' && peek(1) == '-') {
        skip_line_comment();
      } else if (c == '/' && peek(1) == '*') {
        if (!skip_block_comment()) return refuse("unterminated /* comment");
      } else if (c == ';') {
        statement_open = false;
        ++pos_;
      } else if (!statement_open) {
        statement_open = true;
        any_statement = true;
        ++statement;
        if (auto refusal = check_first_keyword(statement)) return *refusal;
      } else if (!skip_token()) {
        return refuse(unterminated_);
      }
    }
    if (!any_statement) return refuse("empty statement: nothing to run");
    return ReadOnlyVerdict{true, {}};
  }

 private:
  [[nodiscard]] char peek(std::size_t ahead) const {
    return pos_ + ahead < sql_.size() ? sql_[pos_ + ahead] : '\0';
  }

  static ReadOnlyVerdict refuse(std::string reason) {
    return ReadOnlyVerdict{false, std::move(reason)};
  }

  std::optional<ReadOnlyVerdict> check_first_keyword(std::size_t statement) {
    const std::size_t start = pos_;
    while (pos_ < sql_.size() && is_ident_char(sql_[pos_])) ++pos_;
    std::string word;
    for (std::size_t i = start; i < pos_ && word.size() <= kMaxQuotedKeyword; ++i) {
      word += to_upper(sql_[i]);
    }
    for (auto allowed : kAllowedFirstKeywords) {
      if (word == allowed) return std::nullopt;
    }
    std::string shown;
    if (word.empty()) {
      shown = "'" + std::string(1, sql_[start]) + "'";
      if (static_cast<unsigned char>(sql_[start]) < 0x20 ||
          static_cast<unsigned char>(sql_[start]) >= 0x7f) {
        shown = "a non-keyword character";
      }
    } else {
      if (word.size() > kMaxQuotedKeyword) word = word.substr(0, kMaxQuotedKeyword) + "...";
      for (char& ch : word) {
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
          ch = '?';
      }
      shown = word;
    }
    return refuse("statement " + std::to_string(statement) + " starts with " + shown +
                  "; only SELECT, WITH, SHOW, EXPLAIN, DESCRIBE and DESC are allowed");
  }

  // PostgreSQL's lexer ends a -- comment at a line feed or a carriage
  // return: "SELECT 1 -- x\r; DELETE …" runs the DELETE.
  void skip_line_comment() {
    while (pos_ < sql_.size() && sql_[pos_] != '\n' && sql_[pos_] != '\r') ++pos_;
  }

  // PostgreSQL block comments nest.
  bool skip_block_comment() {
    std::size_t depth = 0;
    while (pos_ < sql_.size()) {
      if (sql_[pos_] == '/' && peek(1) == '*') {
        ++depth;
        pos_ += 2;
      } else if (sql_[pos_] == '*' && peek(1) == '/') {
        pos_ += 2;
        if (--depth == 0) return true;
      } else {
        ++pos_;
      }
    }
    return false;
  }

  // One token inside a statement. Returns false (with unterminated_ set) for
  // a literal that never closes.
  bool skip_token() {
    const char c = sql_[pos_];
    if (c == '\'') return skip_quoted('\'', false, "unterminated string literal");
    if (c == '"') return skip_quoted('"', false, "unterminated quoted identifier");
    if (c == '$') return skip_dollar();
    if (is_ident_start(c)) {
      const std::size_t start = pos_;
      while (pos_ < sql_.size() && is_ident_char(sql_[pos_])) ++pos_;
      // E'…' (backslash escapes) when the quote follows a word that is just
      // E. Digits do not join the word: PostgreSQL (before 15) reads 1E'…'
      // as the number 1 and an escape string, and so does this scanner.
      if (pos_ - start == 1 && (c == 'E' || c == 'e') && pos_ < sql_.size() && sql_[pos_] == '\'') {
        return skip_quoted('\'', true, "unterminated string literal");
      }
      return true;
    }
    ++pos_;
    return true;
  }

  // 'it''s' and "a""b" double the quote; E'it\'s' may also escape it.
  bool skip_quoted(char quote, bool backslash_escapes, const char* what) {
    ++pos_;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (backslash_escapes && c == '\\') {
        pos_ += 2;
      } else if (c == quote) {
        if (peek(1) == quote) {
          pos_ += 2;
        } else {
          ++pos_;
          return true;
        }
      } else {
        ++pos_;
      }
    }
    unterminated_ = what;
    return false;
  }

  // $$…$$ or $tag$…$tag$. A `$` not forming a tag ($1 parameters) is just
  // a character.
  bool skip_dollar() {
    std::size_t end = pos_ + 1;
    if (end < sql_.size() && is_ident_start(sql_[end])) {
      while (end < sql_.size() && is_ident_char(sql_[end]) && sql_[end] != '$') ++end;
    }
    if (end >= sql_.size() || sql_[end] != '$') {
      ++pos_;
      return true;
    }
    const std::string_view tag = sql_.substr(pos_, end - pos_ + 1);
    const std::size_t close = sql_.find(tag, end + 1);
    if (close == std::string_view::npos) {
      unterminated_ = "unterminated dollar-quoted string";
      return false;
    }
    pos_ = close + tag.size();
    return true;
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
  std::string unterminated_;
};

}  // namespace

// A NUL byte is an ordinary character here. libpq sends only the text before
// it, and that prefix of an accepted text is itself read-only: it holds the
// same statement starts, with the same first keywords.
ReadOnlyVerdict classify_read_only(std::string_view sql) { return Scanner(sql).run(); }

void check_read_only(std::string_view sql) {
  auto verdict = classify_read_only(sql);
  if (!verdict.allowed) throw SqlPolicyError("read-only policy: " + verdict.reason);
}

}  // namespace pgobo
