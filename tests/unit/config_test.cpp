// PoolConfig from environment variables and JSON: every setting, every
// default, every error path, and the pool options it builds. The Databricks
// settings (Lakebase, workspace, HTTP): databricks_config_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <optional>
#include <string>

#include "pgobo/config.hpp"
#include "pgobo/errors.hpp"

// The environment is changed only from the test's own thread, before
// from_env() reads it and with no other thread running: getenv/setenv are safe.
// NOLINTBEGIN(concurrency-mt-unsafe)
namespace {

using namespace std::chrono_literals;
using pgobo::ConfigError;
using pgobo::PoolConfig;
using pgobo::Secret;
using pgobo::SslMode;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Every variable from_env() reads. Unset before each test and restored
// after, so the runner's environment (which may hold PG* variables) cannot
// leak into a test.
constexpr std::array<const char*, 22> kVariables{"PGOBO_POOL_NAME",
                                                 "PGHOST",
                                                 "PGPORT",
                                                 "PGDATABASE",
                                                 "PGUSER",
                                                 "PGPASSWORD",
                                                 "PGSSLMODE",
                                                 "PGSSLROOTCERT",
                                                 "PGAPPNAME",
                                                 "PGCONNECT_TIMEOUT",
                                                 "PGOBO_STATEMENT_TIMEOUT_MS",
                                                 "PGOBO_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS",
                                                 "PGOBO_MAX_SIZE",
                                                 "PGOBO_MIN_IDLE",
                                                 "PGOBO_ACQUIRE_TIMEOUT_MS",
                                                 "PGOBO_IDLE_TIMEOUT_MS",
                                                 "PGOBO_MAX_LIFETIME_MS",
                                                 "PGOBO_MAX_LIFETIME_JITTER",
                                                 "PGOBO_SESSION_RESET",
                                                 "PGOBO_RESET_QUERY",
                                                 "PGOBO_VALIDATE_IDLE_AFTER_MS",
                                                 "PGOBO_CLOSE_TIMEOUT_MS"};

class EnvConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::size_t i = 0; i < kVariables.size(); ++i) {
      const char* value = std::getenv(kVariables[i]);
      saved_[i] = value ? std::optional<std::string>(value) : std::nullopt;
      unsetenv(kVariables[i]);
    }
  }
  void TearDown() override {
    for (std::size_t i = 0; i < kVariables.size(); ++i) {
      if (saved_[i]) {
        setenv(kVariables[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kVariables[i]);
      }
    }
  }

  static void set(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

  // The smallest valid environment: a host, a database and a password.
  static void set_password_basics() {
    set("PGHOST", "db.internal");
    set("PGDATABASE", "app");
    set("PGPASSWORD", "env-password-value");
  }

  // from_env()'s ConfigError message; fails the test if none is thrown.
  static std::string env_error() {
    try {
      (void)PoolConfig::from_env();
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "from_env() accepted the environment";
    return "";
  }

 private:
  std::array<std::optional<std::string>, kVariables.size()> saved_;
};

TEST_F(EnvConfigTest, ReadsTheConnectionVariables) {
  set_password_basics();
  set("PGPORT", "6543");
  set("PGUSER", "svc");
  set("PGSSLMODE", "verify-full");
  set("PGAPPNAME", "notes");
  set("PGCONNECT_TIMEOUT", "4");

  const auto c = PoolConfig::from_env().pool.connection;
  EXPECT_EQ(c.host, "db.internal");
  EXPECT_EQ(c.port, 6543);
  EXPECT_EQ(c.dbname, "app");
  EXPECT_EQ(c.user, "svc");
  EXPECT_EQ(c.sslmode, SslMode::verify_full);
  EXPECT_EQ(c.application_name, "notes");
  EXPECT_EQ(c.connect_timeout, 4s);
}

TEST_F(EnvConfigTest, ReadsTheTrustedCaFile) {
  set_password_basics();
  set("PGSSLROOTCERT", "/etc/app/ca.pem");
  set("PGSSLMODE", "verify-full");
  const auto c = PoolConfig::from_env().pool.connection;
  EXPECT_EQ(c.sslrootcert, "/etc/app/ca.pem");
  EXPECT_THAT(c.to_conninfo(), HasSubstr("sslrootcert='/etc/app/ca.pem'"));
}

TEST(JsonConfig, ReadsTheTrustedCaFile) {
  const auto c = PoolConfig::from_json_text(
      R"({"host":"db","database":"app","password":"pw","sslrootcert":"system"})");
  EXPECT_EQ(c.pool.connection.sslrootcert, "system");
  EXPECT_THAT(
      [] {
        (void)PoolConfig::from_json_text(R"({"host":"db","database":"app","sslrootcert":""})");
      },
      ::testing::ThrowsMessage<ConfigError>(
          AllOf(HasSubstr("JSON key 'sslrootcert'"), HasSubstr("CA certificates"))));
  EXPECT_THAT(
      [] { (void)PoolConfig::from_json_text(R"({"host":"db","database":"app","sslrootcert":5})"); },
      ::testing::ThrowsMessage<ConfigError>(HasSubstr("JSON key 'sslrootcert'")));
}

TEST_F(EnvConfigTest, DefaultsFollowAppKit) {
  set_password_basics();
  const PoolConfig config = PoolConfig::from_env();

  EXPECT_EQ(config.pool.connection.port, 5432);
  EXPECT_EQ(config.pool.connection.sslmode, std::nullopt) << "not chosen: a layer above may";
  EXPECT_EQ(config.pool.connection.effective_sslmode(), SslMode::require);
  EXPECT_EQ(config.pool.connection.sslrootcert, "");
  EXPECT_EQ(config.pool.connection.connect_timeout, 10s);
  EXPECT_EQ(config.pool.max_size, 10u);
  EXPECT_EQ(config.pool.idle_timeout, 30s);
  EXPECT_EQ(config.pool.acquire_timeout, 10s);
  EXPECT_TRUE(config.pool.connection.settings.empty());
}

TEST_F(EnvConfigTest, ReadsPoolSizesAndTimeouts) {
  set_password_basics();
  set("PGOBO_POOL_NAME", "sp");
  set("PGOBO_MAX_SIZE", "20");
  set("PGOBO_MIN_IDLE", "2");
  set("PGOBO_ACQUIRE_TIMEOUT_MS", "1500");
  set("PGOBO_IDLE_TIMEOUT_MS", "0");
  set("PGOBO_MAX_LIFETIME_MS", "600000");
  set("PGOBO_MAX_LIFETIME_JITTER", "0.25");
  set("PGOBO_RESET_QUERY", "DISCARD TEMP");
  set("PGOBO_SESSION_RESET", "always");
  set("PGOBO_VALIDATE_IDLE_AFTER_MS", "5000");
  set("PGOBO_CLOSE_TIMEOUT_MS", "2000");

  const PoolConfig c = PoolConfig::from_env();
  EXPECT_EQ(c.pool.name, "sp");
  EXPECT_EQ(c.pool.max_size, 20u);
  EXPECT_EQ(c.pool.min_idle, 2u);
  EXPECT_EQ(c.pool.acquire_timeout, 1500ms);
  EXPECT_EQ(c.pool.idle_timeout, 0ms);
  EXPECT_EQ(c.pool.max_lifetime, 10min);
  EXPECT_DOUBLE_EQ(c.pool.max_lifetime_jitter, 0.25);
  EXPECT_EQ(c.pool.reset_query, "DISCARD TEMP");
  EXPECT_EQ(c.pool.session_reset, pgobo::SessionReset::always);
  EXPECT_EQ(c.pool.validate_idle_after, 5s);
  EXPECT_EQ(c.pool.close_timeout, 2s);
}

TEST_F(EnvConfigTest, StatementTimeoutsBecomeServerSettings) {
  set_password_basics();
  set("PGOBO_STATEMENT_TIMEOUT_MS", "5000");
  set("PGOBO_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_MS", "60000");

  EXPECT_THAT(PoolConfig::from_env().pool.connection.settings,
              ::testing::ElementsAre(Pair("statement_timeout", "5000ms"),
                                     Pair("idle_in_transaction_session_timeout", "60000ms")));
}

TEST_F(EnvConfigTest, EmptyVariableCountsAsUnset) {
  set_password_basics();
  set("PGPORT", "");
  set("PGSSLMODE", "");
  EXPECT_EQ(PoolConfig::from_env().pool.connection.port, 5432);
}

TEST_F(EnvConfigTest, EverySslModeIsAccepted) {
  set_password_basics();
  for (const char* mode : {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}) {
    set("PGSSLMODE", mode);
    EXPECT_EQ(pgobo::to_string(PoolConfig::from_env().pool.connection.sslmode.value()), mode);
  }
}

TEST_F(EnvConfigTest, MissingHostNamesPGHOST) {
  set_password_basics();
  unsetenv("PGHOST");
  EXPECT_THAT(env_error(), AllOf(HasSubstr("PGHOST is not set"), HasSubstr("host name")));
}

TEST_F(EnvConfigTest, MissingDatabaseNamesPGDATABASE) {
  set_password_basics();
  unsetenv("PGDATABASE");
  EXPECT_THAT(env_error(), HasSubstr("PGDATABASE is not set"));
}

struct BadValue {
  const char* variable;
  const char* value;
  const char* expected;  // in the message, besides the variable and the value
};

class EnvConfigBadValue : public EnvConfigTest, public ::testing::WithParamInterface<BadValue> {};

TEST_P(EnvConfigBadValue, IsAConfigErrorNamingTheVariableWhatIsExpectedAndTheValue) {
  set_password_basics();
  set(GetParam().variable, GetParam().value);
  EXPECT_THAT(env_error(), AllOf(HasSubstr(std::string(GetParam().variable) + ": expected"),
                                 HasSubstr(GetParam().expected),
                                 HasSubstr("got '" + std::string(GetParam().value) + "'")));
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, EnvConfigBadValue,
    ::testing::Values(BadValue{"PGPORT", "abc", "port number from 1 to 65535"},
                      BadValue{"PGPORT", "0", "port number"},
                      BadValue{"PGPORT", "65536", "port number"},
                      BadValue{"PGPORT", "5432x", "port number"},
                      BadValue{"PGPORT", " 5432", "port number"},
                      BadValue{"PGCONNECT_TIMEOUT", "ten", "whole number of seconds"},
                      BadValue{"PGOBO_MAX_SIZE", "0", "whole number from 1"},
                      BadValue{"PGOBO_MAX_SIZE", "-1", "whole number from 1"},
                      BadValue{"PGOBO_MAX_SIZE", "1.5", "whole number from 1"},
                      BadValue{"PGOBO_MIN_IDLE", "many", "whole number from 0"},
                      BadValue{"PGOBO_IDLE_TIMEOUT_MS", "30s", "whole number of milliseconds"},
                      BadValue{"PGOBO_ACQUIRE_TIMEOUT_MS", "-1", "whole number of milliseconds"},
                      BadValue{"PGOBO_MAX_LIFETIME_MS", "99999999999999", "31 days"},
                      BadValue{"PGOBO_MAX_LIFETIME_JITTER", "1", "fraction"},
                      BadValue{"PGOBO_MAX_LIFETIME_JITTER", "-0.1", "fraction"},
                      BadValue{"PGOBO_MAX_LIFETIME_JITTER", "nan", "fraction"},
                      BadValue{"PGOBO_STATEMENT_TIMEOUT_MS", "5s", "milliseconds"}));

TEST_F(EnvConfigTest, UnknownSslModeNamesPGSSLMODEAndTheChoices) {
  set_password_basics();
  set("PGSSLMODE", "on");
  EXPECT_THAT(env_error(), AllOf(HasSubstr("PGSSLMODE"), HasSubstr("verify-ca")));
}

TEST_F(EnvConfigTest, MinIdleAboveMaxSizeNamesBoth) {
  set_password_basics();
  set("PGOBO_MAX_SIZE", "2");
  set("PGOBO_MIN_IDLE", "3");
  EXPECT_THAT(env_error(), AllOf(HasSubstr("PGOBO_MIN_IDLE (3)"), HasSubstr("PGOBO_MAX_SIZE (2)")));
}

TEST_F(EnvConfigTest, ConfigErrorsNeverQuoteSecrets) {
  set("PGPASSWORD", "env-password-value");
  EXPECT_THAT(env_error(), Not(HasSubstr("env-password-value")));  // PGHOST missing
}

TEST_F(EnvConfigTest, NoCredentialIsAnErrorOfMakePoolOptionsNotOfReading) {
  set("PGHOST", "db.internal");
  set("PGDATABASE", "app");
  PoolConfig config = PoolConfig::from_env();  // a provider may still be set in code
  EXPECT_THAT([&] { (void)config.make_pool_options(); },
              ::testing::ThrowsMessage<ConfigError>(
                  AllOf(HasSubstr("no database credential"), HasSubstr("PGPASSWORD"))));
  config.pool.credentials = std::make_shared<pgobo::StaticPassword>(Secret("from-code"));
  EXPECT_EQ(config.make_pool_options().credentials->get().secret.reveal(), "from-code");
}

TEST_F(EnvConfigTest, LookupFunctionReplacesTheEnvironment) {
  const PoolConfig config =
      PoolConfig::from_env([](std::string_view name) -> std::optional<std::string> {
        if (name == "PGHOST") return "from-lookup";
        if (name == "PGDATABASE") return "app";
        if (name == "PGPASSWORD") return "pw";
        return std::nullopt;
      });
  EXPECT_EQ(config.pool.connection.host, "from-lookup");
}

// ---------------------------------------------------------------------------
// JSON

std::string json_error(const std::string& text) {
  try {
    (void)PoolConfig::from_json_text(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "from_json accepted " << text;
  return "";
}

TEST(JsonConfig, ReadsEveryKey) {
  const PoolConfig c = PoolConfig::from_json_text(R"({
    "name": "sp", "host": "db.internal", "port": 6543, "database": "app", "user": "svc",
    "sslmode": "verify-ca", "application_name": "notes", "connect_timeout_s": 3,
    "settings": {"search_path": "app, public", "work_mem": 65536, "jit": false},
    "statement_timeout_ms": 5000, "idle_in_transaction_session_timeout_ms": 60000,
    "max_size": 20, "min_idle": 1, "acquire_timeout_ms": 1500, "idle_timeout_ms": 45000,
    "max_lifetime_ms": 600000, "max_lifetime_jitter": 0.1, "reset_query": "DISCARD TEMP", "session_reset": "never",
    "validate_idle_after_ms": 5000, "close_timeout_ms": 2000
  })");

  EXPECT_EQ(c.pool.name, "sp");
  EXPECT_EQ(c.pool.connection.host, "db.internal");
  EXPECT_EQ(c.pool.connection.port, 6543);
  EXPECT_EQ(c.pool.connection.dbname, "app");
  EXPECT_EQ(c.pool.connection.user, "svc");
  EXPECT_EQ(c.pool.connection.sslmode, SslMode::verify_ca);
  EXPECT_EQ(c.pool.connection.application_name, "notes");
  EXPECT_EQ(c.pool.connection.connect_timeout, 3s);
  EXPECT_THAT(
      c.pool.connection.settings,
      ::testing::UnorderedElementsAre(Pair("search_path", "app, public"), Pair("work_mem", "65536"),
                                      Pair("jit", "false"), Pair("statement_timeout", "5000ms"),
                                      Pair("idle_in_transaction_session_timeout", "60000ms")));
  EXPECT_EQ(c.pool.max_size, 20u);
  EXPECT_EQ(c.pool.min_idle, 1u);
  EXPECT_EQ(c.pool.acquire_timeout, 1500ms);
  EXPECT_EQ(c.pool.idle_timeout, 45s);
  EXPECT_EQ(c.pool.max_lifetime, 10min);
  EXPECT_DOUBLE_EQ(c.pool.max_lifetime_jitter, 0.1);
  EXPECT_EQ(c.pool.reset_query, "DISCARD TEMP");
  EXPECT_EQ(c.pool.session_reset, pgobo::SessionReset::never);
  EXPECT_EQ(c.pool.validate_idle_after, 5s);
  EXPECT_EQ(c.pool.close_timeout, 2s);
}

TEST(JsonConfig, DatabricksKeysAreUnknownToTheCore) {
  EXPECT_THAT(json_error(R"({"host":"db","database":"app","lakebase_endpoint":"p"})"),
              HasSubstr("unknown JSON key 'lakebase_endpoint'"));
}

TEST(JsonConfig, DefaultsMatchTheEnvironmentDefaults) {
  const PoolConfig c =
      PoolConfig::from_json_text(R"({"host":"db","database":"app","password":"pw"})");
  EXPECT_EQ(c.pool.connection.port, 5432);
  EXPECT_EQ(c.pool.connection.sslmode, std::nullopt);
  EXPECT_EQ(c.pool.connection.effective_sslmode(), SslMode::require);
  EXPECT_EQ(c.pool.max_size, 10u);
  EXPECT_EQ(c.pool.idle_timeout, 30s);
  EXPECT_EQ(c.pool.connection.connect_timeout, 10s);
}

TEST(JsonConfig, UnknownKeyIsAnErrorWithAHintForAMissingUnit) {
  EXPECT_THAT(json_error(R"({"host":"db","database":"app","password":"pw","idle_timeout":30})"),
              AllOf(HasSubstr("unknown JSON key 'idle_timeout'"),
                    HasSubstr("did you mean 'idle_timeout_ms'")));
}

TEST(JsonConfig, NullCountsAsAbsent) {
  const PoolConfig c = PoolConfig::from_json_text(
      R"({"host":"db","database":"app","password":"pw","port":null,"user":null})");
  EXPECT_EQ(c.pool.connection.port, 5432);
}

class JsonConfigBadValue : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(JsonConfigBadValue, IsAConfigErrorNamingTheKeyAndWhatIsExpected) {
  const auto& [member, expected] = GetParam();
  EXPECT_THAT(json_error(R"({"host":"db","database":"app","password":"pw",)" + member + "}"),
              HasSubstr(expected));
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonConfigBadValue,
    ::testing::Values(
        std::pair{R"("port":"5432")", "JSON key 'port': expected a port number"},
        std::pair{R"("port":70000)", "JSON key 'port': expected a port number"},
        std::pair{R"("max_size":1.5)", "JSON key 'max_size': expected a whole number from 1"},
        std::pair{R"("max_size":-1)", "JSON key 'max_size': expected a whole number from 1"},
        std::pair{R"("max_size":18446744073709551615)", "JSON key 'max_size'"},
        std::pair{R"("idle_timeout_ms":"30s")",
                  "JSON key 'idle_timeout_ms': expected a whole number of milliseconds"},
        std::pair{R"("host":5)", "JSON key 'host': expected a string, got 5"},
        std::pair{R"("host":"")", "JSON key 'host': expected the PostgreSQL host name"},
        std::pair{R"("sslmode":1)", "JSON key 'sslmode': expected a string"},
        std::pair{R"("sslmode":"yes")", "JSON key 'sslmode': expected one of"},
        std::pair{R"("settings":["a"])", "JSON key 'settings': expected an object"},
        std::pair{R"("settings":{"bad name":"x"})", "'bad name' is not a PostgreSQL setting name"},
        std::pair{R"("settings":{"work_mem":{}})", "setting 'work_mem' must be a string"},
        std::pair{R"("max_lifetime_jitter":"0.1")",
                  "JSON key 'max_lifetime_jitter': expected a fraction"}));

// Issue 13, item 11: a value nested 300,000 arrays deep (600 KB) under a
// known key crashed the reader (signal 11): the error message dumped it, and
// dump() recurses once per level. The text is now refused by its depth, and a
// deep value built in code is described, not dumped.
TEST(JsonConfig, DeeplyNestedTextIsRefusedByItsDepth) {
  const std::string deep = std::string(300'000, '[') + std::string(300'000, ']');
  ASSERT_GT(deep.size(), 600'000U - 1);
  for (const std::string& text :
       {R"({"host":)" + deep + "}", R"({"max_size":)" + deep + "}", R"({"password":)" + deep + "}",
        "{\"unknown\":" + deep + "}", deep}) {
    const std::string message = json_error(text);
    EXPECT_THAT(message, AllOf(HasSubstr("too deeply nested"), HasSubstr("64 levels")));
    EXPECT_LT(message.size(), 300U);
  }
  // 64 levels are still read (and refused for what they are).
  const std::string limit = std::string(63, '[') + std::string(63, ']');
  EXPECT_THAT(json_error(R"({"host":)" + limit + "}"),
              HasSubstr("JSON key 'host': expected a string, got an array of 1 element(s)"));
}

TEST(JsonConfig, ADeepOrLargeValueBuiltInCodeIsDescribedNotDumped) {
  const std::string text = std::string(300'000, '[') + std::string(300'000, ']');
  for (const char* key : {"host", "port", "max_size", "password"}) {
    SCOPED_TRACE(key);
    nlohmann::json config{{"host", "db"}, {"database", "app"}, {"password", "pw"}};
    // Built without pgobo's bound, as an application could; moved, not
    // copied (nlohmann copies recursively).
    config[key] = nlohmann::json::parse(text);
    std::string message;
    try {
      (void)PoolConfig::from_json(config);
    } catch (const ConfigError& e) {
      message = e.what();
    }
    EXPECT_THAT(message, HasSubstr(std::string("JSON key '") + key + "': expected"));
    EXPECT_LT(message.size(), 300U);
  }
  nlohmann::json config{{"database", "app"}, {"password", "pw"}};
  config["host"] = std::string(1'000'000, 'h') + "\n";
  config["host"] = nlohmann::json::array({config["host"]});
  EXPECT_THAT([&] { (void)PoolConfig::from_json(config); },
              ::testing::ThrowsMessage<ConfigError>(AllOf(HasSubstr("got an array of 1 element(s)"),
                                                          ::testing::Not(HasSubstr("hhhh")))));
  config["host"] = 12.5;
  EXPECT_THAT([&] { (void)PoolConfig::from_json(config); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("got 12.5")));
}

TEST(JsonConfig, WrongTypeForASecretDoesNotEchoTheValue) {
  const std::string message = json_error(R"({"host":"db","database":"app","password":987654321})");
  EXPECT_THAT(message, HasSubstr("JSON key 'password': expected a string"));
  EXPECT_THAT(message, Not(HasSubstr("987654321")));
}

TEST(JsonConfig, MissingKeysAreNamedAsJsonKeys) {
  EXPECT_THAT(json_error(R"({"database":"app","password":"pw"})"),
              HasSubstr("JSON key 'host' is not set"));
}

TEST(JsonConfig, NotAnObjectIsAConfigError) {
  EXPECT_THAT(json_error("[1, 2]"), HasSubstr("must be an object"));
}

TEST(JsonConfig, SyntaxErrorIsAConfigError) {
  EXPECT_THAT(json_error(R"({"host": )"), HasSubstr("not valid JSON"));
}

TEST_F(EnvConfigTest, JsonReadsNoEnvironmentVariable) {
  set("PGHOST", "from-env");
  set("PGPORT", "7777");
  EXPECT_THAT(json_error(R"({"database":"app","password":"pw"})"), HasSubstr("JSON key 'host'"));
  EXPECT_EQ(PoolConfig::from_json_text(R"({"host":"db","database":"app","password":"pw"})")
                .pool.connection.port,
            5432);
}

TEST(CodeConfig, MakePoolOptionsNamesTheFieldTheVariableAndTheJsonKey) {
  PoolConfig config;  // host and database default to localhost/postgres
  config.validate();  // a password source is not validate()'s business
  try {
    (void)config.make_pool_options();
    FAIL() << "a config without credential built pool options";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("password (PGPASSWORD / JSON key 'password')"));
  }
}

TEST(CodeConfig, StaticPasswordPoolOptionsCarryThePassword) {
  PoolConfig config;
  config.password = Secret("pw-in-code");
  config.pool.connection.user = "svc";

  const pgobo::PoolOptions options = config.make_pool_options();
  ASSERT_NE(options.credentials, nullptr);
  EXPECT_EQ(options.credentials->get().secret.reveal(), "pw-in-code");
  EXPECT_EQ(options.connection.user, "svc");
}

}  // namespace
// NOLINTEND(concurrency-mt-unsafe)
