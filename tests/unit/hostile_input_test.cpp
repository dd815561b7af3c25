// Hostile input at every public entry point that takes strings from outside:
// forwarded headers, user contexts, conninfo quoting, configuration (JSON and
// environment), workspace answers (Lakebase credential, OAuth token, SCIM Me),
// the read-only SQL policy, Secret, PoolOptions and the stats exposition.
//
// Each is given the same family of strings: empty, huge (1 MiB), not UTF-8,
// holding a NUL byte, holding CR/LF, holding other control characters. Each
// must answer with a typed pgobo error whose message names what to fix, or
// accept the value as documented. Never a crash, never UB (the asan preset
// runs this file), never the secret value in a message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "fake_workspace.hpp"
#include "pgobo/config.hpp"
#include "pgobo/connection_params.hpp"
#include "pgobo/context.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/pool_manager.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/secret.hpp"
#include "pgobo/sql_policy.hpp"
#include "pgobo/stats_exposition.hpp"

// The environment is changed only from the test's own thread, with no other
// thread reading it: getenv/setenv are safe here.
// NOLINTBEGIN(concurrency-mt-unsafe)
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Endpoint = pgobo::test::FakeWorkspace::Endpoint;

// Every hostile value starts with this, so a message that echoes the value
// (or a secret holding it) is caught by one search.
constexpr std::string_view kMarker = "S3CRET-hostile-7f3a9c";
constexpr std::size_t kHuge = std::size_t{1024} * 1024;

enum class Kind { empty, huge, non_utf8, nul, line_break, control };

struct Hostile {
  std::string name;
  Kind kind;
  std::string value;
};

[[nodiscard]] bool is_control_kind(Kind kind) {
  return kind == Kind::nul || kind == Kind::line_break || kind == Kind::control;
}

std::vector<Hostile> hostile_values() {
  const std::string m(kMarker);
  return {
      {"Empty", Kind::empty, ""},
      {"Huge", Kind::huge, m + std::string(kHuge, 'x')},
      {"NonUtf8", Kind::non_utf8, m + "\xff\xfe\xc0\xaf\xed\xa0\x80\x80"},
      {"Nul", Kind::nul, m + std::string("\0after", 6)},
      {"NulOnly", Kind::nul, std::string("\0", 1) + m},
      {"CrLf", Kind::line_break, m + "\r\nX-Injected: 1"},
      {"LoneLf", Kind::line_break, m + "\n"},
      {"LoneCr", Kind::line_break, m + "\rtail"},
      {"Escape", Kind::control, m + "\x1b[2J"},
      {"Delete", Kind::control, m + "\x7f"},
  };
}

// A typed error's message must be usable in a log line and an HTTP answer:
// bounded, one line, no NUL, valid UTF-8 (so it can go into a JSON error
// body), and without the hostile value when it is secret.
void expect_usable_message(const std::string& message, bool secret, bool utf8 = true) {
  EXPECT_LT(message.size(), 1000U) << "message of " << message.size() << " bytes";
  EXPECT_EQ(message.find_first_of(std::string("\r\n\0", 3)), std::string::npos)
      << "line break or NUL in: " << message.substr(0, 200);
  if (utf8) {
    EXPECT_NO_THROW((void)nlohmann::json(message).dump()) << message.substr(0, 200);
  }
  if (secret) {
    EXPECT_THAT(message, Not(HasSubstr(std::string(kMarker))));
  }
}

// Runs `fn`: the message of the E it throws, nullopt if it returns. Any other
// exception fails the test (and yields a placeholder message).
template <class E>
std::optional<std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return std::string(e.what());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name() << ": "
                  << std::string(e.what()).substr(0, 300);
    return std::string("<wrong exception type>");
  }
  return std::nullopt;
}

// Expects `fn` to throw E with `expected` in a usable message.
template <class E>
void expect_error(const std::function<void()>& fn, std::string_view expected, bool secret) {
  const auto message = error_of<E>(fn);
  ASSERT_TRUE(message.has_value()) << "accepted; expected an error containing '" << expected << "'";
  EXPECT_THAT(*message, HasSubstr(std::string(expected)));
  expect_usable_message(*message, secret);
}

// Expects `fn` to return without throwing anything.
void expect_accepted(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "refused (" << typeid(e).name()
                  << "): " << std::string(e.what()).substr(0, 300);
  }
}

// ---------------------------------------------------------------------------
// Forwarded headers.

struct HeaderSlot {
  std::string_view header;
  // Empty means "missing": an error with this message, or accepted when empty.
  std::string_view missing_error;
};

TEST(HostileHeaders, EachForwardedHeaderIsRefusedNamedOrCarriedVerbatim) {
  const std::array<HeaderSlot, 4> slots{{{pgobo::headers::kAccessToken, "missing user token"},
                                         {pgobo::headers::kUser, "missing user id"},
                                         {pgobo::headers::kEmail, ""},
                                         {pgobo::headers::kPreferredUsername, ""}}};
  for (const HeaderSlot& slot : slots) {
    for (const Hostile& h : hostile_values()) {
      SCOPED_TRACE(std::string(slot.header) + " = " + h.name);
      std::map<std::string, std::string> values{
          {std::string(pgobo::headers::kAccessToken), "token-value"},
          {std::string(pgobo::headers::kUser), "1234"},
          {std::string(pgobo::headers::kEmail), "alice@example.com"}};
      values[std::string(slot.header)] = h.value;
      std::vector<std::pair<std::string, std::string>> request(values.begin(), values.end());

      if (is_control_kind(h.kind)) {
        expect_error<pgobo::AuthenticationError>(
            [&] { (void)pgobo::user_context_from_headers(request); },
            std::string(slot.header) + " contains a control character", true);
      } else if (h.kind == Kind::empty && !slot.missing_error.empty()) {
        expect_error<pgobo::AuthenticationError>(
            [&] { (void)pgobo::user_context_from_headers(request); }, slot.missing_error, true);
      } else {
        std::optional<pgobo::UserContext> user;
        expect_accepted([&] { user = pgobo::user_context_from_headers(request); });
        ASSERT_TRUE(user.has_value());
        EXPECT_EQ(user->token_fingerprint().size(), 16U);
        if (slot.header == pgobo::headers::kAccessToken) {
          EXPECT_EQ(user->access_token().reveal(), h.value);
          std::ostringstream printed;
          printed << *user;
          EXPECT_THAT(printed.str(), Not(HasSubstr(std::string(kMarker))));
          EXPECT_THAT(fmt::format("{}", *user), Not(HasSubstr(std::string(kMarker))));
        }
        if (slot.header == pgobo::headers::kEmail) {
          EXPECT_EQ(user->email(), h.value);
        }
        if (slot.header == pgobo::headers::kUser) {
          EXPECT_EQ(user->user_id(), h.value);
        }
      }
    }
  }
}

