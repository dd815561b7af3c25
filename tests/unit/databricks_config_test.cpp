// databricks::AppConfig: the core settings plus Lakebase OAuth from the
// environment (through an EnvLookup, so the process environment is never
// touched) and from JSON, and what it builds against a fake workspace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app_env.hpp"
#include "databricks/lakebase_tls.hpp"
#include "fake_workspace.hpp"
#include "log_capture.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/errors.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::ConfigError;
using pgobo::Secret;
using pgobo::SslMode;
using pgobo::databricks::AppConfig;
using Endpoint = pgobo::test::FakeWorkspace::Endpoint;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kEndpoint = "projects/app/branches/main/endpoints/primary";

// An environment of its own for each test.
class AppEnv : public pgobo::test::AppEnvTest {
 protected:
  void set_password_basics() {
    set("PGHOST", "db.internal");
    set("PGDATABASE", "app");
    set("PGPASSWORD", "env-password-value");
  }
};

TEST_F(AppEnv, ReadsTheCoreSettingsAndTheDatabricksDefaults) {
  set_password_basics();
  set("PGOBO_MAX_SIZE", "20");
  set("PGOBO_MAX_TOTAL_CONNECTIONS", "400");
  const AppConfig c = read();
  EXPECT_EQ(c.routing.service.pool.connection.host, "db.internal");
  EXPECT_EQ(c.routing.service.pool.max_size, 20u);
  EXPECT_EQ(c.routing.max_total_connections, 400u);
  EXPECT_EQ(c.lakebase.credential_refresh_ahead, 2min);
  EXPECT_EQ(c.lakebase.http.connect_timeout, 5s);
  EXPECT_EQ(c.lakebase.http.timeout, 30s);
  EXPECT_FALSE(c.uses_lakebase());
}

TEST_F(AppEnv, ReadsTheRefreshAndHttpSettings) {
  set_password_basics();
  set("PGOBO_CREDENTIAL_REFRESH_AHEAD_MS", "30000");
  set("PGOBO_HTTP_CONNECT_TIMEOUT_MS", "700");
  set("PGOBO_HTTP_TIMEOUT_MS", "9000");
  set("PGOBO_HTTP_MAX_RESPONSE_BYTES", "4096");
  set("PGOBO_HTTP_CA_FILE", "/etc/ssl/certs/ca-certificates.crt");  // read when configured
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.credential_refresh_ahead, 30s);
  EXPECT_EQ(c.lakebase.http.connect_timeout, 700ms);
  EXPECT_EQ(c.lakebase.http.timeout, 9s);
  EXPECT_EQ(c.lakebase.http.max_response_bytes, 4096u);
  EXPECT_EQ(c.lakebase.http.ca_file, "/etc/ssl/certs/ca-certificates.crt");
}

TEST_F(AppEnv, MalformedHttpSettingsNameTheVariable) {
  set_password_basics();
  set("PGOBO_HTTP_TIMEOUT_MS", "0");
  EXPECT_THAT(error(), AllOf(HasSubstr("PGOBO_HTTP_TIMEOUT_MS: expected"),
                             HasSubstr("positive number"), HasSubstr("got '0'")));
  set("PGOBO_HTTP_TIMEOUT_MS", "9000");
  set("PGOBO_HTTP_MAX_RESPONSE_BYTES", "10");
  EXPECT_THAT(error(), AllOf(HasSubstr("PGOBO_HTTP_MAX_RESPONSE_BYTES: expected"),
                             HasSubstr("bytes"), HasSubstr("got '10'")));
}

TEST_F(AppEnv, NoCredentialNamesPasswordAndLakebaseChoices) {
  set("PGHOST", "db.internal");
  set("PGDATABASE", "app");
  EXPECT_THAT(error(), AllOf(HasSubstr("PGPASSWORD"), HasSubstr("LAKEBASE_ENDPOINT")));
}

