// Lakebase database credentials and the workspace tokens that request them,
// against the fake workspace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

#include "fake_workspace.hpp"
#include "joining_thread.hpp"
#include "offset_clock.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::ConfigError;
using pgobo::CredentialError;
using pgobo::Secret;
using pgobo::databricks::LakebaseCredentials;
using pgobo::test::OffsetClock;
using Endpoint = pgobo::test::FakeWorkspace::Endpoint;
using Clock = std::chrono::system_clock;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class LakebaseTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  LakebaseCredentials::Options options_for(
      std::shared_ptr<pgobo::databricks::WorkspaceToken> token) const {
    LakebaseCredentials::Options options;
    options.workspace_url = workspace.url();
    options.endpoint = workspace.options().endpoint;
    options.workspace_token = std::move(token);
    return options;
  }

  std::shared_ptr<pgobo::databricks::WorkspaceToken> alice_token() {
    return std::make_shared<pgobo::databricks::PersonalAccessToken>(
        Secret(workspace.add_token_for("alice@example.com")));
  }

  pgobo::databricks::ServicePrincipalOAuth::Options sp_options() {
    pgobo::databricks::ServicePrincipalOAuth::Options options;
    options.workspace_url = workspace.url();
    options.client_id = workspace.options().client_id;
    options.client_secret = Secret(workspace.options().client_secret);
    options.cache.clock = clock.function();
    return options;
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

  OffsetClock clock;
};

// The two kinds of Lakebase database: one client behaviour over two APIs
// (lakebase_instance_test.cpp has what is the instances' own).
enum class Kind { endpoint, instance };

std::string kind_name(Kind kind) { return kind == Kind::endpoint ? "Endpoint" : "Instance"; }

// A test every kind must pass, run once for each.
class LakebaseKindTest : public LakebaseTest, public ::testing::WithParamInterface<Kind> {
 protected:
  LakebaseCredentials::Options kind_options(
      std::shared_ptr<pgobo::databricks::WorkspaceToken> token) const {
    LakebaseCredentials::Options options = options_for(std::move(token));
    if (GetParam() == Kind::instance) {
      options.endpoint.clear();
      options.instance_name = workspace.options().instance_names.at(0);
    }
    return options;
  }
  // Where the fake counts this kind's credential requests.
  [[nodiscard]] Endpoint api() const {
    return GetParam() == Kind::endpoint ? Endpoint::database_credential
                                        : Endpoint::database_instance_credential;
  }
  [[nodiscard]] std::string path() const {
    return GetParam() == Kind::endpoint ? "/api/2.0/postgres/credentials"
                                        : "/api/2.0/database/credentials";
  }
};

INSTANTIATE_TEST_SUITE_P(Kinds, LakebaseKindTest, ::testing::Values(Kind::endpoint, Kind::instance),
                         [](const auto& test_info) { return kind_name(test_info.param); });

TEST_P(LakebaseKindTest, ReturnsTheIssuedTokenAndItsExpiry) {
  workspace.set_expire_time_text("2030-01-02T04:04:05.678+01:00");
  LakebaseCredentials credentials(kind_options(alice_token()));

  const pgobo::Credential credential = credentials.get();
  EXPECT_EQ(credential.secret.reveal(), workspace.database_tokens().at(0));
  EXPECT_EQ(credential.expires_at, std::chrono::sys_days{2030y / 1 / 2} + 3h + 4min + 5s + 678ms);
}

TEST_F(LakebaseTest, PostsTheEndpointAsJsonWithTheWorkspaceTokenAsBearer) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  LakebaseCredentials credentials(
      options_for(std::make_shared<pgobo::databricks::PersonalAccessToken>(Secret(pat))));
  (void)credentials.get();

  EXPECT_EQ(nlohmann::json::parse(workspace.last_body(Endpoint::database_credential)),
            (nlohmann::json{{"endpoint", workspace.options().endpoint}}));
  EXPECT_EQ(workspace.last_authorization(Endpoint::database_credential), "Bearer " + pat);
}

