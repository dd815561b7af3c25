// HTTPS to the workspace (issue 16): the fake workspace serves TLS with a
// certificate signed by a CA made at test time (test_ca.hpp). pgobo trusts
// the CA it is given and no other, checks the host name, says which setting
// to change when either check fails, and reads the usual CA overrides of
// corporate networks (CURL_CA_BUNDLE, SSL_CERT_FILE) after its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "databricks/http.hpp"
#include "fake_workspace.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"
#include "test_ca.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using databricks::AppConfig;
using databricks::HttpOptions;
using databricks::detail::HttpRequest;
using Endpoint = FakeWorkspace::Endpoint;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A workspace over HTTPS at `host` whose certificate `ca` issued for
// `certified` (an IP address or a DNS name).
FakeWorkspace::Options tls_options(TestCa& ca, const std::string& certified,
                                   const std::string& host = "127.0.0.1") {
  const bool ip = certified.find_first_not_of("0123456789.") == std::string::npos;
  FakeWorkspace::Options options;
  options.tls = FakeWorkspace::Tls{
      ip ? ca.issue(certified, {}, {certified}) : ca.issue(certified, {certified}), host};
  return options;
}

class HttpTls : public ::testing::Test {
 protected:
  // A SCIM Me call to `server` with a token it knows.
  std::string user_name_from(FakeWorkspace& server, const HttpOptions& options) {
    const Secret token(server.add_token_for("alice@example.com"));
    HttpRequest request;
    request.call = "current user lookup";
    request.url = server.url() + "/api/2.0/preview/scim/v2/Me";
    request.bearer = &token;
    return databricks::detail::send_for_json(request, options).at("userName").get<std::string>();
  }

  std::string error_from(FakeWorkspace& server, const HttpOptions& options) {
    try {
      (void)user_name_from(server, options);
    } catch (const CredentialError& e) {
      EXPECT_THAT(leaked_secrets(e.what(), server.secrets()), ::testing::IsEmpty()) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no CredentialError";
    return "";
  }

  static HttpOptions trusting(const TestCa& ca) {
    HttpOptions options;
    options.ca_file = ca.cert_file();
    return options;
  }

  LogCapture log;
  TestCa ca;
  TestCa stranger{"a CA nobody trusts"};
};

TEST_F(HttpTls, TheRightCaWorksForAnIpAddressAndForAHostName) {
  FakeWorkspace by_ip(tls_options(ca, "127.0.0.1"));
  ASSERT_THAT(by_ip.url(), ::testing::StartsWith("https://127.0.0.1:"));
  EXPECT_EQ(user_name_from(by_ip, trusting(ca)), "alice@example.com");

  FakeWorkspace by_name(tls_options(ca, "localhost", "localhost"));
  ASSERT_THAT(by_name.url(), ::testing::StartsWith("https://localhost:"));
  EXPECT_EQ(user_name_from(by_name, trusting(ca)), "alice@example.com");
}

TEST_F(HttpTls, AnotherCaIsNotTrustedAndTheErrorNamesTheSettings) {
  FakeWorkspace server(tls_options(ca, "127.0.0.1"));

  EXPECT_THAT(error_from(server, trusting(stranger)),
              AllOf(HasSubstr("current user lookup (GET https://127.0.0.1:"),
                    HasSubstr("the workspace's TLS certificate is not trusted"),
                    HasSubstr("trusting the CAs in " + stranger.cert_file()),
                    HasSubstr("PGOBO_HTTP_CA_FILE"), HasSubstr("http_ca_file"),
                    HasSubstr("SSL_CERT_FILE"), HasSubstr("CURL_CA_BUNDLE")));
  // Nor does the system's store know a CA made a moment ago.
  EXPECT_THAT(error_from(server, HttpOptions{}),
              AllOf(HasSubstr("not trusted"), HasSubstr("trusting the system's CA certificates")));
  EXPECT_EQ(server.calls(Endpoint::current_user), 0) << "no request was sent";
}

TEST_F(HttpTls, ACertificateForAnotherHostIsRefusedForItsName) {
  FakeWorkspace server(tls_options(ca, "workspace.example.com", "127.0.0.1"));

  EXPECT_THAT(error_from(server, trusting(ca)),
              AllOf(HasSubstr("the host name does not match"), HasSubstr("127.0.0.1"),
                    HasSubstr("DATABRICKS_HOST"), Not(HasSubstr("not trusted"))));
  EXPECT_EQ(server.calls(Endpoint::current_user), 0) << "no request was sent";
}

// A TLS failure does not heal by trying again: never retried.
TEST_F(HttpTls, VerificationFailuresAreNotRetried) {
  FakeWorkspace server(tls_options(ca, "127.0.0.1"));
  int sleeps = 0;
  const databricks::detail::ScopedRetryTiming timing(
      {nullptr, nullptr, [&sleeps](std::chrono::milliseconds) { ++sleeps; }, nullptr});

  EXPECT_THAT(error_from(server, trusting(stranger)),
              AllOf(HasSubstr("not trusted"), Not(HasSubstr("attempt")), Not(HasSubstr("retr"))));
  EXPECT_EQ(sleeps, 0);
}

TEST_F(HttpTls, ACaFileThatCannotBeReadAtCallTimeSaysSo) {
  FakeWorkspace server(tls_options(ca, "127.0.0.1"));
  HttpOptions options;
  options.ca_file = ca.dir() + "/no-such-ca.pem";

  EXPECT_THAT(error_from(server, options),
              AllOf(HasSubstr(options.ca_file), HasSubstr("PGOBO_HTTP_CA_FILE")));
}

// ---------------------------------------------------------------------------
// Which CA file AppConfig picks, and when it refuses one.

class CaSettings : public HttpTls {
 protected:
  std::map<std::string, std::string> env{
      {"PGHOST", "db.internal"}, {"PGDATABASE", "app"}, {"PGPASSWORD", "pw"}};

