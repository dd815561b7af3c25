// pgobo's HTTP calls to the workspace (libcurl): what reaches the server,
// and what an error message says — never a secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "databricks/http.hpp"
#include "fake_workspace.hpp"
#include "joining_thread.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"
#include "scrub.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::CredentialError;
using pgobo::Secret;
using pgobo::databricks::detail::HttpRequest;
using pgobo::test::FakeWorkspace;
using Endpoint = pgobo::test::FakeWorkspace::Endpoint;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class HttpTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  // A SCIM Me call with `bearer`, the simplest authenticated GET.
  HttpRequest me_request(const Secret& bearer) const {
    HttpRequest request;
    request.call = "current user lookup";
    request.url = workspace.url() + "/api/2.0/preview/scim/v2/Me";
    request.bearer = &bearer;
    return request;
  }

  std::string error_of(const HttpRequest& request,
                       const pgobo::databricks::HttpOptions& options = {}) {
    try {
      (void)pgobo::databricks::detail::send_for_json(request, options);
    } catch (const CredentialError& e) {
      expect_no_secret_in(e.what());
      return e.what();
    }
    ADD_FAILURE() << "no CredentialError";
    return "";
  }

  Secret token{workspace.add_token_for("alice@example.com")};
};

TEST_F(HttpTest, SendsTheBearerTokenInTheAuthorizationHeader) {
  const auto body = pgobo::databricks::detail::send_for_json(me_request(token), {});

  EXPECT_EQ(body.at("userName"), "alice@example.com");
  EXPECT_EQ(workspace.last_authorization(Endpoint::current_user), "Bearer " + token.reveal());
}

TEST_F(HttpTest, ErrorNamesTheCallStatusAndDatabricksErrorText) {
  workspace.fail_next(Endpoint::current_user,
                      {403, R"({"error_code":"PERMISSION_DENIED","message":"no access to Me"})"});

  EXPECT_THAT(error_of(me_request(token)),
              AllOf(HasSubstr("current user lookup (GET http://127.0.0.1:"), HasSubstr("HTTP 403"),
                    HasSubstr("PERMISSION_DENIED: no access to Me")));
}

TEST_F(HttpTest, ErrorUnderstandsTheOAuthErrorShape) {
  workspace.fail_next(Endpoint::current_user,
                      {400, R"({"error":"invalid_scope","error_description":"bad scope"})"});

  EXPECT_THAT(error_of(me_request(token)), HasSubstr("HTTP 400: invalid_scope: bad scope"));
}

TEST_F(HttpTest, NonJsonErrorBodyIsQuotedBrieflyOnOneLine) {
  workspace.fail_next(
      Endpoint::current_user,
      {502, "<html>\n<b>Bad gateway</b>" + std::string(1000, '.') + "</html>", "text/html"});

  const std::string message = error_of(me_request(token));
  EXPECT_THAT(message, AllOf(HasSubstr("HTTP 502"), HasSubstr("<b>Bad gateway</b>"),
                             Not(HasSubstr("\n")), Not(HasSubstr("</html>"))));
}

TEST_F(HttpTest, SecretEchoedInAnErrorBodyIsReplacedByStars) {
  workspace.fail_next(Endpoint::current_user,
                      {401, R"({"error_code":"UNAUTHENTICATED","message":"token )" +
                                token.reveal() + R"( is not valid"})"});

  EXPECT_THAT(error_of(me_request(token)), HasSubstr("token *** is not valid"));
}

TEST_F(HttpTest, SuccessWithABodyThatIsNotAJsonObjectIsACredentialError) {
  workspace.fail_next(Endpoint::current_user,
                      {200, "{\"userName\": \"alice\"", "application/json"});

  EXPECT_THAT(error_of(me_request(token)),
              AllOf(HasSubstr("HTTP 200"), HasSubstr("not a JSON object")));
}

TEST_F(HttpTest, SlowAnswerIsATimeoutError) {
  workspace.hold(Endpoint::current_user);
  pgobo::databricks::HttpOptions options;
  options.timeout = 200ms;

  const std::string message = error_of(me_request(token), options);
  workspace.release(Endpoint::current_user);
  EXPECT_THAT(message, AllOf(HasSubstr("timed out"), HasSubstr("200 ms")));
}