TEST_P(LakebaseKindTest, CredentialIsIssuedForTheOwnerOfTheWorkspaceToken) {
  LakebaseCredentials credentials(kind_options(alice_token()));
  (void)credentials.get();

  EXPECT_THAT(workspace.database_credential_users(), ElementsAre("alice@example.com"));
}

TEST_P(LakebaseKindTest, RejectedWorkspaceTokenIsACredentialErrorWithStatusAndApiText) {
  const std::string pat = workspace.add_token_for("alice@example.com");
  workspace.revoke(pat);
  LakebaseCredentials credentials(
      kind_options(std::make_shared<pgobo::databricks::PersonalAccessToken>(Secret(pat))));

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("Lakebase database credential request (POST http://127.0.0.1:"),
                    HasSubstr(path() + ") failed: HTTP 401"),
                    HasSubstr("UNAUTHENTICATED: Invalid access token.")));
}

TEST_P(LakebaseKindTest, ServerErrorIsACredentialErrorWithStatusAndApiText) {
  workspace.fail_next(
      api(), {500, R"({"error_code":"INTERNAL_ERROR","message":"database is waking up"})"});
  LakebaseCredentials credentials(kind_options(alice_token()));

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("HTTP 500"), HasSubstr("INTERNAL_ERROR: database is waking up")));
}

TEST_F(LakebaseTest, UnknownEndpointIsA404CredentialError) {
  auto options = options_for(alice_token());
  options.endpoint = "projects/app/branches/main/endpoints/nope";
  LakebaseCredentials credentials(options);

  EXPECT_THAT(error_of([&] { (void)credentials.get(); }),
              AllOf(HasSubstr("HTTP 404"), HasSubstr("NOT_FOUND")));
}

TEST_P(LakebaseKindTest, SlowAnswerIsATimeoutCredentialError) {
  workspace.hold(api());
  auto options = kind_options(alice_token());
  options.http.timeout = 200ms;
  LakebaseCredentials credentials(options);

  const std::string message = error_of([&] { (void)credentials.get(); });
  workspace.release(api());
  EXPECT_THAT(message, HasSubstr("timed out"));
}

// An answer of each wrong shape, for each kind. EXPIRY in a body and in the
// expected text stands for the kind's expiry field: expire_time (endpoints)
// or expiration_time (instances).
struct MalformedAnswer {
  std::string name;
  std::string body;
  std::string expected;  // in the message
};

std::string with_expiry(std::string text, Kind kind) {
  const std::string key = kind == Kind::endpoint ? "expire_time" : "expiration_time";
  for (auto at = text.find("EXPIRY"); at != std::string::npos; at = text.find("EXPIRY", at)) {
    text.replace(at, 6, key);
  }
  return text;
}

class LakebaseMalformedAnswer
    : public LakebaseTest,
      public ::testing::WithParamInterface<std::tuple<Kind, MalformedAnswer>> {};

