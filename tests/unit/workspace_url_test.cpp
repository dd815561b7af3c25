// DATABRICKS_HOST in the forms people paste (issue 16, item 3): the
// Databricks SDKs reduce a host to scheme://host[:port], so a URL copied from
// the browser names its workspace, and API paths are appended to the host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fake_workspace.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"

namespace {

using pgobo::databricks::normalize_workspace_url;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(WorkspaceUrlForms, ABrowserUrlIsReducedToSchemeAndHost) {
  EXPECT_EQ(
      normalize_workspace_url("https://adb-123.azuredatabricks.net/?o=123#", "DATABRICKS_HOST"),
      "https://adb-123.azuredatabricks.net");
  EXPECT_EQ(normalize_workspace_url("https://adb-123.azuredatabricks.net/?o=123", "x"),
            "https://adb-123.azuredatabricks.net");
  EXPECT_EQ(normalize_workspace_url("https://dbc-1a2b.cloud.databricks.com/login.html", "x"),
            "https://dbc-1a2b.cloud.databricks.com");
  EXPECT_EQ(normalize_workspace_url(
                "https://dbc-1a2b.cloud.databricks.com/browse/folders/123?o=4#notebook/5", "x"),
            "https://dbc-1a2b.cloud.databricks.com");
  EXPECT_EQ(normalize_workspace_url("https://example.com/#x", "x"), "https://example.com");
  EXPECT_EQ(normalize_workspace_url("https://example.com?q=1", "x"), "https://example.com");
}

TEST(WorkspaceUrlForms, ABareHostGetsHttpsAndKeepsItsPort) {
  EXPECT_EQ(normalize_workspace_url("adb-123.azuredatabricks.net/?o=123", "x"),
            "https://adb-123.azuredatabricks.net");
  EXPECT_EQ(normalize_workspace_url("adb-123.azuredatabricks.net:8443/login.html", "x"),
            "https://adb-123.azuredatabricks.net:8443");
  EXPECT_EQ(normalize_workspace_url("HTTPS://Example.COM/", "x"), "https://Example.COM");
  EXPECT_EQ(normalize_workspace_url("http://127.0.0.1:8080/some/path?x=1#y", "x"),
            "http://127.0.0.1:8080");
}

// What is dropped never changes what is checked: the host libcurl parses.
TEST(WorkspaceUrlForms, DroppingThePathKeepsEveryCheck) {
  EXPECT_THAT([] { (void)normalize_workspace_url("http://example.com/?o=1", "DATABRICKS_HOST"); },
              ::testing::ThrowsMessage<pgobo::ConfigError>(
                  AllOf(HasSubstr("DATABRICKS_HOST"), HasSubstr("http:// is only allowed"))));
  EXPECT_THAT(
      [] {
        (void)normalize_workspace_url("https://u:pw-Form-Secret-7@example.com/?o=1#",
                                      "DATABRICKS_HOST");
      },
      ::testing::ThrowsMessage<pgobo::ConfigError>(
          AllOf(HasSubstr("user name or password"), Not(HasSubstr("pw-Form-Secret-7")))));
  // A '#' or '?' before the host's end is not a way to smuggle a host in.
  EXPECT_EQ(normalize_workspace_url("http://127.0.0.1:9#@evil.example.com", "x"),
            "http://127.0.0.1:9");
  EXPECT_EQ(normalize_workspace_url("http://localhost:9?@evil.example.com", "x"),
            "http://localhost:9");
  EXPECT_THROW((void)normalize_workspace_url("https:///?o=1", "x"), pgobo::ConfigError);
}

// End to end: a pasted browser URL reaches the real endpoint, where the URL
// taken verbatim went to "/?o=123/api/2.0/postgres/credentials" (HTTP 404).
TEST(WorkspaceUrlForms, ABrowserUrlReachesTheCredentialEndpoint) {
  pgobo::test::FakeWorkspace workspace;
  const std::string pat = workspace.add_token_for("alice@example.com");
  pgobo::databricks::LakebaseCredentials credentials({
      .workspace_url = workspace.url() + "/?o=123#",
      .endpoint = workspace.options().endpoint,
      .workspace_token =
          std::make_shared<pgobo::databricks::PersonalAccessToken>(pgobo::Secret{pat}),
      .http = {},
  });
  const pgobo::Credential credential = credentials.get();
  EXPECT_FALSE(credential.secret.empty());
  EXPECT_EQ(workspace.calls(pgobo::test::FakeWorkspace::Endpoint::database_credential), 1);
}

}  // namespace
