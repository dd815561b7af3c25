// Secrets never leak (issue #9, Security): every error path reachable while a
// password, a user's token, the service principal's client secret or a
// Lakebase database token is in play — a wrong password for a user pool or the
// service pool (also one full of conninfo quoting characters), a wrong token
// used as a password, a refused RLS-bypassing role, the credential service
// failing in every way the fake workspace can (unknown token, HTTP errors
// whose body echoes the caller's token or client secret, garbage, wrong client
// secret), and bad configuration around secrets — is provoked, and the
// exception's what(), the stats (JSON and Prometheus, RoutingPool::stats and
// the per-pool stats), pg_config() and the log are searched for every known
// secret. The secret guard (secret_guard.hpp) searches this process's whole
// trace log once more at exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "encodings.hpp"
#include "fake_workspace.hpp"
#include "pg_fixture.hpp"
#include "pgobo/config.hpp"
#include "pgobo/context.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/stats_exposition.hpp"
#include "recording_observer.hpp"
#include "secret_guard.hpp"
#include "test_routing.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A distinctive secret, registered with the guard.
std::string new_secret(const std::string& what) {
  std::string secret = what + "-" + FakeWorkspace::random_suffix();
  register_secret(secret);
  return secret;
}

class SecuritySecrets : public PgTest {
 protected:
  // Every pool of the router reports to `heard`, whose transcript must stay
  // clean too.
  [[nodiscard]] RoutingConfig static_config() const {
    RoutingConfig c = routing_config(server());
    c.observer = heard;
    return c;
  }

  // Fails if `text` holds a known secret: registered ones, FakeWorkspace's
  // tokens, and `extra` (a workspace's exact list).
  static void expect_clean(const std::string& text, const std::string& where,
                           const std::vector<std::string>& extra = {}) {
    EXPECT_THAT(known_secrets_in(text), IsEmpty()) << where << ": " << text;
    EXPECT_THAT(leaked_secrets(text, extra), IsEmpty()) << where << ": " << text;
  }

  // Everything a RoutingPool shows about itself, for both identities.
  void expect_outputs_clean(RoutingPool& db, const UserPtr& someone,
                            const std::vector<std::string>& extra = {}) {
    const RoutingStats stats = db.stats();
    expect_clean(stats_to_json(stats).dump(), "stats_to_json", extra);
    expect_clean(nlohmann::json(stats).dump(), "to_json(RoutingStats)", extra);
    expect_clean(stats_to_prometheus(stats), "stats_to_prometheus", extra);
    expect_clean(stats_to_prometheus(stats.users), "stats_to_prometheus(users)", extra);
    expect_clean(stats_to_prometheus(stats.service), "stats_to_prometheus(service)", extra);
    for (const PoolStats& pool : db.manager().pool_stats()) {
      expect_clean(stats_to_json(pool).dump(), "pool_stats", extra);
      expect_clean(stats_to_prometheus(pool, "users"), "pool_stats prometheus", extra);
    }
    const ConnectionParams service = db.pg_config();
    const ConnectionParams user = db.as_user(someone).pg_config();
    for (const ConnectionParams* params : {&service, &user}) {
      expect_clean(params->to_conninfo(), "pg_config", extra);
      EXPECT_THAT(params->to_conninfo(), ::testing::Not(HasSubstr("password")));
    }
    expect_clean(guarded_log_text(), "the trace log", extra);
    EXPECT_FALSE(heard->events().empty());
    expect_clean(heard->transcript(), "the observer's hooks", extra);
  }

  // Runs f, which must throw E; returns what().
  template <class E, class F>
  static std::string what_of(F f) {
    try {
      f();
    } catch (const E& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception: " << e.what();
      return e.what();
    }
    ADD_FAILURE() << "nothing was thrown";
    return {};
  }

  std::shared_ptr<RecordingObserver> heard = std::make_shared<RecordingObserver>();
};

// --- wrong passwords and tokens --------------------------------------------------

TEST_F(SecuritySecrets, WrongPasswordOfAUserPoolIsNamedNotShown) {
  const std::string wrong = new_secret("wrong-user-password");
  const UserPtr alice = shared_user(kAlice, new_secret("alice-token"));
  RoutingConfig c = static_config();
  c.user_credentials = [wrong](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret(wrong));
  };
  auto db = RoutingPool::create(std::move(c));

  const std::string what =
      what_of<AuthenticationFailed>([&] { (void)db->as_user(alice).query("SELECT 1"); });

  EXPECT_THAT(what, HasSubstr("password authentication failed"));
  expect_clean(what, "AuthenticationFailed");
  expect_outputs_clean(*db, alice);
}