TEST(HostileHeaders, HugeHeaderSetWithManyIrrelevantHeadersIsParsed) {
  std::vector<std::pair<std::string, std::string>> request;
  for (int i = 0; i < 10'000; ++i) request.emplace_back("x-other-" + std::to_string(i), "v");
  request.emplace_back("X-Forwarded-Access-Token", "token-value");
  request.emplace_back("X-FORWARDED-USER", "1234");
  const auto user = pgobo::user_context_from_headers(request);
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->key(), "1234");
}

// ---------------------------------------------------------------------------
// make_user_context and UserScope.

enum class ContextField { user_id, email, token, preferred_username };

TEST(HostileUserContext, ControlCharactersAreRefusedNamingTheField) {
  const std::array<std::pair<ContextField, std::string_view>, 4> fields{{
      {ContextField::user_id, "user id"},
      {ContextField::email, "email"},
      {ContextField::token, "access token"},
      {ContextField::preferred_username, "preferred username"},
  }};
  for (const auto& [field, label] : fields) {
    for (const Hostile& h : hostile_values()) {
      SCOPED_TRACE(std::string(label) + " = " + h.name);
      std::string user_id = "1234";
      std::string email = "alice@example.com";
      std::string token = "token-value";
      std::optional<std::string> preferred;
      switch (field) {
        case ContextField::user_id:
          user_id = h.value;
          break;
        case ContextField::email:
          email = h.value;
          break;
        case ContextField::token:
          token = h.value;
          break;
        case ContextField::preferred_username:
          preferred = h.value;
          break;
      }
      const auto make = [&] { return pgobo::make_user_context(user_id, email, token, preferred); };
      if (is_control_kind(h.kind)) {
        expect_error<pgobo::AuthenticationError>([&] { (void)make(); },
                                                 std::string(label) + " contains a control", true);
      } else if (h.kind == Kind::empty && field == ContextField::token) {
        expect_error<pgobo::AuthenticationError>([&] { (void)make(); }, "missing user token", true);
      } else {
        // Documented accept: any other bytes are carried verbatim.
        std::optional<pgobo::UserContext> user;
        expect_accepted([&] { user = make(); });
        ASSERT_TRUE(user.has_value());
        EXPECT_EQ(user->access_token().reveal(), token);
        EXPECT_EQ(user->key(), email.empty() ? user_id : email);
        std::ostringstream printed;
        printed << *user << ' ' << user->access_token();
        if (field == ContextField::token) {
          EXPECT_THAT(printed.str(), Not(HasSubstr(std::string(kMarker))));
        }
        // The context installs and restores like any other.
        {
          const pgobo::UserScope scope{*user};
          ASSERT_NE(pgobo::current_user(), nullptr);
          EXPECT_EQ(pgobo::current_user()->key(), user->key());
        }
        EXPECT_EQ(pgobo::current_user(), nullptr);
      }
    }
  }
}

TEST(HostileUserContext, EmptyUserIdAndEmailAreRefused) {
  expect_error<pgobo::AuthenticationError>(
      [] { (void)pgobo::make_user_context("", "", std::string(kMarker)); }, "missing user identity",
      true);
}

TEST(HostileUserContext, TabInsideAnIdIsAcceptedButNotInsideAToken) {
  // A tab is legal inside an HTTP field value; the header path accepts it too.
  const auto user = pgobo::make_user_context("12\t34", "", "token");
  EXPECT_EQ(user.key(), "12\t34");
  // A token is one word, and the workspace clients refuse to send a tab: it
  // is refused on arrival, not when the user's pool first needs a credential.
  expect_error<pgobo::AuthenticationError>(
      [] { (void)pgobo::make_user_context("12", "", "tok\ten"); }, "access token contains a tab",
      true);
}

// ---------------------------------------------------------------------------
// Conninfo quoting: whatever is accepted parses back through libpq unchanged.

// The value libpq's own parser reads for `keyword` in `conninfo`, nullopt if
// absent. Fails the test if libpq cannot parse the text.
std::optional<std::string> parsed_back(const std::string& conninfo, std::string_view keyword) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    ADD_FAILURE() << "libpq cannot parse the conninfo: " << (error ? error : "out of memory");
    PQfreemem(error);
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) found = std::string(o->val);
  }
  PQconninfoFree(options);
  return found;
}

// Undoes the backslash escaping the server's pg_split_opts applies to `options`.
std::string unescape_options(std::string_view options) {
  std::string out;
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (options[i] == '\\' && i + 1 < options.size()) ++i;
    out += options[i];
  }
  return out;
}