TEST_F(HttpTest, BodyOverTheSizeCapIsRefused) {
  workspace.fail_next(Endpoint::current_user,
                      {200, R"({"userName":")" + std::string(5000, 'a') + R"("})"});
  pgobo::databricks::HttpOptions options;
  options.max_response_bytes = 1024;

  EXPECT_THAT(error_of(me_request(token), options), HasSubstr("exceeds 1024 bytes"));
}

TEST_F(HttpTest, RefusedConnectionIsACredentialError) {
  std::string url;
  {
    FakeWorkspace gone;
    url = gone.url();
  }
  HttpRequest request = me_request(token);
  request.url = url + "/api/2.0/preview/scim/v2/Me";

  EXPECT_THAT(error_of(request), HasSubstr("current user lookup (GET " + url));
}

TEST_F(HttpTest, HttpsIsNeverDowngradedToPlainHttp) {
  HttpRequest request = me_request(token);
  request.url =
      "https://127.0.0.1:" + std::to_string(workspace.port()) + "/api/2.0/preview/scim/v2/Me";

  EXPECT_THAT(error_of(request), HasSubstr("failed"));
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0) << "no plain HTTP request was answered";
}

// Item 10 at the HTTP call itself (every URL pgobo builds passed
// normalize_workspace_url, but the call does not rely on it): the URL below
// reads as "http://localhost..." yet names the host 127.0.0.1 with the user
// "localhost". It is refused before any connection: the fake is not called.
TEST_F(HttpTest, AUrlWithAUserNameOrPasswordIsRefusedBeforeConnecting) {
  HttpRequest request = me_request(token);
  request.url = "http://localhost:pw-Url-Secret-93@127.0.0.1:" + std::to_string(workspace.port()) +
                "/api/2.0/preview/scim/v2/Me";

  EXPECT_THAT(error_of(request),
              AllOf(HasSubstr("user name or password"), Not(HasSubstr("pw-Url-Secret-93"))));
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0) << "no request reached the server";
}

// Plain http:// to a host that is not loopback is refused before connecting.
// "[::ffff:127.0.0.1]" is such a host by the rule (only ::1 counts), which
// lets this test show the refusal without any traffic leaving the machine.
TEST_F(HttpTest, PlainHttpToAHostThatIsNotLoopbackIsRefusedBeforeConnecting) {
  HttpRequest request = me_request(token);
  request.url = "http://[::ffff:127.0.0.1]:" + std::to_string(workspace.port()) +
                "/api/2.0/preview/scim/v2/Me";

  EXPECT_THAT(error_of(request), HasSubstr("http:// is only allowed"));
  EXPECT_EQ(workspace.calls(Endpoint::current_user), 0) << "no request reached the server";
}

// Item 11: an answer nested 300,000 arrays deep (600 KB) is refused by depth,
// as a success body and as an error body (then quoted briefly as text).
TEST_F(HttpTest, DeeplyNestedJsonAnswersAreRefusedByTheirDepth) {
  const std::string deep = std::string(300'000, '[') + std::string(300'000, ']');
  workspace.fail_next(Endpoint::current_user, {200, R"({"userName":)" + deep + "}"});
  pgobo::databricks::HttpOptions options;
  options.max_response_bytes = 1024 * 1024;
  EXPECT_THAT(error_of(me_request(token), options),
              AllOf(HasSubstr("HTTP 200"), HasSubstr("nested more than 64 levels")));

  workspace.fail_next(Endpoint::current_user,
                      {500, R"({"error_code":"X","message":)" + deep + "}"});
  const std::string message = error_of(me_request(token), options);
  EXPECT_THAT(message, HasSubstr("HTTP 500"));
  EXPECT_LT(message.size(), 600U);
}

TEST_F(HttpTest, PostsFormFieldsUrlEncodedWithBasicAuth) {
  const Secret secret(workspace.options().client_secret);
  HttpRequest request;
  request.call = "service principal OAuth token request";
  request.method = "POST";
  request.url = workspace.url() + "/oidc/v1/token";
  request.basic_user = workspace.options().client_id;
  request.basic_password = &secret;
  request.form = {{"grant_type", "client_credentials"}, {"scope", "all-apis sql"}};

  const auto body = pgobo::databricks::detail::send_for_json(request, {});
  EXPECT_EQ(body.at("token_type"), "Bearer");
  EXPECT_EQ(workspace.last_body(Endpoint::oauth_token),
            "grant_type=client_credentials&scope=all-apis+sql");
}

TEST_F(HttpTest, ManyThreadsCallAtOnce) {
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 4;
  std::atomic<int> answered{0};
  {
    std::vector<pgobo::test::JoiningThread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < kCallsEach; ++j) {
          if (pgobo::databricks::detail::send_for_json(me_request(token), {}).at("userName") ==
              "alice@example.com") {
            ++answered;
          }
        }
      });
    }
  }
  EXPECT_EQ(answered.load(), kThreads * kCallsEach);
  EXPECT_EQ(workspace.calls(Endpoint::current_user), kThreads * kCallsEach);
}