TEST_P(LakebaseMalformedAnswer, IsACredentialErrorSayingWhatIsWrong) {
  const auto& [kind, answer] = GetParam();
  const std::string body = with_expiry(answer.body, kind);
  auto options = options_for(alice_token());
  if (kind == Kind::instance) {
    options.endpoint.clear();
    options.instance_name = workspace.options().instance_names.at(0);
  }
  workspace.fail_next(kind == Kind::endpoint ? Endpoint::database_credential
                                             : Endpoint::database_instance_credential,
                      {200, body});
  LakebaseCredentials credentials(std::move(options));
  try {
    (void)credentials.get();
    FAIL() << "accepted " << body;
  } catch (const CredentialError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("Lakebase database credential request"),
                                HasSubstr(with_expiry(answer.expected, kind))));
    expect_no_secret_in(e.what());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LakebaseMalformedAnswer,
    ::testing::Combine(
        ::testing::Values(Kind::endpoint, Kind::instance),
        ::testing::Values(
            MalformedAnswer{"NotJson", "{\"token\": ", "not a JSON object"},
            MalformedAnswer{"JsonArray", R"(["token"])", "not a JSON object"},
            MalformedAnswer{"NoToken", R"({"EXPIRY":"2030-01-01T00:00:00Z"})", "no token"},
            MalformedAnswer{"TokenNotAString", R"({"token":42,"EXPIRY":"2030-01-01T00:00:00Z"})",
                            "no token"},
            MalformedAnswer{"EmptyToken", R"({"token":"","EXPIRY":"2030-01-01T00:00:00Z"})",
                            "no token"},
            MalformedAnswer{"TokenWithALineBreak",
                            R"({"token":"db\r\ntoken","EXPIRY":"2030-01-01T00:00:00Z"})", "token"},
            MalformedAnswer{"NoExpiry", R"({"token":"db-token-1"})", "no EXPIRY"},
            MalformedAnswer{"ExpiryNotAString", R"({"token":"db-token-1","EXPIRY":1893456000})",
                            "no EXPIRY"},
            MalformedAnswer{"ExpiryGarbage", R"({"token":"db-token-1","EXPIRY":"tomorrow"})",
                            "EXPIRY is not an RFC 3339 time"},
            MalformedAnswer{"ExpiryWithoutZone",
                            R"({"token":"db-token-1","EXPIRY":"2030-01-01T00:00:00"})",
                            "EXPIRY is not an RFC 3339 time"})),
    [](const auto& test_info) {
      return kind_name(std::get<0>(test_info.param)) + std::get<1>(test_info.param).name;
    });

TEST_F(LakebaseTest, ConstructorRefusesAMalformedEndpoint) {
  auto options = options_for(alice_token());
  options.endpoint = "projects/app/endpoints/primary";
  EXPECT_THROW(LakebaseCredentials{options}, ConfigError);
}

TEST_F(LakebaseTest, ConstructorRefusesANullWorkspaceToken) {
  EXPECT_THROW(LakebaseCredentials{options_for(nullptr)}, ConfigError);
}

TEST_F(LakebaseTest, ConstructorRefusesPlainHttpToARemoteHost) {
  auto options = options_for(alice_token());
  options.workspace_url = "http://adb-123.azuredatabricks.net";
  EXPECT_THROW(LakebaseCredentials{options}, ConfigError);
}

TEST(LakebaseEndpoint, AcceptsTheThreePartResourceName) {
  EXPECT_NO_THROW(
      pgobo::databricks::validate_lakebase_endpoint("projects/p/branches/b/endpoints/e", "x"));
}

TEST(LakebaseEndpoint, RefusesOtherShapesNamingTheSetting) {
  for (const char* bad :
       {"", "projects/p", "projects/p/branches/b/endpoints/", "projects//branches/b/endpoints/e",
        "projects/p/branches/b/endpoints/e/extra", "databases/p/branches/b/endpoints/e",
        "projects/p q/branches/b/endpoints/e"}) {
    EXPECT_THAT([&] { pgobo::databricks::validate_lakebase_endpoint(bad, "LAKEBASE_ENDPOINT"); },
                ::testing::ThrowsMessage<ConfigError>(HasSubstr("LAKEBASE_ENDPOINT")))
        << bad;
  }
}

TEST_P(LakebaseKindTest, CachedCredentialsMakeOneRequestUntilTheRefreshWindow) {
  pgobo::CachedCredentials::Options cache;
  cache.clock = clock.function();
  auto credentials =
      pgobo::databricks::make_lakebase_credentials(kind_options(alice_token()), cache);
  const Secret first = credentials->get().secret;
  EXPECT_EQ(credentials->get().secret, first);
  EXPECT_EQ(workspace.calls(api()), 1);

  clock.advance(58min + 1s);  // under 2 minutes left of the hour
  EXPECT_NE(credentials->get().secret, first);
  EXPECT_EQ(workspace.calls(api()), 2);
}