TEST_F(SecuritySecrets, WrongPasswordOfTheServicePoolIsNamedNotShown) {
  RoutingConfig c = static_config();
  c.service.password = Secret(new_secret("wrong-service-password"));
  auto db = RoutingPool::create(std::move(c));

  const std::string what = what_of<AuthenticationFailed>([&] { (void)db->query("SELECT 1"); });

  EXPECT_THAT(what, HasSubstr("password authentication failed"));
  expect_clean(what, "AuthenticationFailed");
  expect_outputs_clean(*db, shared_user(kAlice, new_secret("alice-token")));
}

TEST_F(SecuritySecrets, APasswordFullOfConninfoQuotingIsMaskedInEveryForm) {
  // libpq sees it quoted and escaped: neither the raw nor the quoted form may show.
  const std::string wrong = new_secret("it's a \\ 'quoted' = pass word");
  RoutingConfig c = static_config();
  c.user_credentials = [wrong](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret(wrong));
  };
  auto db = RoutingPool::create(std::move(c));

  const std::string what = what_of<AuthenticationFailed>(
      [&] { (void)db->as_user(shared_user(kBob, new_secret("bob-token"))).query("SELECT 1"); });

  expect_clean(what, "AuthenticationFailed");
  EXPECT_THAT(what, ::testing::Not(HasSubstr(PgServer::quote(wrong))));
  EXPECT_THAT(what, ::testing::Not(HasSubstr("quoted' = pass")));
}

TEST_F(SecuritySecrets, AWrongTokenUsedAsThePasswordIsNamedNotShown) {
  // As the demo's --user-credentials token: the user's token is the password.
  RoutingConfig c = static_config();
  c.user_credentials = [](const UserContext& u) {
    return std::make_shared<StaticPassword>(u.access_token());
  };
  auto db = RoutingPool::create(std::move(c));
  const UserPtr alice = shared_user(kAlice, new_secret("forged-token"));

  const std::string what =
      what_of<AuthenticationFailed>([&] { (void)db->as_user(alice).query("SELECT 1"); });

  expect_clean(what, "AuthenticationFailed");
  EXPECT_THAT(what, HasSubstr(kAlice));
  expect_outputs_clean(*db, alice);
}

TEST_F(SecuritySecrets, ARefusedBypassRoleSaysWhyWithoutItsPassword) {
  const std::string role = "secrets-bypass@example.com";
  {
    auto conn = superuser();
    pqxx::work tx(conn);
    ensure_user_role(tx, role);
    tx.exec("ALTER ROLE " + tx.quote_name(role) + " BYPASSRLS");
    tx.commit();
  }
  auto db = RoutingPool::create(static_config());
  const UserPtr bypass = shared_user(role, new_secret("bypass-token"));

  const std::string what =
      what_of<UnsafeRole>([&] { (void)db->as_user(bypass).query("SELECT 1"); });

  EXPECT_THAT(what, HasSubstr("BYPASSRLS"));
  expect_clean(what, "UnsafeRole");
  expect_outputs_clean(*db, bypass);
}

// --- the credential service (Lakebase OAuth through the fake workspace) ----------

class SecurityLakebaseSecrets : public SecuritySecrets {
 protected:
  void SetUp() override {
    SecuritySecrets::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    FakeWorkspace::Options options;
    options.client_id = kServiceRole;  // as on Databricks: the SP's role is its client id
    options.service_principal_user = kServiceRole;
    workspace = std::make_unique<FakeWorkspace>(options);
    // Every database token becomes the role's password, as Lakebase does.
    workspace->on_database_credential([this](const std::string& role, const std::string& token) {
      if (!make_tokens_passwords) return;
      auto conn = superuser();
      pqxx::nontransaction tx(conn);
      tx.exec("ALTER ROLE " + tx.quote_name(role) + " PASSWORD " + tx.quote(token));
    });
  }

  [[nodiscard]] pgobo::databricks::AppConfig lakebase_config() const {
    pgobo::databricks::AppConfig c;
    c.routing = static_config();
    c.routing.service.password.reset();
    c.routing.user_credentials = nullptr;  // each user's database token is bought with their token
    c.lakebase.endpoint = workspace->options().endpoint;
    c.lakebase.workspace_url = workspace->url();
    c.lakebase.client_id = workspace->options().client_id;
    c.lakebase.client_secret = Secret(workspace->options().client_secret);
    c.lakebase.http.timeout = 5s;
    return c;
  }