TEST_F(AppEnv, LakebaseWithServicePrincipalEnvironment) {
  set("PGHOST", "instance.database.cloud.databricks.com");
  set("PGDATABASE", "databricks_postgres");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "adb-123.azuredatabricks.net");
  set("DATABRICKS_CLIENT_ID", "6f2c-client");
  set("DATABRICKS_CLIENT_SECRET", "client-secret-value");

  const AppConfig c = read();
  EXPECT_TRUE(c.uses_lakebase());
  EXPECT_EQ(c.lakebase.endpoint, kEndpoint);
  EXPECT_EQ(c.lakebase.workspace_url, "https://adb-123.azuredatabricks.net");
  EXPECT_EQ(c.lakebase.client_id, "6f2c-client");
  EXPECT_EQ(c.lakebase.client_secret.reveal(), "client-secret-value");
  EXPECT_EQ(c.resolve_user(nullptr), "6f2c-client") << "DATABRICKS_CLIENT_ID names the SP's role";
}

TEST_F(AppEnv, LakebaseWithoutDatabricksHostNamesIt) {
  set("PGHOST", "db");
  set("PGDATABASE", "app");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_TOKEN", "dapi-token-value");
  EXPECT_THAT(error(), HasSubstr("DATABRICKS_HOST is not set"));
}

TEST_F(AppEnv, LakebaseWithoutAWorkspaceCredentialNamesTheChoices) {
  set("PGHOST", "db");
  set("PGDATABASE", "app");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "https://example.cloud.databricks.com");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_TOKEN"), HasSubstr("DATABRICKS_CLIENT_ID"),
                             HasSubstr("DATABRICKS_CLIENT_SECRET")));
}

TEST_F(AppEnv, ClientIdWithoutSecretNamesTheSecret) {
  set("PGHOST", "db");
  set("PGDATABASE", "app");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "https://example.cloud.databricks.com");
  set("DATABRICKS_CLIENT_ID", "6f2c-client");
  EXPECT_THAT(error(), HasSubstr("DATABRICKS_CLIENT_SECRET is not set"));
}

TEST_F(AppEnv, MalformedLakebaseEndpointNamesIt) {
  set_password_basics();
  set("LAKEBASE_ENDPOINT", "primary");
  EXPECT_THAT(error(), AllOf(HasSubstr("LAKEBASE_ENDPOINT"),
                             HasSubstr("projects/<project>/branches/<branch>")));
}

TEST_F(AppEnv, PlainHttpDatabricksHostIsRefused) {
  set_password_basics();
  set("DATABRICKS_HOST", "http://example.cloud.databricks.com");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_HOST"), HasSubstr("https://")));
}

// Issue 16, item 6: in the environment, AppKit ignores PGPASSWORD when
// LAKEBASE_ENDPOINT is set; pgobo does the same and says which source won.
TEST_F(AppEnv, LakebaseWinsOverPgpasswordInTheEnvironmentAndSaysSo) {
  pgobo::test::LogCapture log;
  set_password_basics();
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "https://example.cloud.databricks.com");
  set("DATABRICKS_TOKEN", "dapi-token-value");
  const AppConfig config = read();
  EXPECT_TRUE(config.uses_lakebase());
  EXPECT_FALSE(config.routing.service.password.has_value());
  EXPECT_THAT(log.text(),
              AllOf(HasSubstr("Lakebase OAuth"), HasSubstr("PGPASSWORD is set and ignored"),
                    Not(HasSubstr("env-password-value"))));
}

TEST_F(AppEnv, AnIgnoredPgpasswordIsNamedWhenLakebaseIsIncomplete) {
  set_password_basics();
  set("LAKEBASE_ENDPOINT", kEndpoint);  // no DATABRICKS_HOST
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_HOST is not set"),
                             HasSubstr("PGPASSWORD is set but not used"),
                             Not(HasSubstr("env-password-value"))));
}

TEST_F(AppEnv, APasswordSetInCodeStillWinsOverLakebase) {
  set("PGHOST", "db.internal");
  set("PGDATABASE", "app");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "https://example.cloud.databricks.com");
  set("DATABRICKS_TOKEN", "dapi-token-value");
  AppConfig config = read();
  config.routing.service.password = Secret("code-password-value");
  EXPECT_FALSE(config.uses_lakebase());
  const pgobo::PoolOptions options = config.make_service_pool_options();
  EXPECT_EQ(options.credentials->get().secret.reveal(), "code-password-value");
}