TEST(HostileConninfo, QuotedValuesRoundTripThroughLibpqAndNulIsRefused) {
  const std::array<std::string_view, 5> fields{"host", "dbname", "user", "application_name",
                                               "password"};
  for (const std::string_view field : fields) {
    for (const Hostile& h : hostile_values()) {
      SCOPED_TRACE(std::string(field) + " = " + h.name);
      pgobo::ConnectionParams params;
      params.user = "svc";
      if (field == "host") params.host = h.value;
      if (field == "dbname") params.dbname = h.value;
      if (field == "user") params.user = h.value;
      if (field == "application_name") params.application_name = h.value;
      const pgobo::Secret password(field == "password" ? h.value : std::string("pw"));

      if (h.kind == Kind::nul) {
        expect_error<pgobo::ConfigError>([&] { (void)params.to_conninfo(password); },
                                         std::string(field) + " contains a NUL byte", true);
        continue;
      }
      if ((field == "user" || field == "dbname") && h.value.size() > 63) {
        expect_error<pgobo::ConfigError>([&] { (void)params.to_conninfo(password); },
                                         "PostgreSQL cuts names at 63 bytes", false);
        continue;
      }
      std::string conninfo;
      expect_accepted([&] { conninfo = params.to_conninfo(password); });
      const bool omitted_when_empty = field == "user" || field == "application_name";
      if (h.kind == Kind::empty && omitted_when_empty) {
        EXPECT_EQ(parsed_back(conninfo, field), std::nullopt);
      } else {
        EXPECT_EQ(parsed_back(conninfo, field), h.value);
      }
    }
  }
}

TEST(HostileConninfo, QuoteConninfoValueRoundTripsEveryByteButNul) {
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte += static_cast<char>(c);
  std::vector<std::string> values{every_byte, "'", "\\", "\\'", "' host=evil ", "a b=c"};
  for (const Hostile& h : hostile_values()) values.push_back(h.value);
  for (const std::string& value : values) {
    SCOPED_TRACE(value.substr(0, 40));
    if (value.find('\0') != std::string::npos) {
      expect_error<pgobo::ConfigError>(
          [&] { (void)pgobo::quote_conninfo_value(value, "password"); },
          "password contains a NUL byte", true);
      continue;
    }
    const std::string quoted = pgobo::quote_conninfo_value(value, "password");
    EXPECT_EQ(parsed_back("password=" + quoted, "password"), value);
  }
}

TEST(HostileConninfo, ServerSettingValuesRoundTripAndHostileNamesAreRefused) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    pgobo::ConnectionParams params;
    params.settings = {{"app.note", h.value}};
    if (h.kind == Kind::nul) {
      expect_error<pgobo::ConfigError>([&] { (void)params.to_conninfo(); },
                                       "server setting 'app.note' contains a NUL byte", true);
    } else {
      std::string conninfo;
      expect_accepted([&] { conninfo = params.to_conninfo(); });
      const auto options = parsed_back(conninfo, "options");
      ASSERT_TRUE(options.has_value());
      EXPECT_EQ(unescape_options(*options), "-c app.note=" + h.value);
    }

    pgobo::ConnectionParams named;
    named.settings = {{h.value, "1"}};
    // The name is not secret, but it may be huge or hold line breaks: the
    // message shows at most a printable excerpt.
    expect_error<pgobo::ConfigError>([&] { (void)named.to_conninfo(); },
                                     "is not a PostgreSQL setting name", false);
  }
}

TEST(HostileConninfo, SslModeIsRefusedNamingTheSettingNotTheValue) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    expect_error<pgobo::ConfigError>([&] { (void)pgobo::parse_ssl_mode(h.value, "PGSSLMODE"); },
                                     "PGSSLMODE: expected one of", true);
  }
}

// ---------------------------------------------------------------------------
// PoolConfig::from_json, and databricks::AppConfig::from_json for every key
// of every layer.

// How a configuration key treats hostile strings.
enum class KeyRule {
  free_text,       // any bytes but NUL; empty allowed
  non_empty_text,  // any bytes but NUL; empty refused
  structured,      // a fixed syntax (sslmode, endpoint, numbers): all refused
  url,             // a host name: empty and control characters refused
  token,           // secret sent in an HTTP header: controls refused; empty allowed
  ca_file,         // a file read when configured: empty allowed (system default); no hostile
                   // value names a readable file, so all others are refused
};

struct ConfigKey {
  std::string_view json;
  std::string_view env;
  KeyRule rule;
  bool secret;
};

constexpr std::array<ConfigKey, 22> kStringKeys{{
    {"name", "PGOBO_POOL_NAME", KeyRule::non_empty_text, false},
    {"host", "PGHOST", KeyRule::non_empty_text, false},
    {"port", "PGPORT", KeyRule::structured, false},
    {"database", "PGDATABASE", KeyRule::non_empty_text, false},
    {"user", "PGUSER", KeyRule::free_text, false},
    {"password", "PGPASSWORD", KeyRule::free_text, true},
    {"sslmode", "PGSSLMODE", KeyRule::structured, false},
    {"sslrootcert", "PGSSLROOTCERT", KeyRule::non_empty_text, false},
    {"application_name", "PGAPPNAME", KeyRule::free_text, false},
    {"connect_timeout_s", "PGCONNECT_TIMEOUT", KeyRule::structured, false},
    {"statement_timeout_ms", "PGOBO_STATEMENT_TIMEOUT_MS", KeyRule::structured, false},
    {"max_size", "PGOBO_MAX_SIZE", KeyRule::structured, false},
    {"max_lifetime_jitter", "PGOBO_MAX_LIFETIME_JITTER", KeyRule::structured, false},
    {"reset_query", "PGOBO_RESET_QUERY", KeyRule::free_text, false},
    {"session_reset", "PGOBO_SESSION_RESET", KeyRule::structured, false},
    {"lakebase_endpoint", "LAKEBASE_ENDPOINT", KeyRule::structured, false},
    {"workspace_url", "DATABRICKS_HOST", KeyRule::url, false},
    {"client_id", "DATABRICKS_CLIENT_ID", KeyRule::free_text, false},
    {"client_secret", "DATABRICKS_CLIENT_SECRET", KeyRule::free_text, true},
    {"workspace_token", "DATABRICKS_TOKEN", KeyRule::token, true},
    {"http_max_response_bytes", "PGOBO_HTTP_MAX_RESPONSE_BYTES", KeyRule::structured, false},
    {"http_ca_file", "PGOBO_HTTP_CA_FILE", KeyRule::ca_file, false},
}};

enum class Expect { accept, refuse };