TEST_F(HttpTest, TraceLogRecordsTheCallButNotTheToken) {
  (void)pgobo::databricks::detail::send_for_json(me_request(token), {});

  EXPECT_THAT(log.text(), HasSubstr("current user lookup (GET "));
  EXPECT_THAT(log.text(), HasSubstr("HTTP 200"));
  // TearDown checks that no token of the workspace appears.
}

TEST(FormEncode, EscapesReservedBytesAndSpaces) {
  EXPECT_EQ(pgobo::databricks::detail::form_encode("a b&c=d/é~._-"), "a+b%26c%3Dd%2F%C3%A9~._-");
}

TEST(NormalizeWorkspaceUrl, AddsHttpsToABareHostName) {
  EXPECT_EQ(
      pgobo::databricks::normalize_workspace_url("adb-123.azuredatabricks.net", "DATABRICKS_HOST"),
      "https://adb-123.azuredatabricks.net");
}

TEST(NormalizeWorkspaceUrl, DropsTrailingSlashes) {
  EXPECT_EQ(
      pgobo::databricks::normalize_workspace_url("https://example.cloud.databricks.com//", "x"),
      "https://example.cloud.databricks.com");
}

TEST(NormalizeWorkspaceUrl, AllowsPlainHttpOnlyForLoopback) {
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://127.0.0.1:8080/", "x"),
            "http://127.0.0.1:8080");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://localhost:1", "x"),
            "http://localhost:1");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://[::1]:1", "x"), "http://[::1]:1");
  EXPECT_THAT(
      [] {
        (void)pgobo::databricks::normalize_workspace_url("http://example.com", "DATABRICKS_HOST");
      },
      ::testing::ThrowsMessage<pgobo::ConfigError>(
          AllOf(HasSubstr("DATABRICKS_HOST"), HasSubstr("https://"))));
  EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url("http://127.0.0.1.evil.com", "x"),
               pgobo::ConfigError);
}

// Issue 13, item 10: userinfo made a prefix test read "http://localhost:1@evil"
// as loopback, while libcurl connects to "evil". Workspace URLs with a user
// name or password are refused outright, and the message never shows it.
TEST(NormalizeWorkspaceUrl, RefusesAUserNameOrPasswordWithoutEchoingIt) {
  for (const std::string url :
       {"http://localhost:1@evil", "http://127.0.0.1:x@evil/", "http://[::1]:@evil",
        "http://127.0.0.1\\@evil/", "http://@127.0.0.1:8080", "http://user@127.0.0.1:8080",
        "https://someone:pw-Url-Secret-93@adb-123.azuredatabricks.net",
        "localhost:pw-Url-Secret-93@evil.example.com"}) {
    SCOPED_TRACE(url);
    EXPECT_THAT([&] { (void)pgobo::databricks::normalize_workspace_url(url, "DATABRICKS_HOST"); },
                ::testing::ThrowsMessage<pgobo::ConfigError>(
                    AllOf(HasSubstr("DATABRICKS_HOST"), HasSubstr("user name or password"),
                          Not(HasSubstr("pw-Url-Secret-93")), Not(HasSubstr("evil")))));
  }
}