TEST(AppJson, AJsonPasswordWinsOverTheLakebaseEndpointAndSaysSo) {
  pgobo::test::LogCapture log;
  const AppConfig config = AppConfig::from_json_text(
      R"({"host":"db","database":"app","password":"json-password-value",
          "lakebase_endpoint":"projects/app/branches/main/endpoints/primary"})");
  EXPECT_FALSE(config.uses_lakebase());
  EXPECT_EQ(config.make_service_pool_options().credentials->get().secret.reveal(),
            "json-password-value");
  EXPECT_THAT(log.text(),
              AllOf(HasSubstr("the JSON key 'password'"), Not(HasSubstr("json-password-value"))));
}

TEST_F(AppEnv, PersonalAccessTokenWinsOverClientCredentials) {
  set("PGHOST", "db");
  set("PGDATABASE", "app");
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("DATABRICKS_HOST", "https://example.cloud.databricks.com");
  set("DATABRICKS_TOKEN", "dapi-token-value");
  set("DATABRICKS_CLIENT_ID", "6f2c-client");
  set("DATABRICKS_CLIENT_SECRET", "client-secret-value");

  const auto token = read().make_workspace_token();
  ASSERT_NE(dynamic_cast<pgobo::databricks::PersonalAccessToken*>(token.get()), nullptr);
  EXPECT_EQ(token->token().reveal(), "dapi-token-value");
}

TEST_F(AppEnv, ConfigErrorsNeverQuoteSecrets) {
  set("PGPASSWORD", "env-password-value");
  set("DATABRICKS_CLIENT_SECRET", "client-secret-value");
  set("DATABRICKS_TOKEN", "dapi-token-value");
  const std::string message = error();  // PGHOST missing
  for (const char* secret : {"env-password-value", "client-secret-value", "dapi-token-value"}) {
    EXPECT_THAT(message, Not(HasSubstr(secret)));
  }
}

// ---------------------------------------------------------------------------
// JSON