// What `key` must do with `h`; for env, an empty value counts as unset.
Expect expected_for(const ConfigKey& key, const Hostile& h, bool from_env) {
  if (h.kind == Kind::nul) return Expect::refuse;
  if (h.kind == Kind::empty && from_env) {
    // Unset: fine, except for what the base configuration needs.
    const bool required = key.env == "PGHOST" || key.env == "PGDATABASE" || key.env == "PGPASSWORD";
    return required ? Expect::refuse : Expect::accept;
  }
  // PostgreSQL cuts role and database names past 63 bytes: refused.
  if ((key.env == "PGUSER" || key.env == "PGDATABASE") && h.value.size() > 63) {
    return Expect::refuse;
  }
  switch (key.rule) {
    case KeyRule::free_text:
      return Expect::accept;
    case KeyRule::non_empty_text:
      return h.kind == Kind::empty ? Expect::refuse : Expect::accept;
    case KeyRule::structured:
      return Expect::refuse;
    case KeyRule::ca_file:
      return h.kind == Kind::empty ? Expect::accept : Expect::refuse;
    case KeyRule::url:
    case KeyRule::token:
      if (key.rule == KeyRule::url && h.kind == Kind::empty) return Expect::refuse;
      return is_control_kind(h.kind) ? Expect::refuse : Expect::accept;
  }
  return Expect::refuse;
}

nlohmann::json base_json() {
  return nlohmann::json{{"host", "db.internal"}, {"database", "app"}, {"password", "pw"}};
}

TEST(HostileConfigJson, EveryStringKeyGivesAConfigErrorNamingTheKeyOrKeepsTheValue) {
  for (const ConfigKey& key : kStringKeys) {
    for (const Hostile& h : hostile_values()) {
      SCOPED_TRACE(std::string(key.json) + " = " + h.name);
      nlohmann::json json = base_json();
      json[std::string(key.json)] = h.value;
      if (expected_for(key, h, false) == Expect::refuse) {
        expect_error<pgobo::ConfigError>(
            [&] { (void)pgobo::databricks::AppConfig::from_json(json); },
            "JSON key '" + std::string(key.json) + "'", key.secret);
      } else {
        expect_accepted([&] { (void)pgobo::databricks::AppConfig::from_json(json); });
      }
    }
  }
}

// Found by the config_json fuzzer: the scheme was quoted with its raw bytes,
// so a non-UTF-8 scheme made the message invalid UTF-8.
TEST(HostileConfigJson, WorkspaceUrlSchemeIsQuotedAsPrintableAscii) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    expect_error<pgobo::ConfigError>(
        [&] {
          (void)pgobo::databricks::normalize_workspace_url(h.value + "://host", "DATABRICKS_HOST");
        },
        "DATABRICKS_HOST", false);
  }
  expect_error<pgobo::ConfigError>(
      [] { (void)pgobo::databricks::normalize_workspace_url("h\x8etps://x", "DATABRICKS_HOST"); },
      "got scheme 'h?tps'", false);
}

TEST(HostileConfigJson, ServerSettingsKeysAndValues) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    nlohmann::json by_value = base_json();
    by_value["settings"] = {{"app.note", h.value}};
    if (h.kind == Kind::nul) {
      expect_error<pgobo::ConfigError>([&] { (void)pgobo::PoolConfig::from_json(by_value); },
                                       "JSON key 'settings'", false);
    } else {
      pgobo::PoolConfig config;
      expect_accepted([&] { config = pgobo::PoolConfig::from_json(by_value); });
      EXPECT_THAT(config.pool.connection.settings,
                  ::testing::Contains(std::pair<std::string, std::string>("app.note", h.value)));
    }

    nlohmann::json by_name = base_json();
    by_name["settings"] = {{h.value, "1"}};
    expect_error<pgobo::ConfigError>([&] { (void)pgobo::PoolConfig::from_json(by_name); },
                                     "is not a PostgreSQL setting name", false);
  }
}

TEST(HostileConfigJson, UnknownHostileKeyIsNamedByAnExcerpt) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    nlohmann::json json = base_json();
    json[h.value] = 1;
    expect_error<pgobo::ConfigError>([&] { (void)pgobo::PoolConfig::from_json(json); },
                                     "unknown JSON key", false);
  }
}