  [[nodiscard]] std::vector<std::string> workspace_secrets() const { return workspace->secrets(); }

  void expect_clean_here(const std::string& text, const std::string& where) const {
    expect_clean(text, where, workspace_secrets());
  }

  bool make_tokens_passwords = true;
  std::unique_ptr<FakeWorkspace> workspace;
};

TEST_F(SecurityLakebaseSecrets, EveryCredentialServiceFailureIsExplainedWithoutASecret) {
  auto db = pgobo::databricks::make_routing_pool(lakebase_config());
  const UserPtr alice = shared_user(kAlice, workspace->add_token_for(kAlice));
  using Endpoint = FakeWorkspace::Endpoint;

  // Working first: the client secret, an OAuth token, database tokens and
  // alice's token are all in play.
  ASSERT_EQ(db->query("SELECT current_user")[0][0].as<std::string>(), kServiceRole);
  ASSERT_EQ(db->as_user(alice).query("SELECT current_user")[0][0].as<std::string>(), kAlice);

  std::map<std::string, std::string> whats;  // path → what()
  auto failing_user = [&](const UserPtr& who) {
    return what_of<CredentialError>([&] { (void)db->as_user(who).query("SELECT 1"); });
  };

  // A token the workspace does not know (forged or revoked): HTTP 401.
  whats["unknown token"] = failing_user(shared_user(kBob, new_secret("dapi-forged")));

  // The API answers an error whose text echoes the caller's token.
  const UserPtr carol_like = shared_user(kBob, workspace->add_token_for(kBob));
  workspace->fail_next(Endpoint::database_credential,
                       {500, R"({"error_code":"INTERNAL_ERROR","message":"token )" +
                                 carol_like->access_token().reveal() + R"( was refused"})"});
  whats["error echoing the token"] = failing_user(carol_like);

  // Not JSON at all, echoing the token too.
  const UserPtr bob2 = shared_user(kBob, workspace->add_token_for(kBob));
  workspace->fail_next(
      Endpoint::database_credential,
      {502, "<html>bad gateway for " + bob2->access_token().reveal() + "</html>", "text/html"});
  whats["html error echoing the token"] = failing_user(bob2);

  // HTTP 200 with garbage, a truncated credential, no token, a bad expiry.
  const UserPtr bob3 = shared_user(kBob, workspace->add_token_for(kBob));
  const std::string half_token = "lakebase-db-fake-99-" + FakeWorkspace::random_suffix();
  workspace->fail_next(Endpoint::database_credential,
                       {200, R"({"token":")" + half_token, "application/json"});
  whats["truncated credential"] = failing_user(bob3);
  const UserPtr bob4 = shared_user(kBob, workspace->add_token_for(kBob));
  workspace->fail_next(Endpoint::database_credential,
                       {200, R"({"expire_time":"2030-01-01T00:00:00Z"})", "application/json"});
  whats["no token"] = failing_user(bob4);
  const UserPtr bob5 = shared_user(kBob, workspace->add_token_for(kBob));
  workspace->fail_next(
      Endpoint::database_credential,
      {200, R"({"token":")" + half_token + R"(","expire_time":"soon"})", "application/json"});
  whats["bad expiry"] = failing_user(bob5);

  for (const auto& [path, what] : whats) {
    SCOPED_TRACE(path);
    EXPECT_FALSE(what.empty());
    expect_clean_here(what, path);
  }
  expect_outputs_clean(*db, alice, workspace_secrets());
}

TEST_F(SecurityLakebaseSecrets, AWrongClientSecretIsNamedNotShown) {
  pgobo::databricks::AppConfig c = lakebase_config();
  const std::string wrong = new_secret("wrong-client-secret");
  c.lakebase.client_secret = Secret(wrong);
  auto db = pgobo::databricks::make_routing_pool(std::move(c));

  const std::string what = what_of<CredentialError>([&] { (void)db->query("SELECT 1"); });

  EXPECT_THAT(what, HasSubstr("401"));
  expect_clean_here(what, "CredentialError");
  expect_outputs_clean(*db, shared_user(kAlice, workspace->add_token_for(kAlice)),
                       workspace_secrets());
}