// Loopback is decided on the host libcurl parses: only localhost,
// 127.0.0.0/8 and ::1, however spelt.
TEST(NormalizeWorkspaceUrl, DecidesLoopbackOnTheHostLibcurlConnectsTo) {
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("HTTP://LOCALHOST:8/", "x"),
            "http://LOCALHOST:8");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://127.000.000.001:8", "x"),
            "http://127.0.0.1:8");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://0x7f.1:8", "x"),
            "http://127.0.0.1:8");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://127.45.6.7", "x"),
            "http://127.45.6.7");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://[0:0:0:0:0:0:0:1]:8/", "x"),
            "http://[::1]:8");
  EXPECT_EQ(pgobo::databricks::normalize_workspace_url("http://%6cocalhost:8", "x"),
            "http://localhost:8");
  for (const std::string url :
       {"http://localhost.", "http://localhost.evil.com", "http://127.0.0.1.nip.io",
        "http://[::ffff:127.0.0.1]", "http://128.0.0.1", "http://126.255.255.255",
        "http://%6cocalhost.evil.com", "http://2130706433.evil", "http://[::2]"}) {
    SCOPED_TRACE(url);
    EXPECT_THAT([&] { (void)pgobo::databricks::normalize_workspace_url(url, "DATABRICKS_HOST"); },
                ::testing::ThrowsMessage<pgobo::ConfigError>(
                    AllOf(HasSubstr("DATABRICKS_HOST"), HasSubstr("http:// is only allowed"))));
  }
  for (const std::string url :
       {"http:\\\\127.0.0.1\\", "http://127.0.0.1\\evil", "https://127.0.0.1:99999"}) {
    SCOPED_TRACE(url);
    EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url(url, "DATABRICKS_HOST"),
                 pgobo::ConfigError);
  }
}

TEST(NormalizeWorkspaceUrl, RefusesOtherSchemesEmptyAndSpaces) {
  EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url("ftp://example.com", "x"),
               pgobo::ConfigError);
  EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url("", "x"), pgobo::ConfigError);
  EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url("https://", "x"),
               pgobo::ConfigError);
  EXPECT_THROW((void)pgobo::databricks::normalize_workspace_url("https://a b.com", "x"),
               pgobo::ConfigError);
}

// The API's error text in a message: one line whatever a viewer treats as a
// line break, valid UTF-8, never cut inside a character.
TEST(HttpErrorText, StaysOneValidUtf8LineAndKeepsReadableText) {
  HttpRequest request;
  request.call = "credential request";
  request.url = "https://example.invalid/x";
  const std::string text = pgobo::databricks::detail::describe_error_body(
      request,
      "{\"error_code\":\"BAD\",\"message\":\"caf\u00e9 a\u2028b\u2029c\u0085d\u202ee\\nf\"}");
  EXPECT_EQ(text,
            "BAD: caf"
            "\xc3\xa9"
            " a b c d e f");  // é kept, as UTF-8

  // Cut at 200 bytes: a two-byte character straddling the cut is left out whole.
  const std::string body = std::string(199, 'x') + "\xc3\xa9" + "tail";
  const std::string cut = pgobo::databricks::detail::describe_error_body(request, body);
  EXPECT_EQ(cut, std::string(199, 'x') + "...");
  // Bytes that are not UTF-8 become '?'.
  EXPECT_EQ(pgobo::databricks::detail::describe_error_body(request, "a\xff\xc3(b"),
            "a?"
            "?(b");
}

// Only a prefix of a large body is scrubbed and quoted (bounded work on a
// hostile 1 MiB body); a secret that the prefix's cut goes through must not
// leave its first bytes behind, even when the replacements before it shrink
// the text enough for the quoted excerpt to reach the cut.
TEST(HttpErrorText, ALargeBodyIsScrubbedBeforeItIsCutEvenAcrossTheCut) {
  const Secret bearer(std::string(1000, 'J') + "-long-token-tail");
  HttpRequest request;
  request.call = "credential request";
  request.url = "https://example.invalid/x";
  request.bearer = &bearer;
  std::string body;
  while (body.size() < 64 * 1024) body += bearer.reveal();
  const std::string quoted = pgobo::databricks::detail::describe_error_body(request, body);
  EXPECT_THAT(quoted, ::testing::MatchesRegex("(\\*)*(\\.\\.\\.)?")) << quoted;
  EXPECT_THAT(quoted, HasSubstr("***"));

  // The same with the token base64-encoded, 3 bytes off the alignment.
  std::string encoded_body;
  while (encoded_body.size() < 64 * 1024) {
    encoded_body += pgobo::detail::base64_encode("xyz" + bearer.reveal() + "abc") + " ";
  }
  const std::string quoted_encoded =
      pgobo::databricks::detail::describe_error_body(request, encoded_body);
  EXPECT_THAT(quoted_encoded, Not(HasSubstr("SkpK"))) << quoted_encoded;  // base64 of "JJJ"
}

}  // namespace