TEST(HostileConfigJson, HostileTextIsAConfigErrorWithoutTheText) {
  const std::string m(kMarker);
  const std::vector<std::pair<std::string, std::string>> texts{
      {"Empty", ""},
      {"HugeGarbage", m + std::string(kHuge, '{')},
      {"HugeString", R"({"password":")" + m + std::string(kHuge, 'x')},
      {"UnterminatedSecret", R"({"host":"h","database":"d","password":")" + m},
      {"ControlInSecret", R"({"host":"h","database":"d","password":")" + m + "\x01\"}"},
      {"RawLineBreakInSecret", R"({"password":")" + m + "\r\n\"}"},
      {"NonUtf8InSecret", R"({"password":")" + m + "\xff\xfe\"}"},
      {"RawNul", std::string(R"({"password":")") + m + std::string("\0\"}", 3)},
      {"NotAnObject", "[\"" + m + "\"]"},
      {"DeepNesting", std::string(100'000, '[')},
      {"EscapedNulInSecret", R"({"host":"h","database":"d","password":")" + m + R"(\u0000x"})"},
  };
  for (const auto& [name, text] : texts) {
    SCOPED_TRACE(name);
    expect_error<pgobo::ConfigError>([&] { (void)pgobo::PoolConfig::from_json_text(text); }, "",
                                     true);
  }
}

TEST(HostileConfigJson, EscapedControlCharactersInAPasswordAreKept) {
  const auto config = pgobo::PoolConfig::from_json_text(
      R"({"host":"h","database":"d","password":"a\r\nb\u0001c"})");
  ASSERT_TRUE(config.password.has_value());
  EXPECT_EQ(config.password->reveal(),
            "a\r\nb\x01"
            "c");
}

// ---------------------------------------------------------------------------
// databricks::AppConfig::from_env (every layer's variables) and
// RoutingConfig::from_env, through the real environment.

constexpr std::array<std::string_view, 11> kRoutingVariables{"PGOBO_USER_POOL_MAX_SIZE",
                                                             "PGOBO_USER_POOL_IDLE_TIMEOUT_MS",
                                                             "PGOBO_MAX_TOTAL_CONNECTIONS",
                                                             "PGOBO_MAX_POOLS",
                                                             "PGOBO_SWEEP_INTERVAL_MS",
                                                             "PGOBO_ALLOW_RLS_BYPASS_ROLES",
                                                             "PGOBO_CONNECTION_LIMIT",
                                                             "PGOBO_CONNECTION_LIMIT_RESERVE",
                                                             "PGOBO_CONNECTION_LIMIT_INTERVAL_MS",
                                                             "PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS",
                                                             "PGOBO_CONNECTION_LIMIT_TABLE"};

// Saves every variable the configuration reads, unsets them for the test and
// restores them afterwards.
class HostileEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> names{"PGOBO_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS",
                                   "PGOBO_MIN_IDLE",
                                   "PGOBO_ACQUIRE_TIMEOUT_MS",
                                   "PGOBO_IDLE_TIMEOUT_MS",
                                   "PGOBO_MAX_LIFETIME_MS",
                                   "PGOBO_VALIDATE_IDLE_AFTER_MS",
                                   "PGOBO_CLOSE_TIMEOUT_MS",
                                   "PGOBO_CREDENTIAL_REFRESH_AHEAD_MS",
                                   "PGOBO_HTTP_CONNECT_TIMEOUT_MS",
                                   "PGOBO_HTTP_TIMEOUT_MS"};
    for (const ConfigKey& key : kStringKeys) names.emplace_back(key.env);
    for (const auto name : kRoutingVariables) names.emplace_back(name);
    for (auto& name : names) {
      const char* value = std::getenv(name.c_str());
      saved_.emplace_back(std::move(name),
                          value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(saved_.back().first.c_str());
    }
    set("PGHOST", "db.internal");
    set("PGDATABASE", "app");
    set("PGPASSWORD", "pw");
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  static void set(std::string_view name, const std::string& value) {
    setenv(std::string(name).c_str(), value.c_str(), 1);
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(HostileEnv, EveryVariableGivesAConfigErrorNamingItOrKeepsTheValue) {
  for (const ConfigKey& key : kStringKeys) {
    const char* before = std::getenv(std::string(key.env).c_str());
    const std::optional<std::string> previous =
        before ? std::optional<std::string>(before) : std::nullopt;
    for (const Hostile& h : hostile_values()) {
      if (h.kind == Kind::nul) continue;  // an environment variable cannot hold one
      SCOPED_TRACE(std::string(key.env) + " = " + h.name);
      set(key.env, h.value);
      if (expected_for(key, h, true) == Expect::refuse) {
        expect_error<pgobo::ConfigError>([] { (void)pgobo::databricks::AppConfig::from_env(); },
                                         std::string(key.env), key.secret);
      } else {
        expect_accepted([] { (void)pgobo::databricks::AppConfig::from_env(); });
      }
    }
    if (previous) {
      set(key.env, *previous);
    } else {
      unsetenv(std::string(key.env).c_str());
    }
  }
}

TEST_F(HostileEnv, NulThroughALookupIsAConfigErrorNamingTheVariable) {
  for (const ConfigKey& key : kStringKeys) {
    SCOPED_TRACE(key.env);
    const std::string value = std::string(kMarker) + std::string("\0x", 2);
    const pgobo::EnvLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
      if (name == key.env) return value;
      if (name == "PGHOST") return "db.internal";
      if (name == "PGDATABASE") return "app";
      if (name == "PGPASSWORD") return "pw";
      return std::nullopt;
    };
    expect_error<pgobo::ConfigError>([&] { (void)pgobo::databricks::AppConfig::from_env(lookup); },
                                     std::string(key.env), key.secret);
  }
}

TEST_F(HostileEnv, RoutingVariablesGiveAConfigErrorNamingThem) {
  for (const auto variable : kRoutingVariables) {
    for (const Hostile& h : hostile_values()) {
      if (h.kind == Kind::nul) continue;
      SCOPED_TRACE(std::string(variable) + " = " + h.name);
      set(variable, h.value);
      if (h.kind == Kind::empty) {
        expect_accepted([] { (void)pgobo::RoutingConfig::from_env(); });
      } else {
        expect_error<pgobo::ConfigError>([] { (void)pgobo::RoutingConfig::from_env(); },
                                         std::string(variable), false);
      }
      unsetenv(std::string(variable).c_str());
    }
  }
}

// ---------------------------------------------------------------------------
// Workspace answers: the Lakebase credential, the OAuth token, SCIM Me.

// `value` as a JSON string literal that keeps bytes >= 0x80 raw (so invalid
// UTF-8 stays invalid) and escapes quotes, backslashes and control bytes.
std::string json_literal(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// What a workspace answer holding `h` in a string field must give.
struct AnswerExpectation {
  bool accepted;
  std::string message;  // part of the CredentialError's message
};

AnswerExpectation expected_answer(const Hostile& h, std::string_view missing) {
  switch (h.kind) {
    case Kind::empty:
      return {false, std::string(missing)};
    case Kind::huge:
      return {false, "exceeds"};  // the body is over the 1 MiB response cap
    case Kind::non_utf8:
      return {false, "not a JSON object"};
    case Kind::nul:
    case Kind::line_break:
    case Kind::control:
      return {false, "control character"};
  }
  return {false, ""};
}

class HostileWorkspace : public pgobo::test::FakeWorkspaceTest {
 protected:
  std::shared_ptr<pgobo::databricks::WorkspaceToken> pat() {
    return std::make_shared<pgobo::databricks::PersonalAccessToken>(
        pgobo::Secret(workspace.add_token_for("alice@example.com")));
  }

  pgobo::databricks::LakebaseCredentials lakebase() {
    return pgobo::databricks::LakebaseCredentials(
        {workspace.url(), workspace.options().endpoint, pat(), pgobo::databricks::HttpOptions{}});
  }

  pgobo::databricks::ServicePrincipalOAuth oauth() {
    pgobo::databricks::ServicePrincipalOAuth::Options options;
    options.workspace_url = workspace.url();
    options.client_id = workspace.options().client_id;
    options.client_secret = pgobo::Secret(workspace.options().client_secret);
    return pgobo::databricks::ServicePrincipalOAuth(std::move(options));
  }

  // The CredentialError of `fn`, checked: usable, no secret of the workspace.
  void expect_credential_error(const std::function<void()>& fn, const std::string& expected) {
    const auto message = error_of<pgobo::CredentialError>(fn);
    ASSERT_TRUE(message.has_value()) << "accepted; expected '" << expected << "'";
    EXPECT_THAT(*message, HasSubstr(expected));
    expect_usable_message(*message, true);
    expect_no_secret_in(*message);
  }
};

TEST_F(HostileWorkspace, LakebaseTokenField) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    workspace.fail_next(Endpoint::database_credential,
                        {200, "{\"token\":" + json_literal(h.value) +
                                  ",\"expire_time\":\"2099-01-01T00:00:00Z\"}"});
    auto credentials = lakebase();
    const AnswerExpectation want = expected_answer(h, "no token");
    expect_credential_error([&] { (void)credentials.get(); }, want.message);
  }
}

TEST_F(HostileWorkspace, LakebaseExpireTimeField) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    workspace.fail_next(
        Endpoint::database_credential,
        {200, "{\"token\":\"db-token\",\"expire_time\":" + json_literal(h.value) + "}"});
    auto credentials = lakebase();
    std::string want = "expire_time is not an RFC 3339 time";
    if (h.kind == Kind::huge) want = "exceeds";
    if (h.kind == Kind::non_utf8) want = "not a JSON object";
    // Times are not secret: an excerpt of at most 40 printable characters is shown.
    const auto message = error_of<pgobo::CredentialError>([&] { (void)credentials.get(); });
    ASSERT_TRUE(message.has_value());
    EXPECT_THAT(*message, HasSubstr(want));
    expect_usable_message(*message, false);
  }
}