TEST_P(LakebaseKindTest, SixteenConcurrentConnectionsShareOneCredentialRequest) {
  constexpr int kThreads = 16;
  std::latch waiters_joined(kThreads - 1);
  pgobo::CachedCredentials::Options cache;
  cache.on_wait_for_fetch = [&] { waiters_joined.count_down(); };
  auto credentials =
      pgobo::databricks::make_lakebase_credentials(kind_options(alice_token()), cache);
  workspace.hold(api());

  std::vector<Secret> results(kThreads);
  {
    std::vector<pgobo::test::JoiningThread> threads;
    for (std::size_t i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] { results[i] = credentials->get().secret; });
    }
    ASSERT_TRUE(workspace.wait_until_held(api(), 1));
    waiters_joined.wait();
    workspace.release(api());
  }

  EXPECT_EQ(workspace.calls(api()), 1);
  for (const auto& result : results) EXPECT_EQ(result.reveal(), workspace.database_tokens().at(0));
}

TEST_F(LakebaseTest, ServicePrincipalOAuthUsesClientCredentialsWithBasicAuth) {
  pgobo::databricks::ServicePrincipalOAuth sp(sp_options());

  EXPECT_THAT(sp.token().reveal(), StartsWith("sp-oauth-fake-"));
  EXPECT_THAT(workspace.last_authorization(Endpoint::oauth_token), StartsWith("Basic "));
  EXPECT_EQ(workspace.last_body(Endpoint::oauth_token),
            "grant_type=client_credentials&scope=all-apis");
}

TEST_F(LakebaseTest, ServicePrincipalOAuthCachesItsTokenUntilTheRefreshWindow) {
  pgobo::databricks::ServicePrincipalOAuth sp(sp_options());
  const Secret first = sp.token();
  EXPECT_EQ(sp.token(), first);
  EXPECT_EQ(workspace.calls(Endpoint::oauth_token), 1);

  clock.advance(58min + 1s);  // the fake's tokens last 3600 s
  EXPECT_NE(sp.token(), first);
  EXPECT_EQ(sp.fetch_count(), 2u);
}

TEST_F(LakebaseTest, ServicePrincipalWithTheWrongSecretGetsTheOAuthError) {
  auto options = sp_options();
  options.client_secret = Secret("wrong-secret-" + pgobo::test::FakeWorkspace::random_suffix());
  const std::string wrong = options.client_secret.reveal();
  pgobo::databricks::ServicePrincipalOAuth sp(options);

  const std::string message = error_of([&] { (void)sp.token(); });
  EXPECT_THAT(message, AllOf(HasSubstr("service principal OAuth token request"),
                             HasSubstr("HTTP 401"), HasSubstr("invalid_client")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr(wrong)));
  EXPECT_THAT(log.text(), ::testing::Not(HasSubstr(wrong)));
}

TEST_F(LakebaseTest, OAuthAnswerWithoutExpiresInIsACredentialError) {
  workspace.fail_next(Endpoint::oauth_token, {200, R"({"access_token":"sp-oauth-x"})"});
  pgobo::databricks::ServicePrincipalOAuth sp(sp_options());

  EXPECT_THAT(error_of([&] { (void)sp.token(); }), HasSubstr("no expires_in"));
}

TEST_F(LakebaseTest, ServicePrincipalOAuthRefusesMissingClientIdOrSecret) {
  auto no_id = sp_options();
  no_id.client_id.clear();
  EXPECT_THROW(pgobo::databricks::ServicePrincipalOAuth{no_id}, ConfigError);
  auto no_secret = sp_options();
  no_secret.client_secret = Secret();
  EXPECT_THROW(pgobo::databricks::ServicePrincipalOAuth{no_secret}, ConfigError);
}