std::string json_error(const std::string& text) {
  try {
    (void)AppConfig::from_json_text(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "from_json accepted " << text;
  return "";
}

TEST(AppJson, ReadsTheCoreRoutingAndDatabricksKeysOfOneObject) {
  const AppConfig c = AppConfig::from_json_text(R"({
    "host": "db.internal", "database": "app", "max_size": 20,
    "user_pool_max_size": 4, "max_pools": 50, "allow_rls_bypass_roles": true,
    "lakebase_endpoint": "projects/app/branches/main/endpoints/primary",
    "workspace_url": "https://example.cloud.databricks.com/",
    "client_id": "6f2c-client", "client_secret": "json-client-secret",
    "workspace_token": "json-dapi-token",
    "credential_refresh_ahead_ms": 30000, "http_connect_timeout_ms": 700,
    "http_timeout_ms": 9000, "http_max_response_bytes": 4096, "http_ca_file": "/etc/ssl/certs/ca-certificates.crt"
  })");
  EXPECT_EQ(c.routing.service.pool.connection.host, "db.internal");
  EXPECT_EQ(c.routing.service.pool.max_size, 20u);
  EXPECT_EQ(c.routing.user_pool.max_size, 4u);
  EXPECT_EQ(c.routing.max_pools, 50u);
  EXPECT_TRUE(c.routing.allow_rls_bypass_roles);
  EXPECT_EQ(c.lakebase.endpoint, kEndpoint);
  EXPECT_EQ(c.lakebase.workspace_url, "https://example.cloud.databricks.com");
  EXPECT_EQ(c.lakebase.client_id, "6f2c-client");
  EXPECT_EQ(c.lakebase.client_secret.reveal(), "json-client-secret");
  EXPECT_EQ(c.lakebase.workspace_token.reveal(), "json-dapi-token");
  EXPECT_EQ(c.lakebase.credential_refresh_ahead, 30s);
  EXPECT_EQ(c.lakebase.http.connect_timeout, 700ms);
  EXPECT_EQ(c.lakebase.http.timeout, 9s);
  EXPECT_EQ(c.lakebase.http.max_response_bytes, 4096u);
  EXPECT_EQ(c.lakebase.http.ca_file, "/etc/ssl/certs/ca-certificates.crt");
}

TEST(AppJson, MalformedDatabricksValuesNameTheKey) {
  const std::string base = R"({"host":"db","database":"app","password":"pw",)";
  EXPECT_THAT(json_error(base + R"("workspace_url":"ftp://x"})"),
              HasSubstr("JSON key 'workspace_url'"));
  EXPECT_THAT(json_error(base + R"("lakebase_endpoint":"x"})"),
              HasSubstr("JSON key 'lakebase_endpoint'"));
  EXPECT_THAT(json_error(base + R"("http_timeout_ms":"9s"})"),
              HasSubstr("JSON key 'http_timeout_ms': expected"));
}

TEST(AppJson, AKeyOfNoLayerIsUnknown) {
  EXPECT_THAT(json_error(R"({"host":"db","database":"app","password":"pw","lakebase":"x"})"),
              AllOf(HasSubstr("unknown JSON key 'lakebase'"),
                    HasSubstr("did you mean 'lakebase_endpoint' or 'lakebase_instance_name'?")));
}

TEST(AppJson, MissingCredentialNamesBothJsonKeys) {
  EXPECT_THAT(json_error(R"({"host":"db","database":"app"})"),
              AllOf(HasSubstr("JSON key 'password'"), HasSubstr("JSON key 'lakebase_endpoint'")));
}

TEST(AppJson, ADeepValueBuiltInCodeIsDescribedNotDumped) {
  const std::string text = std::string(300'000, '[') + std::string(300'000, ']');
  for (const char* key : {"workspace_url", "client_secret", "user_pool_max_size", "unknown_key"}) {
    SCOPED_TRACE(key);
    nlohmann::json config{{"host", "db"}, {"database", "app"}, {"password", "pw"}};
    config[key] = nlohmann::json::parse(text);  // moved, not copied
    std::string message;
    try {
      (void)AppConfig::from_json(config);
    } catch (const ConfigError& e) {
      message = e.what();
    }
    EXPECT_THAT(message, HasSubstr(std::string("JSON key '") + key + "'"));
    EXPECT_LT(message.size(), 300U);
  }
}

// ---------------------------------------------------------------------------
// What it builds, against the fake workspace

class AppConfigWorkspaceTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  [[nodiscard]] AppConfig sp_config() const {
    const nlohmann::json json{{"host", "127.0.0.1"},
                              {"database", "app"},
                              {"lakebase_endpoint", workspace.options().endpoint},
                              {"workspace_url", workspace.url()},
                              {"client_id", workspace.options().client_id},
                              {"client_secret", workspace.options().client_secret}};
    return AppConfig::from_json(json);
  }
};

TEST_F(AppConfigWorkspaceTest, PoolOptionsLogInWithTheServicePrincipalsDatabaseToken) {
  const pgobo::PoolOptions options = sp_config().make_service_pool_options();

  const pgobo::Credential credential = options.credentials->get();
  EXPECT_EQ(credential.secret.reveal(), workspace.database_tokens().at(0));
  EXPECT_TRUE(credential.expires_at.has_value());
  EXPECT_THAT(workspace.database_credential_users(),
              ::testing::ElementsAre(workspace.options().service_principal_user));
}

TEST_F(AppConfigWorkspaceTest, UserComesFromTheConfigFirst) {
  AppConfig config = sp_config();
  config.routing.service.pool.connection.user = "explicit-role";
  EXPECT_EQ(config.make_service_pool_options().connection.user, "explicit-role");
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0);
}

TEST_F(AppConfigWorkspaceTest, UserFallsBackToTheClientId) {
  EXPECT_EQ(sp_config().make_service_pool_options().connection.user, workspace.options().client_id);
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0);
}

TEST_F(AppConfigWorkspaceTest, UserIsLookedUpInTheWorkspaceWhenNothingElseNamesIt) {
  AppConfig config = sp_config();
  config.lakebase.client_id.clear();
  config.lakebase.client_secret = Secret();
  config.lakebase.workspace_token = Secret(workspace.add_token_for("looked-up@example.com"));

  EXPECT_EQ(config.make_service_pool_options().connection.user, "looked-up@example.com");
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 1);
}

TEST_F(AppConfigWorkspaceTest, UserCredentialsAreIssuedForTheForwardedTokensUser) {
  const auto credentials =
      sp_config().make_user_credentials(Secret(workspace.add_token_for("alice@example.com")));
  (void)credentials->get();

  EXPECT_THAT(workspace.database_credential_users(), ::testing::ElementsAre("alice@example.com"));
}