// Found by the credential_json fuzzer: the refused expire_time is quoted, and
// a server that echoes the bearer token there had it quoted too.
TEST_F(HostileWorkspace, ExpireTimeEchoingTheBearerIsQuotedWithoutIt) {
  const std::string token = workspace.add_token_for("alice@example.com");
  workspace.fail_next(Endpoint::database_credential,
                      {200, R"({"token":"db-token","expire_time":")" + token + R"("})"});
  pgobo::databricks::LakebaseCredentials credentials(
      {workspace.url(), workspace.options().endpoint,
       std::make_shared<pgobo::databricks::PersonalAccessToken>(pgobo::Secret(token)),
       pgobo::databricks::HttpOptions{}});
  const auto message = error_of<pgobo::CredentialError>([&] { (void)credentials.get(); });
  ASSERT_TRUE(message.has_value());
  EXPECT_THAT(*message, HasSubstr("expire_time is not an RFC 3339 time"));
  EXPECT_THAT(*message, Not(HasSubstr(token)));
}

// A token longer than the quoted excerpt (any OAuth JWT): scrubbing only the
// excerpt would leave its first bytes behind.
TEST_F(HostileWorkspace, ExpireTimeEchoingALongBearerShowsNoPrefixOfIt) {
  std::string token = "eyJhbGciOiJSUzI1NiJ9.";
  for (int i = 0; token.size() < 160; ++i) token += static_cast<char>('a' + i % 26);
  workspace.fail_next(Endpoint::database_credential,
                      {200, R"({"token":"db-token","expire_time":")" + token + R"("})"});
  pgobo::databricks::LakebaseCredentials credentials(
      {workspace.url(), workspace.options().endpoint,
       std::make_shared<pgobo::databricks::PersonalAccessToken>(pgobo::Secret(token)),
       pgobo::databricks::HttpOptions{}});
  const auto message = error_of<pgobo::CredentialError>([&] { (void)credentials.get(); });
  ASSERT_TRUE(message.has_value());
  EXPECT_THAT(*message, HasSubstr("expire_time is not an RFC 3339 time"));
  EXPECT_THAT(*message, Not(HasSubstr(token.substr(0, 16)))) << *message;
}

TEST_F(HostileWorkspace, OAuthAccessTokenField) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    workspace.fail_next(Endpoint::oauth_token,
                        {200, "{\"access_token\":" + json_literal(h.value) +
                                  ",\"token_type\":\"Bearer\",\"expires_in\":3600}"});
    auto sp = oauth();
    const AnswerExpectation want = expected_answer(h, "no access_token");
    expect_credential_error([&] { (void)sp.token(); }, want.message);
  }
}

TEST_F(HostileWorkspace, ScimUserNameField) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    workspace.fail_next(Endpoint::current_user,
                        {200, "{\"userName\":" + json_literal(h.value) + ",\"id\":\"1\"}"});
    auto token = pat();
    const AnswerExpectation want = expected_answer(h, "no userName");
    expect_credential_error(
        [&] { (void)pgobo::databricks::fetch_current_user_name(workspace.url(), *token, {}); },
        want.message);
  }
}

TEST_F(HostileWorkspace, RawBodiesAreCredentialErrorsForSuccessAndErrorStatuses) {
  const std::string token = workspace.add_token_for("alice@example.com");
  for (const int status : {200, 400, 500}) {
    for (const Hostile& h : hostile_values()) {
      SCOPED_TRACE(std::to_string(status) + " " + h.name);
      // The body may echo the bearer token: the message must not.
      const std::string body =
          h.value.substr(0, 64) + token + h.value.substr(64 < h.value.size() ? 64 : h.value.size());
      workspace.fail_next(Endpoint::database_credential, {status, body, "text/plain"});
      pgobo::databricks::LakebaseCredentials credentials(
          {workspace.url(), workspace.options().endpoint,
           std::make_shared<pgobo::databricks::PersonalAccessToken>(pgobo::Secret(token)),
           pgobo::databricks::HttpOptions{}});
      const auto message = error_of<pgobo::CredentialError>([&] { (void)credentials.get(); });
      ASSERT_TRUE(message.has_value());
      EXPECT_THAT(*message, Not(HasSubstr(token)));
      // The API's error text is quoted as valid UTF-8 (bytes that are not
      // become '?'), never cut inside a character.
      expect_usable_message(*message, false, /*utf8=*/true);
      if (h.kind != Kind::huge) {
        EXPECT_THAT(*message, HasSubstr(status == 200 ? "not a JSON object"
                                                      : "HTTP " + std::to_string(status)));
      }
    }
  }
}

