// Lakebase Provisioned database instances: what is their own in
// LakebaseCredentials with an instance name (POST /api/2.0/database/credentials:
// the request, request_id, a 404, scrubbing), and AppConfig's
// LAKEBASE_INSTANCE_NAME / lakebase_instance_name, against the fake workspace.
// What both kinds share (answers, malformed answers, HTTP errors, caching,
// single flight) runs for both in lakebase_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app_env.hpp"
#include "encodings.hpp"
#include "fake_workspace.hpp"
#include "joining_thread.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"

namespace {

using pgobo::ConfigError;
using pgobo::CredentialError;
using pgobo::Secret;
using pgobo::databricks::AppConfig;
using pgobo::databricks::LakebaseCredentials;
using pgobo::databricks::validate_lakebase_instance_name;
using Endpoint = pgobo::test::FakeWorkspace::Endpoint;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// A version 4 UUID as text: lowercase hex, version nibble 4, variant 10xx.
constexpr const char* kUuidV4 =
    "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

class LakebaseInstanceTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  [[nodiscard]] std::string instance() const { return workspace.options().instance_names.at(0); }

  LakebaseCredentials::Options options_for(
      std::shared_ptr<pgobo::databricks::WorkspaceToken> token) const {
    LakebaseCredentials::Options options;
    options.workspace_url = workspace.url();
    options.instance_name = instance();
    options.workspace_token = std::move(token);
    return options;
  }

  std::shared_ptr<pgobo::databricks::WorkspaceToken> token_of(const std::string& pat) {
    return std::make_shared<pgobo::databricks::PersonalAccessToken>(Secret(pat));
  }
  std::shared_ptr<pgobo::databricks::WorkspaceToken> alice_token() {
    return token_of(workspace.add_token_for("alice@example.com"));
  }

  // The request body of the last credential request, parsed.
  [[nodiscard]] nlohmann::json last_request() const {
    return nlohmann::json::parse(workspace.last_body(Endpoint::database_instance_credential));
  }

  // The CredentialError `fn` throws ("" and a failure if none), checked for secrets.
  std::string error_of(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const CredentialError& e) {
      expect_no_secret_in(e.what());
      return e.what();
    }
    ADD_FAILURE() << "no CredentialError";
    return "";
  }
};

// --- the request and its answer ---------------------------------------------

TEST_F(LakebaseInstanceTest, PostsTheInstanceNameAndARequestIdWithTheWorkspaceTokenAsBearer) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  LakebaseCredentials credentials(options_for(token_of(pat)));
  (void)credentials.get();

  const nlohmann::json body = last_request();
  EXPECT_EQ(body.size(), 2U) << body.dump() << ": instance_names and request_id, no claims";
  EXPECT_EQ(body.at("instance_names"), nlohmann::json::array({instance()}));
  EXPECT_THAT(body.at("request_id").get<std::string>(), MatchesRegex(kUuidV4));
  EXPECT_EQ(workspace.last_authorization(Endpoint::database_instance_credential), "Bearer " + pat);
  EXPECT_EQ(workspace.calls(Endpoint::database_instance_credential), 1);
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 0) << "not the endpoints' API";
}

TEST_F(LakebaseInstanceTest, EveryRequestHasItsOwnRequestIdAndSoANewToken) {
  LakebaseCredentials credentials(options_for(alice_token()));
  std::set<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.insert(credentials.get().secret.reveal());

  const std::vector<std::string> ids = workspace.instance_request_ids();
  ASSERT_EQ(ids.size(), 5U);
  for (const auto& id : ids) EXPECT_THAT(id, MatchesRegex(kUuidV4));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 5U);
  // The fake answers a repeated id with its first answer (the next test):
  // five tokens mean five ids it had not seen.
  EXPECT_EQ(tokens.size(), 5U);
}

TEST_F(LakebaseInstanceTest, RequestIdsDrawnOnManyThreadsAtOnceAllDiffer) {
  constexpr int kThreads = 16;
  const auto token = alice_token();
  std::latch start(kThreads);
  {
    std::vector<pgobo::test::JoiningThread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        LakebaseCredentials credentials(options_for(token));  // uncached: one request each
        start.arrive_and_wait();
        (void)credentials.get();
      });
    }
  }
  const std::vector<std::string> ids = workspace.instance_request_ids();
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kThreads));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

// What makes a fresh request_id matter: the API treats it as an idempotency
// key, and so does the fake.
TEST_F(LakebaseInstanceTest, FakeAnswersARepeatedRequestIdWithItsFirstAnswer) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  httplib::Client client("127.0.0.1", workspace.port());
  const httplib::Headers auth{{"Authorization", "Bearer " + pat}};
  const std::string body = nlohmann::json{{"instance_names", {instance()}},
                                          {"request_id", "3f0c1b9e-8a5d-4c2e-9b7a-1d2e3f4a5b6c"}}
                               .dump();
  const auto first = client.Post("/api/2.0/database/credentials", auth, body, "application/json");
  const auto again = client.Post("/api/2.0/database/credentials", auth, body, "application/json");
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(workspace.database_tokens().size(), 1U);
}