TEST_F(AppConfigWorkspaceTest, RoutingConfigIsReadyForCreate) {
  const pgobo::RoutingConfig ready = sp_config().make_routing_config();
  ASSERT_NE(ready.service.pool.credentials, nullptr);
  EXPECT_EQ(ready.service.pool.connection.user, workspace.options().client_id);
  ASSERT_TRUE(ready.user_credentials);
  const auto alice = pgobo::make_user_context("u-1", "alice@example.com",
                                              Secret(workspace.add_token_for("alice@example.com")));
  (void)ready.user_credentials(alice)->get();
  EXPECT_THAT(workspace.database_credential_users(), ::testing::Contains("alice@example.com"));
}

TEST_F(AppConfigWorkspaceTest, ACredentialProviderSetInCodeWinsOverLakebaseForTheService) {
  AppConfig config = sp_config();
  auto own = std::make_shared<pgobo::StaticPassword>(Secret("own-provider-password"));
  config.routing.service.pool.credentials = own;

  const pgobo::PoolOptions options = config.make_service_pool_options();

  EXPECT_EQ(options.credentials, own);
  EXPECT_EQ(options.connection.user, workspace.options().client_id);
  EXPECT_EQ(workspace.calls(Endpoint::oauth_token), 0);
  EXPECT_TRUE(workspace.database_credential_users().empty());
}

// The router keeps user_credentials for its lifetime, after the AppConfig
// and the service pool's options are gone; a user's credential is bought
// with the user's token alone (it captured no service principal secret).
TEST_F(AppConfigWorkspaceTest, UserCredentialsOutliveTheConfigAndNeedOnlyTheUsersToken) {
  auto ready = std::make_unique<pgobo::RoutingConfig>(sp_config().make_routing_config());
  auto user_credentials = std::move(ready->user_credentials);
  ready.reset();  // the service pool's options (and its OAuth client) are gone
  const auto alice = pgobo::make_user_context("u-1", "alice@example.com",
                                              Secret(workspace.add_token_for("alice@example.com")));
  const int oauth_before = workspace.calls(Endpoint::oauth_token);

  (void)user_credentials(alice)->get();

  EXPECT_EQ(workspace.calls(Endpoint::oauth_token), oauth_before);  // only the user's token
  EXPECT_THAT(workspace.database_credential_users(), ::testing::Contains("alice@example.com"));
}

TEST(AppConfigCode, UserCredentialsNeedLakebase) {
  AppConfig config;
  config.routing.service.password = Secret("pw");
  EXPECT_THROW((void)config.make_user_credentials(Secret("user-token")), ConfigError);
  EXPECT_THAT(
      [&] { (void)config.make_routing_config(); },
      ::testing::ThrowsMessage<ConfigError>(HasSubstr("user pools need a password source")));
}

// ---------------------------------------------------------------------------
// TLS: Lakebase connections verify the server unless the user chose otherwise

class LakebaseTlsEnv : public AppEnv {
 protected:
  // A Lakebase environment whose pool options need no workspace call: a
  // personal access token, and PGUSER naming the role.
  void set_lakebase_basics() {
    set("PGHOST", "instance.database.cloud.databricks.com");
    set("PGDATABASE", "databricks_postgres");
    set("PGUSER", "svc-role");
    set("LAKEBASE_ENDPOINT", kEndpoint);
    set("DATABRICKS_HOST", "adb-123.azuredatabricks.net");
    set("DATABRICKS_TOKEN", "dapi-tls-test-token");
  }

  static std::string system_bundle() {
    return pgobo::databricks::detail::SystemTrust::of_this_machine().bundle_file;
  }

  static int warnings(const pgobo::test::LogCapture& log) {
    int count = 0;
    for (const std::string& line : log.lines()) {
      if (line.find("[warning]") != std::string::npos) ++count;
    }
    return count;
  }
};

TEST_F(LakebaseTlsEnv, WithoutPgsslmodeConnectionsVerifyTheServerAgainstTheSystemBundle) {
  const pgobo::test::LogCapture log;
  set_lakebase_basics();
  const AppConfig config = read();
  EXPECT_EQ(config.routing.service.pool.connection.sslmode, std::nullopt)
      << "the config keeps what the user set; the default is applied to the pool options";
  const std::string bundle = system_bundle();
  ASSERT_FALSE(bundle.empty()) << "this machine has no CA bundle (install ca-certificates)";

  const pgobo::ConnectionParams connection = config.make_service_pool_options().connection;
  EXPECT_EQ(connection.sslmode, SslMode::verify_full);
  EXPECT_EQ(connection.sslrootcert, bundle);
  EXPECT_THAT(connection.to_conninfo(),
              AllOf(HasSubstr("sslmode='verify-full'"), HasSubstr("sslrootcert='" + bundle + "'")));
  EXPECT_EQ(warnings(log), 0);
}