  AppConfig read() const {
    return AppConfig::from_env([this](std::string_view name) -> std::optional<std::string> {
      const auto it = env.find(std::string(name));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  }

  std::string config_error() const {
    try {
      (void)read();
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }

  // A readable CA file other than ca's and stranger's.
  std::string third_ca() const {
    const std::string path = ca.dir() + "/third.pem";
    std::filesystem::copy_file(ca.cert_file(), path,
                               std::filesystem::copy_options::overwrite_existing);
    return path;
  }
};

TEST_F(CaSettings, PgoboOwnSettingWinsThenCurlCaBundleThenSslCertFile) {
  EXPECT_EQ(read().lakebase.http.ca_file, "") << "none set: the system default";

  env["SSL_CERT_FILE"] = stranger.cert_file();
  EXPECT_EQ(read().lakebase.http.ca_file, stranger.cert_file());

  env["CURL_CA_BUNDLE"] = ca.cert_file();
  EXPECT_EQ(read().lakebase.http.ca_file, ca.cert_file());

  env["PGOBO_HTTP_CA_FILE"] = third_ca();
  EXPECT_EQ(read().lakebase.http.ca_file, third_ca());

  env.erase("SSL_CERT_FILE");
  env.erase("PGOBO_HTTP_CA_FILE");
  EXPECT_EQ(read().lakebase.http.ca_file, ca.cert_file()) << "CURL_CA_BUNDLE alone";
}

TEST_F(CaSettings, AnUnreadableCaFileIsAConfigErrorNamingItsVariable) {
  const std::string missing = ca.dir() + "/missing.pem";
  const std::string empty = ca.dir() + "/empty.pem";
  std::ofstream{empty}.flush();
  for (const char* variable : {"PGOBO_HTTP_CA_FILE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"}) {
    SCOPED_TRACE(variable);
    env[variable] = missing;
    EXPECT_THAT(config_error(),
                AllOf(HasSubstr(std::string(variable) + ": expected a readable file of PEM CA "
                                                        "certificates (it does not exist)"),
                      HasSubstr(missing)));
    env[variable] = ca.dir();
    EXPECT_THAT(config_error(), AllOf(HasSubstr(variable), HasSubstr("it is a directory")));
    env[variable] = empty;
    EXPECT_THAT(config_error(), AllOf(HasSubstr(variable), HasSubstr("empty")));
    env.erase(variable);
  }
}

// A stale override is not read when a setting before it wins.
TEST_F(CaSettings, AnOverrideThatDoesNotApplyIsNotChecked) {
  env["PGOBO_HTTP_CA_FILE"] = ca.cert_file();
  env["CURL_CA_BUNDLE"] = ca.dir() + "/gone.pem";
  env["SSL_CERT_FILE"] = ca.dir() + "/gone-too.pem";
  EXPECT_EQ(read().lakebase.http.ca_file, ca.cert_file());
}

TEST_F(CaSettings, JsonReadsOnlyHttpCaFileAndChecksIt) {
  const auto from_json = [](nlohmann::json extra) {
    nlohmann::json json{{"host", "db.internal"}, {"database", "app"}, {"password", "pw"}};
    json.update(extra);
    return AppConfig::from_json(json);
  };
  EXPECT_EQ(from_json({{"http_ca_file", ca.cert_file()}}).lakebase.http.ca_file, ca.cert_file());
  EXPECT_EQ(from_json({{"http_ca_file", ""}}).lakebase.http.ca_file, "");
  EXPECT_THAT(
      [&] {
        (void)from_json({{"http_ca_file", ca.dir() + "/missing.pem"}});
      },
      ::testing::ThrowsMessage<ConfigError>(
          HasSubstr("JSON key 'http_ca_file': expected a readable file")));
  // The environment-only settings have no JSON key, not even "".
  EXPECT_THROW((void)from_json({{"", ca.cert_file()}}), ConfigError);
  EXPECT_THROW((void)from_json({{"SSL_CERT_FILE", ca.cert_file()}}), ConfigError);
}

TEST_F(CaSettings, RetryTimeoutIsReadFromEnvironmentAndJson) {
  EXPECT_EQ(read().lakebase.http.retry_timeout, 5s);
  env["PGOBO_HTTP_RETRY_TIMEOUT_MS"] = "0";
  EXPECT_EQ(read().lakebase.http.retry_timeout, 0ms);
  env["PGOBO_HTTP_RETRY_TIMEOUT_MS"] = "2500";
  EXPECT_EQ(read().lakebase.http.retry_timeout, 2500ms);
  env["PGOBO_HTTP_RETRY_TIMEOUT_MS"] = "600001";
  EXPECT_THAT(config_error(), AllOf(HasSubstr("PGOBO_HTTP_RETRY_TIMEOUT_MS: expected a whole "
                                              "number of milliseconds from 0 to 600000"),
                                    HasSubstr("got '600001'")));
  env["PGOBO_HTTP_RETRY_TIMEOUT_MS"] = "-1";
  EXPECT_THAT(config_error(), HasSubstr("PGOBO_HTTP_RETRY_TIMEOUT_MS"));
  EXPECT_EQ(
      AppConfig::from_json(
          {{"host", "h"}, {"database", "d"}, {"password", "p"}, {"http_retry_timeout_ms", 1234}})
          .lakebase.http.retry_timeout,
      1234ms);
}

// End to end from the environment: the service principal's pool options,
// its role looked up and its database credential bought over HTTPS, with
// the CA that SSL_CERT_FILE names.
TEST_F(CaSettings, SslCertFileFromTheEnvironmentReachesEveryCall) {
  FakeWorkspace server(tls_options(ca, "127.0.0.1"));
  env.erase("PGPASSWORD");
  env["LAKEBASE_ENDPOINT"] = server.options().endpoint;
  env["DATABRICKS_HOST"] = server.url();
  env["DATABRICKS_TOKEN"] = server.add_token_for("alice@example.com");
  env["SSL_CERT_FILE"] = ca.cert_file();

  const PoolOptions options = read().make_service_pool_options();
  EXPECT_EQ(options.connection.user, "alice@example.com") << "SCIM Me over HTTPS";
  const Credential credential = options.credentials->get();
  ASSERT_EQ(server.database_tokens().size(), 1U);
  EXPECT_EQ(credential.secret.reveal(), server.database_tokens().front());

  env["SSL_CERT_FILE"] = stranger.cert_file();
  EXPECT_THAT([&] { (void)read().make_service_pool_options(); },
              ::testing::ThrowsMessage<CredentialError>(HasSubstr("not trusted")));
  EXPECT_THAT(leaked_secrets(log.text(), server.secrets()), ::testing::IsEmpty());
}

}  // namespace
}  // namespace pgobo::test