// describe_error_body() scrubs the API's error text before cutting it to
// 200/500 bytes: a token the body echoes across the cut leaves no part of
// itself in the message.
TEST_F(HostileWorkspace, ErrorTextCutInsideAnEchoedTokenShowsNoPartOfIt) {
  const std::string token = workspace.add_token_for("alice@example.com");
  workspace.fail_next(Endpoint::database_credential,
                      {500, std::string(180, '.') + token, "text/plain"});
  pgobo::databricks::LakebaseCredentials credentials(
      {workspace.url(), workspace.options().endpoint,
       std::make_shared<pgobo::databricks::PersonalAccessToken>(pgobo::Secret(token)),
       pgobo::databricks::HttpOptions{}});
  const auto message = error_of<pgobo::CredentialError>([&] { (void)credentials.get(); });
  ASSERT_TRUE(message.has_value());
  // The first 20 bytes: "dapi-fake-<n>-" and the start of the random part.
  EXPECT_THAT(*message, Not(HasSubstr(token.substr(0, 20))));
}

TEST_F(HostileWorkspace, WorkspaceTokensWithControlCharactersAreRefusedBeforeAnyRequest) {
  for (const Hostile& h : hostile_values()) {
    if (!is_control_kind(h.kind)) continue;
    SCOPED_TRACE(h.name);
    expect_error<pgobo::ConfigError>(
        [&] { pgobo::databricks::PersonalAccessToken{pgobo::Secret(h.value)}; },
        "control character", true);
    expect_error<pgobo::ConfigError>(
        [&] { pgobo::databricks::ForwardedUserToken{pgobo::Secret(h.value)}; }, "control character",
        true);
    // A token source may change its answer later: checked at each call.
    pgobo::databricks::ForwardedUserToken from_source([&] { return pgobo::Secret(h.value); });
    expect_error<pgobo::CredentialError>([&] { (void)from_source.token(); }, "control character",
                                         true);
  }
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 0);
}

TEST_F(HostileWorkspace, CustomWorkspaceTokenWithLineBreakNeverReachesAHeader) {
  struct Injecting final : pgobo::databricks::WorkspaceToken {
    pgobo::Secret token() override {
      return pgobo::Secret(std::string(kMarker) + "\r\nX-Injected: 1");
    }
  };
  Injecting injecting;
  auto credentials = pgobo::databricks::LakebaseCredentials(
      {workspace.url(), workspace.options().endpoint, std::make_shared<Injecting>(injecting),
       pgobo::databricks::HttpOptions{}});
  expect_credential_error([&] { (void)credentials.get(); }, "control character");
  expect_credential_error(
      [&] { (void)pgobo::databricks::fetch_current_user_name(workspace.url(), injecting, {}); },
      "control character");
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 0);
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0);
}

// ---------------------------------------------------------------------------
// The read-only SQL policy.

// A refusal reason must be short printable ASCII: it quotes at most a keyword.
void expect_printable_reason(const pgobo::ReadOnlyVerdict& verdict) {
  EXPECT_LT(verdict.reason.size(), 200U);
  for (const char c : verdict.reason) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "byte " << int(u) << " in: " << verdict.reason;
  }
}

struct PolicyCase {
  std::string name;
  std::string sql;
  bool allowed;
  std::string reason;  // part of the refusal
};

std::vector<PolicyCase> policy_cases() {
  const std::string m(kMarker);
  return {
      {"Empty", "", false, "empty statement"},
      {"OnlySemicolonsAndSpace", " ;\r\n;\t;", false, "empty statement"},
      {"HugeSelect", "SELECT " + std::string(kHuge, '1'), true, ""},
      {"HugeComment", "SELECT 1 /*" + std::string(kHuge, '*') + "*/", true, ""},
      {"HugeNestedComment", "SELECT 1 " + std::string(kHuge / 2, '/') + "*", false,
       "operator too long"},
      {"HugeWord", std::string(kHuge, 'A'), false, "at or near \"AAAA"},
      {"HugeSemicolons", std::string(kHuge, ';') + "SELECT 1", true, ""},
      {"NonUtf8Start", "\xff\xfeSELECT 1", false, "not valid UTF-8 at offset 0"},
      {"NonUtf8InString", "SELECT '\xff\xfe'", false, "not valid UTF-8 at offset 8"},
      {"NonUtf8Keyword",
       "SEL\xc3\xa9"
       "CT 1",
       false, "at or near \"SEL??CT\""},
      {"NulThenWrite", std::string("SELECT 1\0; DELETE FROM t", 24), false, "NUL byte"},
      {"NulInsideString", std::string("SELECT 'a\0b'", 12), false, "NUL byte"},
      {"NulInsideComment", std::string("SELECT 1 -- \0\n; DROP TABLE t", 28), false, "NUL byte"},
      {"CrEndsALineComment", "SELECT 1 -- note\r; DELETE FROM t", false, "DELETE"},
      {"CrLfBetweenStatements", "SELECT 1;\r\nDROP TABLE t", false, "DROP"},
      // PostgreSQL before 15 read 1E'…' as 1 and an escape string, where
      // \' does not close it; 15 refuses the junk after the number.
      {"EscapeStringAfterADigit", "SELECT 1E'\\'' ; DELETE FROM t; --'", false,
       "trailing junk after numeric literal"},
      {"LfEndsALineComment", "SELECT 1 -- note\nSELECT 2", false, "syntax error"},
      {"ControlStart", "\x1b[31mSELECT 1", false, "syntax error at or near \"?\""},
      {"FormFeed", "\fSELECT\f1", true, ""},
      // PostgreSQL 15's lexer takes no vertical tab as a blank (16 does).
      {"VerticalTab", "\vSELECT 1", false, "syntax error"},
      {"MarkerNotEchoed", m + " FROM t", false, "at or near \"S3CRET"},
  };
}