TEST_F(SecurityLakebaseSecrets, AnOAuthErrorEchoingTheClientSecretIsScrubbed) {
  auto db = pgobo::databricks::make_routing_pool(lakebase_config());
  const std::string secret = workspace->options().client_secret;
  workspace->fail_next(FakeWorkspace::Endpoint::oauth_token,
                       {400, R"({"error":"invalid_client","error_description":"client secret )" +
                                 secret + R"( is not valid"})"});

  const std::string what = what_of<CredentialError>([&] { (void)db->query("SELECT 1"); });

  EXPECT_THAT(what, HasSubstr("invalid_client"));
  expect_clean_here(what, "CredentialError");
}

// Issue 13, item 9: the Basic credential goes out as base64("<id>:<secret>");
// an endpoint echoing it (or the secret base64url-, percent- or
// JSON-escaped) must not put it in what(), the stats or the log. The guard's
// search (known_secrets_in) decodes those encodings.
TEST_F(SecurityLakebaseSecrets, AnOAuthErrorEchoingTheClientSecretInAnyEncodingIsScrubbed) {
  const std::string id = workspace->options().client_id;
  const std::string secret = workspace->options().client_secret;
  for (const auto& [name, encoded] : encodings_of(secret, id + ":" + secret)) {
    SCOPED_TRACE(name);
    auto db = pgobo::databricks::make_routing_pool(lakebase_config());
    workspace->fail_next(
        FakeWorkspace::Endpoint::oauth_token,
        {401, R"({"error":"invalid_client","error_description":"got Basic )" + encoded + R"("})"});

    const std::string what = what_of<CredentialError>([&] { (void)db->query("SELECT 1"); });

    EXPECT_THAT(what, ::testing::AllOf(HasSubstr("invalid_client: got Basic "), HasSubstr("***")));
    EXPECT_THAT(what, ::testing::Not(HasSubstr(encoded)));
    expect_clean_here(what, "CredentialError");
    expect_outputs_clean(*db, shared_user(kAlice, workspace->add_token_for(kAlice)),
                         workspace_secrets());
  }
}

// The same for the bearer token (the service principal's OAuth token) that
// the database credential endpoint echoes.
TEST_F(SecurityLakebaseSecrets, ACredentialErrorEchoingTheBearerTokenInAnyEncodingIsScrubbed) {
  const UserPtr alice = shared_user(kAlice, workspace->add_token_for(kAlice));
  const std::string token = alice->access_token().reveal();
  auto db = pgobo::databricks::make_routing_pool(lakebase_config());
  for (const auto& [name, encoded] : encodings_of(token, "Bearer " + token)) {
    SCOPED_TRACE(name);
    workspace->fail_next(FakeWorkspace::Endpoint::database_credential,
                         {500, "upstream said: " + encoded + " (end)", "text/plain"});

    const std::string what =
        what_of<CredentialError>([&] { (void)db->as_user(alice).query("SELECT 1"); });

    EXPECT_THAT(what, HasSubstr("(end)"));
    EXPECT_THAT(what, ::testing::Not(HasSubstr(encoded)));
    expect_clean_here(what, "CredentialError");
    db->manager().close_pool(kAlice);  // a fresh pool: no credential backoff in the way
  }
  expect_outputs_clean(*db, alice, workspace_secrets());
}

TEST_F(SecurityLakebaseSecrets, ADatabaseTokenThatIsNotThePasswordIsNamedNotShown) {
  make_tokens_passwords = false;  // the server does not accept the workspace's tokens
  auto db = pgobo::databricks::make_routing_pool(lakebase_config());
  const UserPtr alice = shared_user(kAlice, workspace->add_token_for(kAlice));

  const std::string sp_what = what_of<AuthenticationFailed>([&] { (void)db->query("SELECT 1"); });
  const std::string user_what =
      what_of<AuthenticationFailed>([&] { (void)db->as_user(alice).query("SELECT 1"); });

  ASSERT_GE(workspace->database_tokens().size(), 2U) << "both logins used a database token";
  expect_clean_here(sp_what, "service AuthenticationFailed");
  expect_clean_here(user_what, "user AuthenticationFailed");
  expect_outputs_clean(*db, alice, workspace_secrets());
}

// --- bad configuration around secrets ------------------------------------------------

