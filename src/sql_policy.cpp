#include "pgobo/sql_policy.hpp"

#include <pg_query.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

// --- The deny list --------------------------------------------------------
//
// Functions a statement inside BEGIN READ ONLY … ROLLBACK can still call to
// act outside its transaction, on other sessions, on server files, or that
// run SQL text this policy cannot see. Matched against the function's name as
// PostgreSQL resolves it (the parser has already folded unquoted names to
// lower case, kept quoted ones exact and decoded U&"…" escapes), in any
// schema. docs/security.md lists the same entries; keep both in step.

constexpr std::string_view kSessionLock =
    "takes or releases an advisory lock, which can outlive the transaction and block other "
    "sessions";
constexpr std::string_view kOtherSessions = "signals other sessions or the server";
constexpr std::string_view kRunsSql = "runs SQL text or a query the policy cannot check";
constexpr std::string_view kOutside = "acts outside the transaction (another connection)";
constexpr std::string_view kFiles = "reads or writes server files";
constexpr std::string_view kLargeObjects = "reads or writes large objects (and server files)";
constexpr std::string_view kSessionState = "changes session state that outlives the transaction";
constexpr std::string_view kSequence =
    "advances a sequence or the transaction id, which no "
    "ROLLBACK undoes";
constexpr std::string_view kNotify = "sends a notification to other sessions";
constexpr std::string_view kSleep = "only waits, holding a connection (denial of service)";
constexpr std::string_view kServer =
    "controls replication, WAL, backups or statistics of the "
    "whole server";
constexpr std::string_view kIndexWrite = "writes to an index outside the read-only check";

struct DeniedFunction {
  std::string_view name;
  bool prefix;  // every function whose name starts with `name`
  std::string_view why;
};

constexpr std::array kDenied{
    DeniedFunction{"pg_advisory_", true, kSessionLock},
    DeniedFunction{"pg_try_advisory_", true, kSessionLock},
    DeniedFunction{"pg_terminate_backend", false, kOtherSessions},
    DeniedFunction{"pg_cancel_backend", false, kOtherSessions},
    DeniedFunction{"pg_signal_backend", false, kOtherSessions},
    DeniedFunction{"pg_reload_conf", false, kOtherSessions},
    DeniedFunction{"pg_rotate_logfile", true, kOtherSessions},
    DeniedFunction{"pg_log_backend_memory_contexts", false, kOtherSessions},
    DeniedFunction{"dblink", true, kOutside},
    DeniedFunction{"postgres_fdw_disconnect", true, kOutside},
    DeniedFunction{"query_to_xml", true, kRunsSql},
    DeniedFunction{"cursor_to_xml", true, kRunsSql},
    DeniedFunction{"table_to_xml", true, kRunsSql},
    DeniedFunction{"schema_to_xml", true, kRunsSql},
    DeniedFunction{"database_to_xml", true, kRunsSql},
    DeniedFunction{"ts_stat", false, kRunsSql},
    DeniedFunction{"ts_rewrite", false, kRunsSql},
    DeniedFunction{"crosstab", true, kRunsSql},
    DeniedFunction{"connectby", false, kRunsSql},
    DeniedFunction{"xpath_table", false, kRunsSql},
    DeniedFunction{"lo_", true, kLargeObjects},
    DeniedFunction{"loread", false, kLargeObjects},
    DeniedFunction{"lowrite", false, kLargeObjects},
    DeniedFunction{"pg_read_file", true, kFiles},  // and pg_read_file_old
    DeniedFunction{"pg_read_binary_file", false, kFiles},
    DeniedFunction{"pg_stat_file", false, kFiles},
    DeniedFunction{"pg_ls_", true, kFiles},
    DeniedFunction{"pg_file_", true, kFiles},
    DeniedFunction{"pg_logdir_ls", false, kFiles},
    DeniedFunction{"autoprewarm_", true, kFiles},
    DeniedFunction{"setseed", false, kSessionState},
    DeniedFunction{"pg_replication_origin_", true, kServer},
    DeniedFunction{"nextval", false, kSequence},
    DeniedFunction{"setval", false, kSequence},
    DeniedFunction{"txid_current", false, kSequence},
    DeniedFunction{"pg_current_xact_id", false, kSequence},
    DeniedFunction{"pg_notify", false, kNotify},
    DeniedFunction{"pg_sleep", true, kSleep},
    DeniedFunction{"pg_logical_", true, kServer},
    DeniedFunction{"pg_create_physical_replication_slot", false, kServer},
    DeniedFunction{"pg_create_logical_replication_slot", false, kServer},
    DeniedFunction{"pg_copy_physical_replication_slot", false, kServer},
    DeniedFunction{"pg_copy_logical_replication_slot", false, kServer},
    DeniedFunction{"pg_drop_replication_slot", false, kServer},
    DeniedFunction{"pg_replication_slot_advance", false, kServer},
    DeniedFunction{"pg_switch_wal", false, kServer},
    DeniedFunction{"pg_promote", false, kServer},
    DeniedFunction{"pg_wal_replay_", true, kServer},
    DeniedFunction{"pg_backup_", true, kServer},
    DeniedFunction{"pg_create_restore_point", false, kServer},
    DeniedFunction{"pg_import_system_collations", false, kServer},
    DeniedFunction{"pg_stat_reset", true, kServer},
    DeniedFunction{"pg_stat_statements_reset", false, kServer},
    DeniedFunction{"pg_nextoid", false, kServer},
    DeniedFunction{"binary_upgrade_", true, kServer},
    DeniedFunction{"pg_stop_making_pinned_objects", false, kServer},
    DeniedFunction{"pg_extension_config_dump", false, kServer},
    DeniedFunction{"brin_summarize_", true, kIndexWrite},
    DeniedFunction{"brin_desummarize_range", false, kIndexWrite},
    DeniedFunction{"gin_clean_pending_list", false, kIndexWrite},
    DeniedFunction{"heap_force_", true, kIndexWrite},
    DeniedFunction{"pg_truncate_visibility_map", false, kIndexWrite},
};