// --- HTTP errors --------------------------------------------------------------

TEST_F(LakebaseInstanceTest, UnknownInstanceIsA404CredentialErrorNamingIt) {
  auto options = options_for(alice_token());
  options.instance_name = "no-such-instance";
  LakebaseCredentials credentials(options);

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("HTTP 404"),
                    HasSubstr("NOT_FOUND: Database instance 'no-such-instance' does not exist.")));
}

// An error text that echoes the bearer token back, in the encodings a server
// might use: every one is scrubbed from the message (and, by the fixture,
// from the log).
TEST_F(LakebaseInstanceTest, AnErrorEchoingTheWorkspaceTokenHasItScrubbed) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  LakebaseCredentials credentials(options_for(token_of(pat)));
  for (const auto& [encoding, echoed] : pgobo::test::encodings_of(pat, pat)) {
    SCOPED_TRACE(encoding);
    workspace.fail_next(
        Endpoint::database_instance_credential,
        {400, nlohmann::json{{"error_code", "BAD_REQUEST"}, {"message", "echo " + echoed + " end"}}
                  .dump()});
    const std::string message = error_of([&] { (void)credentials.get(); });  // no secret in it
    EXPECT_THAT(message, AllOf(HasSubstr("HTTP 400: BAD_REQUEST: echo "), HasSubstr("***"),
                               Not(HasSubstr(echoed))));
  }
}

TEST_F(LakebaseInstanceTest, AnExpirationTimeEchoingTheWorkspaceTokenHasItScrubbed) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  workspace.fail_next(
      Endpoint::database_instance_credential,
      {200, nlohmann::json{{"token", "db-token-1"}, {"expiration_time", pat}}.dump()});
  LakebaseCredentials credentials(options_for(token_of(pat)));

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("expiration_time is not an RFC 3339 time"), HasSubstr("***")));
}

// The endpoints' name for the expiry is not this API's (lakebase_test.cpp
// runs every other malformed answer for both kinds).
TEST_F(LakebaseInstanceTest, TheEndpointsExpireTimeIsNoExpirationTime) {
  workspace.fail_next(Endpoint::database_instance_credential,
                      {200, R"({"token":"db-token-1","expire_time":"2030-01-01T00:00:00Z"})"});
  LakebaseCredentials credentials(options_for(alice_token()));

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("/api/2.0/database/credentials) returned no expiration_time"),
                    HasSubstr("expected an RFC 3339 time string")));
}

// --- construction and names -----------------------------------------------------

TEST_F(LakebaseInstanceTest, ConstructorRefusesBothAnEndpointAndAnInstanceName) {
  auto options = options_for(alice_token());
  options.endpoint = workspace.options().endpoint;
  EXPECT_THAT([&] { LakebaseCredentials{options}; },
              ::testing::ThrowsMessage<ConfigError>(
                  AllOf(HasSubstr("both endpoint and instance_name"), HasSubstr("exactly one"))));
}

TEST_F(LakebaseInstanceTest, ConstructorRefusesNeitherAnEndpointNorAnInstanceName) {
  auto options = options_for(alice_token());
  options.instance_name.clear();
  EXPECT_THAT([&] { LakebaseCredentials{options}; },
              ::testing::ThrowsMessage<ConfigError>(
                  HasSubstr("neither endpoint nor instance_name is set")));
}

TEST_F(LakebaseInstanceTest, ConstructorRefusesAMalformedInstanceName) {
  auto options = options_for(alice_token());
  options.instance_name = "app/instance";
  EXPECT_THAT([&] { LakebaseCredentials{options}; },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("Lakebase instance name")));
  EXPECT_EQ(workspace.calls(Endpoint::database_instance_credential), 0);
}

TEST(LakebaseInstanceName, AcceptsLettersDigitsAndHyphensUpTo63) {
  for (const std::string& good : std::vector<std::string>{
           std::string("a"), std::string("app-instance"), std::string("Notes-DB-2"),
           std::string("0-instance"), std::string(63, 'x')}) {
    EXPECT_NO_THROW(validate_lakebase_instance_name(good, "LAKEBASE_INSTANCE_NAME")) << good;
  }
}