void PrintTo(const PolicyCase& c, std::ostream* out) { *out << c.name; }

class HostileSqlPolicy : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(HostileSqlPolicy, ClassifiesWithAShortPrintableReason) {
  const PolicyCase& c = GetParam();
  const pgobo::ReadOnlyVerdict verdict = pgobo::classify_read_only(c.sql);
  EXPECT_EQ(verdict.allowed, c.allowed) << verdict.reason;
  EXPECT_THAT(verdict.reason, HasSubstr(c.reason));
  expect_printable_reason(verdict);
  EXPECT_THAT(verdict.reason, Not(HasSubstr(std::string(kMarker))));
  if (c.allowed) {
    EXPECT_NO_THROW(pgobo::check_read_only(c.sql));
  } else {
    expect_error<pgobo::SqlPolicyError>([&] { pgobo::check_read_only(c.sql); },
                                        "read-only policy: " + verdict.reason, true);
  }
}

INSTANTIATE_TEST_SUITE_P(Inputs, HostileSqlPolicy, ::testing::ValuesIn(policy_cases()),
                         [](const ::testing::TestParamInfo<PolicyCase>& row) {
                           return row.param.name;
                         });

// ---------------------------------------------------------------------------
// Secret, PoolOptions, stats exposition.

TEST(HostileSecret, KeepsEveryByteAndNeverPrintsIt) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    const pgobo::Secret secret(h.value);
    EXPECT_EQ(secret.reveal(), h.value);
    EXPECT_EQ(secret.empty(), h.value.empty());
    std::ostringstream out;
    out << secret;
    EXPECT_EQ(out.str(), "***");
    EXPECT_EQ(fmt::format("{}", secret), "***");
    EXPECT_EQ(fmt::format("{:>40}", secret).find(kMarker), std::string::npos);
    EXPECT_EQ(to_string(secret), "***");
    pgobo::Secret copy = secret;
    EXPECT_EQ(copy, secret);
    const pgobo::Secret moved(std::move(copy));
    EXPECT_EQ(moved.reveal(), h.value);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is wiped
    // Documented: the const char* constructor reads a C string, up to its NUL.
    EXPECT_EQ(pgobo::Secret(h.value.c_str()).reveal(), std::string(h.value.c_str()));
  }
}

TEST(HostilePoolOptions, ValidateNamesThePoolByAPrintableExcerpt) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    pgobo::PoolOptions options;
    options.name = h.value;
    if (h.kind == Kind::empty) {
      expect_error<pgobo::ConfigError>([&] { options.validate(); }, "name must not be empty",
                                       false);
      continue;
    }
    expect_accepted([&] { options.validate(); });
    options.max_size = 0;
    expect_error<pgobo::ConfigError>([&] { options.validate(); }, "max_size must be at least 1",
                                     false);
  }
}

TEST(HostilePoolOptions, ValidateRefusesConnectionValuesLibpqCannotCarry) {
  const std::string nul = std::string(kMarker) + std::string("\0x", 2);
  pgobo::PoolOptions host;
  host.connection.host = nul;
  expect_error<pgobo::ConfigError>([&] { host.validate(); }, "host contains a NUL byte", false);
  pgobo::PoolOptions setting;
  setting.connection.settings = {{"bad name", "1"}};
  expect_error<pgobo::ConfigError>([&] { setting.validate(); }, "not a PostgreSQL setting name",
                                   false);
}

TEST(HostileStats, HostilePoolNamesNeverReachPrometheusAndStayValidJson) {
  for (const Hostile& h : hostile_values()) {
    SCOPED_TRACE(h.name);
    pgobo::PoolStats pool;
    pool.name = "user:" + h.value;
    pool.max_size = 3;
    pgobo::RoutingStats routing;
    routing.service = pool;

    std::string text;
    expect_accepted([&] { text = pgobo::stats_to_prometheus(routing); });
    EXPECT_THAT(text, Not(HasSubstr(std::string(kMarker))));
    expect_accepted([&] { text = pgobo::stats_to_prometheus(pool); });
    EXPECT_THAT(text, Not(HasSubstr(std::string(kMarker))));

    std::string json_text;
    expect_accepted([&] { json_text = pgobo::stats_to_json(pool).dump(); });
    expect_accepted([&] { (void)pgobo::stats_to_json(routing).dump(); });
    // to_json is the same path: the JSON of the stats themselves dumps too.
    expect_accepted([&] { (void)nlohmann::json(pool).dump(); });
    expect_accepted([&] { (void)nlohmann::json(routing).dump(); });
    EXPECT_EQ(nlohmann::json(pool), pgobo::stats_to_json(pool));
    if (h.kind != Kind::non_utf8) {
      EXPECT_EQ(nlohmann::json::parse(json_text).at("name"), pool.name);
    } else {
      // Invalid UTF-8 is replaced (U+FFFD) so the JSON stays valid.
      EXPECT_THAT(json_text, HasSubstr(std::string(kMarker)));
      EXPECT_TRUE(nlohmann::json::accept(json_text));
    }
  }
}

TEST(HostileStats, HostilePoolLabelsAreEscapedOntoOneSampleLine) {
  for (const Hostile& h : hostile_values()) {
    if (h.kind == Kind::huge) continue;
    SCOPED_TRACE(h.name);
    pgobo::PoolStats pool;
    const std::string text = pgobo::stats_to_prometheus(pool, h.value + "\"\\");
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      // A raw line feed in the label would start a line that is no sample.
      if (line.starts_with("#")) continue;
      EXPECT_TRUE(line.starts_with("db_client_") || line.starts_with("pgobo_")) << line;
    }
  }
}

}  // namespace
// NOLINTEND(concurrency-mt-unsafe)