const DeniedFunction* denied_function(std::string_view name) {
  for (const auto& entry : kDenied) {
    if (entry.prefix ? name.starts_with(entry.name) : name == entry.name) return &entry;
  }
  return nullptr;
}

// --- Reasons ----------------------------------------------------------------

constexpr std::size_t kMaxQuoted = 24;
constexpr std::size_t kMaxReason = 199;

// At most `max` bytes of `text`, printable ASCII only (text.hpp).
using detail::printable_excerpt;

ReadOnlyVerdict refuse(std::string reason) {
  if (reason.size() > kMaxReason) reason = reason.substr(0, kMaxReason - 3) + "...";
  return ReadOnlyVerdict{false, std::move(reason)};
}

// libpg_query's message for a syntax error quotes the rest of the input from
// the bad token ('… at or near "<token and more>"'): keep a short, printable
// excerpt of it.
std::string syntax_error_text(std::string_view message) {
  constexpr std::string_view kNear = " at or near \"";
  const auto near = message.find(kNear);
  if (near == std::string_view::npos) return printable_excerpt(message, 100);
  std::string_view quoted = message.substr(near + kNear.size());
  if (!quoted.empty() && quoted.back() == '"') quoted.remove_suffix(1);
  return printable_excerpt(message.substr(0, near), 100) + " at or near \"" +
         printable_excerpt(quoted, kMaxQuoted) + "\"";
}

