// Issue 13, item 9: a secret pgobo sent (the bearer token, the OAuth client
// secret, the Basic credential "<id>:<secret>") that a misbehaving or hostile
// endpoint echoes back is scrubbed from the exception message and the log in
// every encoding: raw, percent/form, JSON-escaped, hex, base64 and base64url
// (of the secret alone, of the pair, and inside a longer base64 text). The
// endpoints are real HTTP servers on 127.0.0.1 that build their error answer
// from the Authorization header pgobo actually sent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "databricks/http.hpp"
#include "echo_server.hpp"
#include "encodings.hpp"
#include "fake_workspace.hpp"  // FakeWorkspace::random_suffix()
#include "log_capture.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"
#include "scrub.hpp"
#include "secret_guard.hpp"

namespace pgobo::test {
namespace {

using databricks::HttpOptions;
using databricks::LakebaseCredentials;
using databricks::PersonalAccessToken;
using databricks::ServicePrincipalOAuth;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A secret whose encodings all differ from it: quotes, a backslash, a slash,
// '+', '&', '=', '%', a space, a colon and a non-ASCII letter.
std::string awkward_secret(const std::string& what) {
  std::string secret = what + "-" + FakeWorkspace::random_suffix() + " \"q\"\\/+&=%:\xc3\xa9";
  register_secret(secret);
  return secret;
}

// The secret behind a Basic credential header, decoded as the endpoint sees it.
std::string basic_pair_of(const httplib::Request& req) {
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Basic ";
  if (header.compare(0, prefix.size(), prefix) != 0) return {};
  return base64_decode(header.substr(prefix.size()));
}

// What a server thread echoed, read by the test thread.
class Echoed {
 public:
  void add(std::pair<std::string, std::string> echoed) {
    const std::lock_guard lock(mutex_);
    echoed_.push_back(std::move(echoed));
  }
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> all() const {
    const std::lock_guard lock(mutex_);
    return echoed_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> echoed_;
};

template <class F>
std::string credential_error_of(F f) {
  try {
    f();
  } catch (const CredentialError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CredentialError";
  return {};
}

void expect_clean(const std::string& text, const std::vector<std::string>& secrets,
                  const std::string& where) {
  EXPECT_THAT(known_secrets_in(text), IsEmpty()) << where << ": " << text;
  EXPECT_THAT(leaked_secrets(text, secrets), IsEmpty()) << where << ": " << text;
}

// The public path: ServicePrincipalOAuth against a token endpoint that
// answers 401 quoting the Authorization header it got, as OAuth JSON.
TEST(HttpScrub, AnOAuthErrorEchoingTheBasicCredentialIsScrubbed) {
  const std::string client_id = "echo-client-id";
  const std::string secret = awkward_secret("echo-client-secret");
  const std::string header = "Basic " + base64(client_id + ":" + secret);
  EchoServer server([](const httplib::Request& req, httplib::Response& res) {
    res.status = 401;
    res.set_content(nlohmann::json{{"error", "invalid_client"},
                                   {"error_description",
                                    "bad Authorization: " + req.get_header_value("Authorization")}}
                        .dump(),
                    "application/json");
  });
  const LogCapture log;
  ServicePrincipalOAuth::Options options;
  options.workspace_url = server.url();
  options.client_id = client_id;
  options.client_secret = Secret(secret);
  ServicePrincipalOAuth sp(std::move(options));

  const std::string what = credential_error_of([&] { (void)sp.token(); });

  ASSERT_EQ(server.calls(), 1);
  EXPECT_THAT(what, AllOf(HasSubstr("invalid_client"), HasSubstr("bad Authorization: Basic ***"),
                          Not(HasSubstr(header.substr(6)))));
  expect_clean(what, {secret, client_id + ":" + secret}, "what()");
  expect_clean(log.text(), {secret, client_id + ":" + secret}, "the log");
  EXPECT_THAT(log.text(), HasSubstr("invalid_client")) << "the failure was logged";
}

// Every encoding of the client secret and of the pair, each echoed alone in a
// body that is not JSON (so escapes reach the message as they are).
TEST(HttpScrub, EveryEncodingOfTheClientSecretEchoedIsScrubbed) {
  const std::string client_id = "echo-client-id";
  const std::string secret = awkward_secret("echo-client-secret");
  std::atomic<std::size_t> variant{0};
  Echoed sent;
  EchoServer server([&](const httplib::Request& req, httplib::Response& res) {
    const std::string pair = basic_pair_of(req);
    const std::string echoed_secret = pair.substr(pair.find(':') + 1);
    const auto encodings = encodings_of(echoed_secret, pair);
    sent.add(encodings.at(variant));
    res.status = 400;
    res.set_content("echo: " + encodings.at(variant).second + " :end", "text/plain");
  });
  const Secret password(secret);
  databricks::detail::HttpRequest request;
  request.call = "service principal OAuth token request";
  request.method = "POST";
  request.url = server.url() + "/oidc/v1/token";
  request.basic_user = client_id;
  request.basic_password = &password;
  request.form = {{"grant_type", "client_credentials"}};
  const LogCapture log;

  const std::size_t count = encodings_of(secret, client_id + ":" + secret).size();
  for (std::size_t i = 0; i < count; ++i) {
    variant = i;
    const std::string what = credential_error_of(
        [&] { (void)databricks::detail::send_for_json(request, HttpOptions{}); });
    const auto echoed = sent.all();
    ASSERT_EQ(echoed.size(), i + 1);
    const auto& [name, encoded] = echoed.back();
    SCOPED_TRACE(name);
    EXPECT_THAT(what, AllOf(HasSubstr("HTTP 400"), HasSubstr("echo: "), HasSubstr(" :end"),
                            Not(HasSubstr(encoded))));
    expect_clean(what, {secret, client_id + ":" + secret}, name);
  }
  expect_clean(log.text(), {secret}, "the log");
}

// The bearer token, through LakebaseCredentials with a personal access token:
// the credential endpoint echoes it in every encoding.
TEST(HttpScrub, EveryEncodingOfTheBearerTokenEchoedIsScrubbed) {
  const std::string token = "dapi-echo-" + FakeWorkspace::random_suffix();
  register_secret(token);
  std::atomic<std::size_t> variant{0};
  Echoed sent;
  EchoServer server([&](const httplib::Request& req, httplib::Response& res) {
    const std::string header = req.get_header_value("Authorization");
    const std::string bearer = header.substr(std::string("Bearer ").size());
    const auto encodings = encodings_of(bearer, header);
    sent.add(encodings.at(variant));
    res.status = 403;
    res.set_content(nlohmann::json{{"error_code", "PERMISSION_DENIED"},
                                   {"message", "token " + encodings.at(variant).second}}
                        .dump(),
                    "application/json");
  });
  const LogCapture log;
  LakebaseCredentials::Options options;
  options.workspace_url = server.url();
  options.endpoint = "projects/p/branches/b/endpoints/e";
  options.workspace_token = std::make_shared<PersonalAccessToken>(Secret(token));
  LakebaseCredentials credentials(std::move(options));

  const std::size_t count = encodings_of(token, "Bearer " + token).size();
  for (std::size_t i = 0; i < count; ++i) {
    variant = i;
    const std::string what = credential_error_of([&] { (void)credentials.get(); });
    const auto echoed = sent.all();
    ASSERT_EQ(echoed.size(), i + 1);
    const auto& [name, encoded] = echoed.back();
    SCOPED_TRACE(name);
    EXPECT_THAT(what, AllOf(HasSubstr("PERMISSION_DENIED: token "), Not(HasSubstr(encoded))));
    expect_clean(what, {token}, name);
  }
  expect_clean(log.text(), {token}, "the log");
}

// scrub_secrets() on its own, for random secrets of every byte value, each
// encoding embedded in surrounding text: the guard's independent decoder
// finds nothing afterwards, and text around the secret survives.
TEST(ScrubSecrets, EveryEncodingOfRandomSecretsInsideOtherText) {
  std::mt19937 random(20261201);
  for (int round = 0; round < 60; ++round) {
    // Valid UTF-8 (a JSON string holds nothing else): ASCII of every kind,
    // control characters included, and two-, three- and four-byte characters.
    static const std::vector<std::string> kPieces = {"\x01",
                                                     "\t",
                                                     "\n",
                                                     "\"",
                                                     "\\",
                                                     "/",
                                                     "+",
                                                     "%",
                                                     "&",
                                                     "=",
                                                     ":",
                                                     " ",
                                                     "~",
                                                     "\x7f",
                                                     "\xc3\xa9",
                                                     "\xe2\x82\xac",
                                                     "\xf0\x9f\x98\x80"};
    std::string secret;
    const std::size_t length = 8 + random() % 40;
    for (std::size_t i = 0; i < length; ++i) {
      const auto pick = random() % 100;
      if (pick < 70) {
        secret += static_cast<char>('0' + random() % 75);
      } else {
        secret += kPieces[random() % kPieces.size()];
      }
    }
    const std::string carrier = "client-" + std::to_string(round) + ":" + secret;
    for (const auto& [name, encoded] : encodings_of(secret, carrier)) {
      SCOPED_TRACE(name + ", round " + std::to_string(round));
      const std::string text = "before [" + encoded + "] after";
      const std::string scrubbed = detail::scrub_secrets(text, {secret, carrier});
      EXPECT_THAT(scrubbed, AllOf(HasSubstr("before ["), HasSubstr("] after"), HasSubstr("***")));
      for (const auto& view : decoded_views(scrubbed)) {
        EXPECT_EQ(view.find(secret), std::string::npos) << scrubbed;
      }
    }
  }
}

TEST(ScrubSecrets, LeavesTextWithoutTheSecretAlone) {
  const std::string text = "INVALID_CLIENT: abc%20def \\u00e9 QUJD+/== plain words";
  EXPECT_EQ(detail::scrub_secrets(text, {"a-secret-not-in-the-text"}), text);
  EXPECT_EQ(detail::scrub_secrets(text, {""}), text);
  EXPECT_EQ(detail::scrub_secrets("x *** y", {"***"}), "x *** y");
}

}  // namespace
}  // namespace pgobo::test