TEST_P(LakebaseKindTest, ServicePrincipalCredentialIsIssuedForTheServicePrincipal) {
  LakebaseCredentials credentials(
      kind_options(std::make_shared<pgobo::databricks::ServicePrincipalOAuth>(sp_options())));
  (void)credentials.get();

  EXPECT_THAT(workspace.database_credential_users(),
              ElementsAre(workspace.options().service_principal_user));
}

TEST_P(LakebaseKindTest, ForwardedUserTokenGetsACredentialForThatUser) {
  const std::string bob = workspace.add_token_for("bob@example.com");
  LakebaseCredentials credentials(
      kind_options(std::make_shared<pgobo::databricks::ForwardedUserToken>(Secret(bob))));
  (void)credentials.get();

  EXPECT_THAT(workspace.database_credential_users(), ElementsAre("bob@example.com"));
}

TEST_F(LakebaseTest, ForwardedUserTokenSourceIsReadAtEachCall) {
  std::vector<std::string> tokens{workspace.add_token_for("alice@example.com"),
                                  workspace.add_token_for("bob@example.com")};
  std::size_t next = 0;
  LakebaseCredentials credentials(
      options_for(std::make_shared<pgobo::databricks::ForwardedUserToken>(
          [&] { return Secret(tokens.at(next++)); })));
  (void)credentials.get();
  (void)credentials.get();

  EXPECT_THAT(workspace.database_credential_users(),
              ElementsAre("alice@example.com", "bob@example.com"));
}

TEST(ForwardedUserToken, EmptyTokenIsRefused) {
  EXPECT_THROW(pgobo::databricks::ForwardedUserToken{Secret()}, ConfigError);
  pgobo::databricks::ForwardedUserToken from_source([] { return Secret(); });
  EXPECT_THROW((void)from_source.token(), CredentialError);
}

TEST(PersonalAccessToken, EmptyTokenIsRefused) {
  EXPECT_THROW(pgobo::databricks::PersonalAccessToken{Secret()}, ConfigError);
}

TEST_F(LakebaseTest, CurrentUserNameComesFromScimMe) {
  pgobo::databricks::ServicePrincipalOAuth sp(sp_options());
  EXPECT_EQ(pgobo::databricks::fetch_current_user_name(workspace.url(), sp, {}),
            workspace.options().service_principal_user);
}

TEST_F(LakebaseTest, ScimAnswerWithoutUserNameIsACredentialError) {
  workspace.fail_next(Endpoint::current_user, {200, R"({"id":"1234"})"});
  auto token = alice_token();

  EXPECT_THAT(error_of([&] {
                (void)pgobo::databricks::fetch_current_user_name(workspace.url(), *token, {});
              }),
              AllOf(HasSubstr("current user lookup"), HasSubstr("no userName")));
}

TEST_P(LakebaseKindTest, WholeFlowAtTraceLevelLogsNoTokenOrClientSecret) {
  pgobo::CachedCredentials::Options cache;
  cache.clock = clock.function();
  auto credentials = pgobo::databricks::make_lakebase_credentials(
      kind_options(std::make_shared<pgobo::databricks::ServicePrincipalOAuth>(sp_options())),
      cache);
  (void)credentials->get();
  workspace.fail_next(api(), {500, R"({"error_code":"X","message":"y"})"});
  clock.advance(61min);  // expired: the failed refresh is thrown
  (void)error_of([&] { (void)credentials->get(); });

  const std::string text = log.text();
  EXPECT_THAT(text, HasSubstr("valid until"));  // the capture saw the fetch…
  EXPECT_THAT(text, HasSubstr("HTTP 500"));     // …and the failure
  EXPECT_THAT(pgobo::test::leaked_secrets(text, workspace.secrets()), ::testing::IsEmpty());
}

}  // namespace