// The SQL a statement node stands for, to name it in a refusal.
std::string statement_kind(const std::string& node) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 30> kNames{{
      {"InsertStmt", "an INSERT"},
      {"UpdateStmt", "an UPDATE"},
      {"DeleteStmt", "a DELETE"},
      {"MergeStmt", "a MERGE"},
      {"TransactionStmt", "a transaction command (BEGIN, COMMIT, ROLLBACK, SAVEPOINT...)"},
      {"VariableSetStmt", "a SET or RESET"},
      {"ListenStmt", "a LISTEN"},
      {"UnlistenStmt", "an UNLISTEN"},
      {"NotifyStmt", "a NOTIFY"},
      {"PrepareStmt", "a PREPARE"},
      {"ExecuteStmt", "an EXECUTE"},
      {"DeallocateStmt", "a DEALLOCATE"},
      {"DeclareCursorStmt", "a DECLARE (cursor)"},
      {"FetchStmt", "a FETCH or MOVE"},
      {"ClosePortalStmt", "a CLOSE"},
      {"CopyStmt", "a COPY"},
      {"DoStmt", "a DO block"},
      {"CallStmt", "a CALL"},
      {"LockStmt", "a LOCK"},
      {"DiscardStmt", "a DISCARD"},
      {"TruncateStmt", "a TRUNCATE"},
      {"CreateStmt", "a CREATE TABLE"},
      {"CreateTableAsStmt", "a CREATE TABLE AS"},
      {"DropStmt", "a DROP"},
      {"AlterTableStmt", "an ALTER TABLE"},
      {"GrantStmt", "a GRANT or REVOKE"},
      {"VacuumStmt", "a VACUUM or ANALYZE"},
      {"CheckPointStmt", "a CHECKPOINT"},
      {"LoadStmt", "a LOAD"},
      {"RefreshMatViewStmt", "a REFRESH MATERIALIZED VIEW"},
  }};
  for (const auto& [tag, name] : kNames) {
    if (node == tag) return std::string(name);
  }
  // Node names are PostgreSQL's, never text of the input.
  std::string name = node;
  if (name.ends_with("Stmt")) name.resize(name.size() - 4);
  return "a " + printable_excerpt(name, 40) + " statement";
}

constexpr std::string_view kAllowedKinds =
    "only SELECT (with WITH, VALUES, TABLE), SHOW and EXPLAIN of a query are allowed";

bool is_write_node(const std::string& key) {
  return key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt" || key == "MergeStmt";
}

// The last part of a qualified name: [{"String":{"sval":"pg_catalog"}}, …].
std::optional<std::string> last_name(const nlohmann::json& names) {
  if (!names.is_array() || names.empty()) return std::nullopt;
  const auto& last = names.back();
  if (!last.is_object()) return std::nullopt;
  const auto string = last.find("String");
  if (string == last.end() || !string->is_object()) return std::nullopt;
  const auto sval = string->find("sval");
  if (sval == string->end() || !sval->is_string()) return std::nullopt;
  return sval->get<std::string>();
}

// A call's argument given at `position` or by `name` (a NamedArgExpr, which
// wins, as in PostgreSQL); null when absent.
const nlohmann::json* call_argument(const nlohmann::json& call, std::size_t position,
                                    std::string_view name) {
  const auto args = call.find("args");
  if (args == call.end() || !args->is_array()) return nullptr;
  const nlohmann::json* found = nullptr;
  for (std::size_t i = 0; i < args->size(); ++i) {
    const auto& arg = (*args)[i];
    if (const auto named = arg.find("NamedArgExpr"); named != arg.end()) {
      if (named->value("name", std::string()) == name && named->contains("arg")) {
        found = &(*named)["arg"];
      }
    } else if (i == position) {
      found = &arg;
    }
  }
  return found;
}

// The object of a constant's `kind` ("boolval", "sval"…): {"A_Const":
// {"sval": {"sval": "role"}}}; null when the argument is not such a constant.
const nlohmann::json* constant_of(const nlohmann::json* argument, const char* kind) {
  if (argument == nullptr) return nullptr;
  const auto constant = argument->find("A_Const");
  if (constant == argument->end() || !constant->is_object()) return nullptr;
  const auto value = constant->find(kind);
  if (value == constant->end() || !value->is_object()) return nullptr;
  return &*value;
}

// set_config(name, value, is_local) is allowed only with the literal TRUE
// as is_local (positionally or by name): then SET LOCAL ends with the
// transaction. Anything else (false, NULL, an expression) may set the value
// for the session.
bool set_config_is_local(const nlohmann::json& call) {
  const nlohmann::json* boolval = constant_of(call_argument(call, 2, "is_local"), "boolval");
  return boolval != nullptr && boolval->value("boolval", false);
}