class SecurityConfigSecrets : public ::testing::Test {
 protected:
  static std::string config_error(const std::function<void()>& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return {};
  }
  static void expect_clean(const std::string& what) {
    EXPECT_FALSE(what.empty());
    EXPECT_THAT(known_secrets_in(what), IsEmpty()) << what;
  }
};

TEST_F(SecurityConfigSecrets, JsonValuesOfTheWrongTypeAreNotRepeatedForSecretKeys) {
  register_secret("123456789012345");
  const std::string secret = new_secret("config-secret");
  for (const nlohmann::json& bad : {
           nlohmann::json{{"host", "h"}, {"database", "d"}, {"password", 123456789012345}},
           nlohmann::json{{"host", "h"}, {"database", "d"}, {"password", {secret}}},
           nlohmann::json{{"host", "h"},
                          {"database", "d"},
                          {"lakebase_endpoint", "projects/p/branches/b/endpoints/e"},
                          {"workspace_url", "http://127.0.0.1:1"},
                          {"client_id", "id"},
                          {"client_secret", {{"value", secret}}}},
           nlohmann::json{{"host", "h"}, {"database", "d"}, {"workspace_token", {secret}}},
       }) {
    expect_clean(config_error([&] { (void)pgobo::databricks::AppConfig::from_json(bad); }));
  }
}

TEST_F(SecurityConfigSecrets, OtherConfigErrorsNextToASecretDoNotRepeatIt) {
  const std::string secret = new_secret("config-secret");
  // A bad neighbour of a good password, in JSON and in the environment.
  expect_clean(config_error([&] {
    (void)PoolConfig::from_json(
        {{"host", "h"}, {"database", "d"}, {"password", secret}, {"port", "not a port"}});
  }));
  expect_clean(config_error([&] {
    (void)PoolConfig::from_json(
        {{"host", "h"}, {"database", "d"}, {"password", secret}, {"max_size", 2}, {"min_idle", 3}});
  }));
  expect_clean(config_error([&] {
    (void)PoolConfig::from_json(
        {{"host", "h"}, {"database", "d"}, {"password", secret}, {"passwrd", secret}});
  }));
  expect_clean(config_error([&] {
    (void)PoolConfig::from_json_text(R"({"host": "h", "database": "d", "password": ")" + secret +
                                     R"(", "port": })");
  }));
  const std::map<std::string, std::string> env{{"PGHOST", "h"},
                                               {"PGDATABASE", "d"},
                                               {"PGPASSWORD", secret},
                                               {"DATABRICKS_CLIENT_SECRET", secret},
                                               {"DATABRICKS_TOKEN", secret},
                                               {"PGPORT", "70000"}};
  const EnvLookup lookup = [&env](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  expect_clean(config_error([&] { (void)PoolConfig::from_env(lookup); }));
  expect_clean(config_error([&] { (void)pgobo::databricks::AppConfig::from_env(lookup); }));
  auto routing_env = env;
  routing_env["PGPORT"] = "5432";
  routing_env["PGOBO_MAX_POOLS"] = "-1";
  expect_clean(config_error([&] {
    (void)RoutingConfig::from_env([&routing_env](std::string_view name) {
      const auto it = routing_env.find(std::string(name));
      return it == routing_env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  }));
  // A router with a service password but no source of user passwords.
  expect_clean(config_error([&] {
    RoutingConfig c;
    c.service = PoolConfig::from_json({{"host", "h"}, {"database", "d"}, {"password", secret}});
    (void)RoutingPool::create(std::move(c));
  }));
}

// nlohmann's parse_error message ends with "; last read: '<the token being
// read>'": when the syntax error is inside a secret's string (missing closing
// quote, invalid escape, raw control character), that token is the secret.
// PoolConfig::from_json_text cuts the message there (src/config.cpp, fixed in
// 9f22650); this keeps it so.
TEST_F(SecurityConfigSecrets, JsonSyntaxErrorsInsideASecretDoNotRepeatIt) {
  const std::string secret = new_secret("config-secret");
  for (const std::string& text : {
           R"({"host": "h", "database": "d", "password": ")" + secret,              // unterminated
           R"({"host": "h", "database": "d", "password": ")" + secret + R"(\q"})",  // bad escape
           R"({"host": "h", "database": "d", "password": ")" + secret + "\x01" + R"("})",
           R"({"client_secret": ")" + secret + "\n" + R"("})",
       }) {
    expect_clean(config_error([&] { (void)PoolConfig::from_json_text(text); }));
  }
}

}  // namespace
}  // namespace pgobo::test