TEST(LakebaseInstanceName, RefusesOtherNamesNamingTheSetting) {
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), std::string(64, 'x'), std::string("my instance"), std::string(" app"),
           std::string("app\n"), std::string("app\tx"), std::string("a/b"), std::string("../x"),
           std::string("a_b"), std::string("a.b"), std::string("caf\xc3\xa9"),
           std::string("a\0b", 3), std::string("projects/p/branches/b/endpoints/e")}) {
    EXPECT_THAT([&] { validate_lakebase_instance_name(bad, "LAKEBASE_INSTANCE_NAME"); },
                ::testing::ThrowsMessage<ConfigError>(AllOf(
                    HasSubstr("LAKEBASE_INSTANCE_NAME"), HasSubstr("letters, digits and hyphens"))))
        << bad;
  }
}

TEST(LakebaseInstanceName, AMessageShowsTheNameOnOneLine) {
  EXPECT_THAT([] { validate_lakebase_instance_name("bad\r\nname", "x"); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("got 'bad??name'")));
}

// --- AppConfig -------------------------------------------------------------------

constexpr const char* kEndpoint = "projects/app/branches/main/endpoints/primary";

// AppConfig::from_env over an environment of the test's own.
class InstanceEnv : public pgobo::test::AppEnvTest {
 protected:
  InstanceEnv() {
    set("PGHOST", "instance-1.database.cloud.databricks.com");
    set("PGDATABASE", "databricks_postgres");
    set("LAKEBASE_INSTANCE_NAME", "notes-db");
    set("DATABRICKS_HOST", "adb-123.azuredatabricks.net");
    set("DATABRICKS_CLIENT_ID", "6f2c-client");
    set("DATABRICKS_CLIENT_SECRET", "client-secret-value");
  }

  // The fixture's error(), which never shows the client secret.
  [[nodiscard]] std::string error() const {
    std::string message = AppEnvTest::error();
    EXPECT_THAT(message, Not(HasSubstr("client-secret-value")));
    return message;
  }
};

TEST_F(InstanceEnv, ReadsTheInstanceName) {
  const AppConfig c = read();
  EXPECT_TRUE(c.uses_lakebase());
  EXPECT_EQ(c.lakebase.instance_name, "notes-db");
  EXPECT_EQ(c.lakebase.endpoint, "");
}

TEST_F(InstanceEnv, BothAnEndpointAndAnInstanceNameNameBoth) {
  set("LAKEBASE_ENDPOINT", kEndpoint);
  EXPECT_THAT(error(), AllOf(HasSubstr("both LAKEBASE_ENDPOINT and LAKEBASE_INSTANCE_NAME are set"),
                             HasSubstr("exactly one")));
}

TEST_F(InstanceEnv, BothAreRefusedEvenWithAStaticPassword) {
  set("LAKEBASE_ENDPOINT", kEndpoint);
  set("PGPASSWORD", "env-password-value");
  EXPECT_THAT(error(), HasSubstr("both LAKEBASE_ENDPOINT and LAKEBASE_INSTANCE_NAME"));
}

TEST_F(InstanceEnv, NeitherNamesEveryChoice) {
  unset("LAKEBASE_INSTANCE_NAME");
  EXPECT_THAT(error(), AllOf(HasSubstr("no database credential"), HasSubstr("PGPASSWORD"),
                             HasSubstr("LAKEBASE_ENDPOINT"), HasSubstr("LAKEBASE_INSTANCE_NAME")));
}

TEST_F(InstanceEnv, AnEmptyInstanceNameCountsAsUnset) {
  set("LAKEBASE_INSTANCE_NAME", "");
  EXPECT_THAT(error(), HasSubstr("no database credential"));
}

TEST_F(InstanceEnv, MalformedInstanceNamesNameTheVariable) {
  for (const std::string& bad :
       std::vector<std::string>{std::string("notes db"), std::string("notes/db"),
                                std::string("notes_db"), std::string(64, 'n')}) {
    set("LAKEBASE_INSTANCE_NAME", bad);
    EXPECT_THAT(error(), AllOf(HasSubstr("LAKEBASE_INSTANCE_NAME"),
                               HasSubstr("letters, digits and hyphens")))
        << bad;
  }
}

TEST_F(InstanceEnv, NeedsTheWorkspace) {
  unset("DATABRICKS_HOST");
  EXPECT_THAT(error(), HasSubstr("DATABRICKS_HOST is not set"));
}

// As with an endpoint (issue 16, item 6): in the environment the Lakebase
// database wins over PGPASSWORD, as in AppKit; in code the password wins.
TEST_F(InstanceEnv, TheInstanceWinsOverPgpasswordInTheEnvironment) {
  pgobo::test::LogCapture log;
  set("PGPASSWORD", "env-password-value");
  AppConfig c = read();
  EXPECT_TRUE(c.uses_lakebase());
  EXPECT_FALSE(c.routing.service.password.has_value());
  EXPECT_THAT(log.text(), AllOf(HasSubstr("Lakebase OAuth (LAKEBASE_INSTANCE_NAME)"),
                                Not(HasSubstr("env-password-value"))));
  c.routing.service.password = pgobo::Secret("code-password-value");
  EXPECT_FALSE(c.uses_lakebase());
  EXPECT_EQ(c.make_service_pool_options().credentials->get().secret.reveal(),
            "code-password-value");
}