// set_config()'s setting name, when it is a string literal (by position or
// by name); nullopt otherwise.
std::optional<std::string> set_config_name(const nlohmann::json& call) {
  const nlohmann::json* sval = constant_of(call_argument(call, 0, "setting_name"), "sval");
  if (sval == nullptr) return std::nullopt;
  const auto text = sval->find("sval");
  if (text == sval->end() || !text->is_string()) return std::nullopt;
  return text->get<std::string>();
}

// Settings a statement may not set even for its transaction: who it runs as
// (role, session_authorization) and custom settings ("prefix.name"), which
// row-level security policies read (RoutingPool's set_role mode puts the
// user's claims in request.jwt.claims). An unknown name (an expression) is
// refused too.
std::optional<std::string> protected_setting(const nlohmann::json& call) {
  const std::optional<std::string> name = set_config_name(call);
  if (!name) return "a setting named by an expression";
  std::string lower = *name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "role" || lower == "session_authorization") return "'" + lower + "'";
  if (lower.find('.') != std::string::npos) {
    return "the custom setting '" + printable_excerpt(*name, 64) + "'";
  }
  return std::nullopt;
}

// One statement of the parse tree: its kind, then every node below it.
class StatementCheck {
 public:
  StatementCheck(std::size_t number, const nlohmann::json& statement)
      : number_(number), statement_(statement) {}

  std::optional<ReadOnlyVerdict> run() {
    if (!statement_.is_object() || statement_.size() != 1) {
      return refused("could not be read from the parse tree");
    }
    // Not items().begin(): its proxy is a temporary, and key() would dangle.
    const auto node = statement_.begin();
    const std::string& kind = node.key();
    const nlohmann::json& body = node.value();
    if (kind == "ExplainStmt") {
      const auto query = body.find("query");
      const std::string inner = (query != body.end() && query->is_object() && query->size() == 1)
                                    ? query->begin().key()
                                    : std::string("?");
      if (inner != "SelectStmt") {
        return refused("is an EXPLAIN of " + statement_kind(inner) +
                       "; EXPLAIN is allowed only of a query (SELECT, WITH, VALUES, TABLE)");
      }
    } else if (kind != "SelectStmt" && kind != "VariableShowStmt") {
      return refused("is " + statement_kind(kind) + "; " + std::string(kAllowedKinds));
    }
    return walk(body);
  }

 private:
  std::optional<ReadOnlyVerdict> refused(const std::string& what) const {
    return refuse("statement " + std::to_string(number_) + " " + what);
  }

  std::optional<ReadOnlyVerdict> check_function(const std::string& name, const char* how,
                                                const nlohmann::json* call) const {
    if (name == "set_config") {
      if (call == nullptr || !set_config_is_local(*call)) {
        return refused("calls set_config() without the literal TRUE as is_local: " +
                       std::string(kSessionState));
      }
      if (const std::optional<std::string> setting = protected_setting(*call)) {
        return refused("calls set_config() on " + *setting +
                       ": a read-only statement may not change who it runs as or the custom "
                       "settings row-level security policies read (e.g. request.jwt.claims)");
      }
      return std::nullopt;
    }
    const DeniedFunction* denied = denied_function(name);
    if (denied == nullptr) return std::nullopt;
    return refused(std::string(how) + " " + printable_excerpt(name, 64) + "(): it " +
                   std::string(denied->why));
  }