TEST_F(LakebaseTlsEnv, UserPoolsCopyTheVerifiedConnection) {
  set_lakebase_basics();
  const pgobo::RoutingConfig ready = read().make_routing_config();
  EXPECT_EQ(ready.service.pool.connection.sslmode, SslMode::verify_full);
  EXPECT_EQ(ready.service.pool.connection.sslrootcert, system_bundle());

  auto router = pgobo::RoutingPool::create(ready);
  const auto alice = pgobo::make_user_context("u-1", "alice@example.com", Secret("alice-token"));
  const pgobo::ConnectionParams user = router->as_user(alice).pg_config();
  EXPECT_EQ(user.user, "alice@example.com");
  EXPECT_EQ(user.sslmode, SslMode::verify_full);
  EXPECT_EQ(user.sslrootcert, system_bundle());
  router->close();
}

TEST_F(LakebaseTlsEnv, ExplicitRootCertificateWins) {
  set_lakebase_basics();
  set("PGSSLROOTCERT", "/etc/app/lakebase-ca.pem");
  const pgobo::ConnectionParams connection = read().make_service_pool_options().connection;
  EXPECT_EQ(connection.sslmode, SslMode::verify_full);
  EXPECT_EQ(connection.sslrootcert, "/etc/app/lakebase-ca.pem");
}

TEST_F(LakebaseTlsEnv, ExplicitWeakModeWinsAndIsWarnedAboutOncePerRouter) {
  const pgobo::test::LogCapture log;
  set_lakebase_basics();
  set("PGSSLMODE", "require");
  const pgobo::RoutingConfig ready = read().make_routing_config();
  EXPECT_EQ(ready.service.pool.connection.sslmode, SslMode::require);
  EXPECT_EQ(ready.service.pool.connection.sslrootcert, "");
  EXPECT_THAT(ready.service.pool.connection.to_conninfo(), HasSubstr("sslmode='require'"));
  EXPECT_EQ(warnings(log), 1);
  EXPECT_THAT(log.text(), AllOf(HasSubstr("sslmode=require"), HasSubstr("PGSSLMODE"),
                                HasSubstr("not verified")));

  // User pools (which copy the connection) add no warning of their own.
  auto router = pgobo::RoutingPool::create(ready);
  for (const char* email : {"alice@example.com", "bob@example.com"}) {
    const auto user = pgobo::make_user_context(email, email, Secret("user-token"));
    EXPECT_EQ(router->as_user(user).pg_config().sslmode, SslMode::require);
  }
  router->close();
  EXPECT_EQ(warnings(log), 1);
}

TEST_F(LakebaseTlsEnv, ExplicitSettingsWinInJsonToo) {
  const nlohmann::json json{{"host", "instance.database.cloud.databricks.com"},
                            {"database", "databricks_postgres"},
                            {"user", "svc-role"},
                            {"sslmode", "verify-ca"},
                            {"sslrootcert", "/etc/app/ca.pem"},
                            {"lakebase_endpoint", kEndpoint},
                            {"workspace_url", "https://adb-123.azuredatabricks.net"},
                            {"workspace_token", "dapi-tls-test-token"}};
  const pgobo::ConnectionParams connection =
      AppConfig::from_json(json).make_service_pool_options().connection;
  EXPECT_EQ(connection.sslmode, SslMode::verify_ca);
  EXPECT_EQ(connection.sslrootcert, "/etc/app/ca.pem");
}

TEST_F(LakebaseTlsEnv, AStaticPasswordIsNotLakebaseAndKeepsTheCoreDefault) {
  const pgobo::test::LogCapture log;
  set_password_basics();
  const pgobo::ConnectionParams connection = read().make_service_pool_options().connection;
  EXPECT_EQ(connection.sslmode, std::nullopt);
  EXPECT_EQ(connection.sslrootcert, "");
  EXPECT_THAT(connection.to_conninfo(), HasSubstr("sslmode='require'"));
  EXPECT_EQ(warnings(log), 0);
}

}  // namespace