std::string json_error(const nlohmann::json& json) {
  try {
    (void)AppConfig::from_json(json);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "from_json accepted " << json.dump();
  return "";
}

nlohmann::json instance_json() {
  return {{"host", "db"},
          {"database", "app"},
          {"lakebase_instance_name", "notes-db"},
          {"workspace_url", "https://example.cloud.databricks.com"},
          {"workspace_token", "json-dapi-token"}};
}

TEST(InstanceJson, ReadsTheInstanceName) {
  const AppConfig c = AppConfig::from_json(instance_json());
  EXPECT_TRUE(c.uses_lakebase());
  EXPECT_EQ(c.lakebase.instance_name, "notes-db");
}

TEST(InstanceJson, BothKeysAreRefusedNamingBoth) {
  nlohmann::json json = instance_json();
  json["lakebase_endpoint"] = kEndpoint;
  EXPECT_THAT(json_error(json), HasSubstr("both JSON key 'lakebase_endpoint' and JSON key "
                                          "'lakebase_instance_name' are set"));
}

TEST(InstanceJson, MalformedOrEmptyNamesNameTheKey) {
  for (const auto& bad : {nlohmann::json(""), nlohmann::json("a b"), nlohmann::json(7)}) {
    nlohmann::json json = instance_json();
    json["lakebase_instance_name"] = bad;
    EXPECT_THAT(json_error(json), HasSubstr("JSON key 'lakebase_instance_name'")) << bad.dump();
  }
}

TEST(InstanceCode, ValidateRefusesBothKinds) {
  AppConfig config;
  config.routing.service.password = Secret("pw");
  config.lakebase.endpoint = kEndpoint;
  config.lakebase.instance_name = "notes-db";
  EXPECT_THAT([&] { config.validate(); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("exactly one")));
}

// What AppConfig builds for an instance: the service principal's and every
// user's credentials come from the instance API.
class InstanceAppConfigTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  [[nodiscard]] AppConfig sp_config() const {
    return AppConfig::from_json(
        {{"host", "127.0.0.1"},
         {"database", "app"},
         {"lakebase_instance_name", workspace.options().instance_names.at(0)},
         {"workspace_url", workspace.url()},
         {"client_id", workspace.options().client_id},
         {"client_secret", workspace.options().client_secret}});
  }
};

TEST_F(InstanceAppConfigTest, TheServicePrincipalsPoolLogsInWithAnInstanceCredential) {
  const pgobo::PoolOptions options = sp_config().make_service_pool_options();

  const pgobo::Credential credential = options.credentials->get();
  EXPECT_EQ(credential.secret.reveal(), workspace.database_tokens().at(0));
  EXPECT_EQ(options.connection.user, workspace.options().client_id);
  EXPECT_THAT(workspace.database_credential_users(),
              ElementsAre(workspace.options().service_principal_user));
  EXPECT_EQ(workspace.calls(Endpoint::database_instance_credential), 1);
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 0);
}

TEST_F(InstanceAppConfigTest, EveryUserPoolBuysAnInstanceCredentialWithTheUsersToken) {
  const pgobo::RoutingConfig ready = sp_config().make_routing_config();
  ASSERT_TRUE(ready.user_credentials);
  const std::string alice_token = workspace.add_token_for("alice@example.com");
  const std::string bob_token = workspace.add_token_for("bob@example.com");

  (void)ready.user_credentials(pgobo::make_user_context("u-1", "alice@example.com", alice_token))
      ->get();
  EXPECT_EQ(workspace.last_authorization(Endpoint::database_instance_credential),
            "Bearer " + alice_token);
  (void)ready.user_credentials(pgobo::make_user_context("u-2", "bob@example.com", bob_token))
      ->get();
  EXPECT_EQ(workspace.last_authorization(Endpoint::database_instance_credential),
            "Bearer " + bob_token);

  EXPECT_THAT(workspace.database_credential_users(),
              ElementsAre("alice@example.com", "bob@example.com"));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 0);
}

TEST_F(InstanceAppConfigTest, MakeUserCredentialsUsesTheInstance) {
  const auto credentials =
      sp_config().make_user_credentials(Secret(workspace.add_token_for("carol@example.com")));
  (void)credentials->get();

  EXPECT_THAT(workspace.database_credential_users(), ElementsAre("carol@example.com"));
  EXPECT_EQ(nlohmann::json::parse(workspace.last_body(Endpoint::database_instance_credential))
                .at("instance_names"),
            nlohmann::json::array({workspace.options().instance_names.at(0)}));
}

}  // namespace