  // Depth-first over every object and array below the statement, with an
  // explicit stack: the grammar allows nesting thousands of levels deep.
  std::optional<ReadOnlyVerdict> walk(const nlohmann::json& root) {
    std::vector<const nlohmann::json*> stack{&root};
    while (!stack.empty()) {
      const nlohmann::json& node = *stack.back();
      stack.pop_back();
      if (node.is_array()) {
        for (auto it = node.rbegin(); it != node.rend(); ++it) stack.push_back(&*it);
        continue;
      }
      if (!node.is_object()) continue;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string& key = it.key();
        const nlohmann::json& value = it.value();
        if (key == "FuncCall") {
          if (const auto name = last_name(value.value("funcname", nlohmann::json::array()))) {
            if (auto refusal = check_function(*name, "calls", &value)) return refusal;
          }
        } else if (key == "ColumnRef" || key == "A_Indirection") {
          // x.f is also a call of f(x) when x is a row and f no column of it.
          const nlohmann::json* names = nullptr;
          if (const auto fields = value.find("fields"); fields != value.end()) {
            if (fields->is_array() && fields->size() >= 2) names = &*fields;
          } else if (const auto ind = value.find("indirection"); ind != value.end()) {
            names = &*ind;
          }
          const auto name = names != nullptr ? last_name(*names) : std::nullopt;
          if (name) {
            if (auto refusal = check_function(*name, "may call (column notation)", nullptr)) {
              return refusal;
            }
          }
        } else if (key == "intoClause") {
          return refused("is a SELECT INTO, which creates a table; " + std::string(kAllowedKinds));
        } else if (is_write_node(key)) {
          return refused("holds " + statement_kind(key) + " (in WITH); " +
                         std::string(kAllowedKinds));
        }
        if (value.is_structured()) stack.push_back(&value);
      }
    }
    return std::nullopt;
  }

  std::size_t number_;
  const nlohmann::json& statement_;
};

// Owns a libpg_query result.
class ParseResult {
 public:
  explicit ParseResult(const std::string& sql) : result_(pg_query_parse(sql.c_str())) {}
  ~ParseResult() { pg_query_free_parse_result(result_); }
  ParseResult(const ParseResult&) = delete;
  ParseResult& operator=(const ParseResult&) = delete;
  ParseResult(ParseResult&&) = delete;
  ParseResult& operator=(ParseResult&&) = delete;

  [[nodiscard]] const PgQueryError* error() const { return result_.error; }
  [[nodiscard]] const char* tree() const { return result_.parse_tree; }

 private:
  PgQueryParseResult result_;
};

// The offset of the first byte that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return std::nullopt;
}

}  // namespace

ReadOnlyVerdict classify_read_only(std::string_view sql) {
  // libpq sends a query as a C string: the server would see only what comes
  // before a NUL. Refuse rather than judge a text the server never sees.
  if (const auto nul = sql.find('\0'); nul != std::string_view::npos) {
    return refuse("the text holds a NUL byte at offset " + std::to_string(nul) +
                  "; libpq would send only what comes before it");
  }

  // pgobo's connections speak UTF-8, where the server refuses a malformed
  // sequence anyway; the parse tree (JSON) could not carry it either.
  if (const auto bad = invalid_utf8_at(sql)) {
    return refuse("the text is not valid UTF-8 at offset " + std::to_string(*bad));
  }

  nlohmann::json tree;
  try {
    const ParseResult parsed{std::string(sql)};
    if (const PgQueryError* error = parsed.error()) {
      return refuse("not valid SQL (PostgreSQL 15 grammar): " +
                    syntax_error_text(error->message != nullptr ? error->message : "") +
                    ", at character " + std::to_string(error->cursorpos));
    }
    if (parsed.tree() == nullptr) return refuse("the SQL parser returned no parse tree");
    tree = nlohmann::json::parse(parsed.tree());
  } catch (const std::exception&) {
    // Out of memory, or a parse tree nlohmann cannot read: refuse, never run.
    return refuse("the SQL parser failed on this text");
  }

  const auto statements = tree.find("stmts");
  if (statements == tree.end() || !statements->is_array() || statements->empty()) {
    return refuse("empty statement: nothing to run");
  }
  for (std::size_t i = 0; i < statements->size(); ++i) {
    const auto& entry = (*statements)[i];
    const nlohmann::json empty = nlohmann::json::object();
    const auto stmt = entry.find("stmt");
    StatementCheck check(i + 1, stmt != entry.end() ? *stmt : empty);
    if (auto refusal = check.run()) return *refusal;
  }
  return ReadOnlyVerdict{true, {}};
}

void check_read_only(std::string_view sql) {
  auto verdict = classify_read_only(sql);
  if (!verdict.allowed) throw SqlPolicyError("read-only policy: " + verdict.reason);
}

}  // namespace pgobo
