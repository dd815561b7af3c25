#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log_capture.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/log.hpp"

namespace {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kToken = "dapi-secret-token";

// One row of the header table: the request's headers, whether the development
// fallback is on, and what must come out: a context, no context, or an error.
struct HeaderCase {
  std::string name;
  HeaderList headers;
  bool fallback = false;
  bool require_user_id = true;  // HeaderOptions' default
  enum class Outcome { kContext, kNoContext, kError } outcome = Outcome::kContext;
  std::string user_id;
  std::string email;
  std::optional<std::string> preferred_username;
  std::string token = kToken;
  std::string error;  // a substring of the AuthenticationError message
};

using Outcome = HeaderCase::Outcome;

HeaderCase context(std::string name, HeaderList headers, std::string user_id, std::string email,
                   std::optional<std::string> preferred = std::nullopt) {
  HeaderCase c;
  c.name = std::move(name);
  c.headers = std::move(headers);
  c.user_id = std::move(user_id);
  c.email = std::move(email);
  c.preferred_username = std::move(preferred);
  return c;
}

HeaderCase error(std::string name, HeaderList headers, std::string message, bool fallback = false) {
  HeaderCase c;
  c.name = std::move(name);
  c.headers = std::move(headers);
  c.fallback = fallback;
  c.outcome = Outcome::kError;
  c.error = std::move(message);
  return c;
}

// A row run with HeaderOptions::require_user_id = false.
HeaderCase without_user_id_rule(HeaderCase c) {
  c.name += "WhenUserIdIsNotRequired";
  c.require_user_id = false;
  return c;
}

HeaderCase no_context(std::string name, HeaderList headers) {
  HeaderCase c;
  c.name = std::move(name);
  c.headers = std::move(headers);
  c.fallback = true;
  c.outcome = Outcome::kNoContext;
  return c;
}

std::pair<std::string, std::string> token_header() { return {"x-forwarded-access-token", kToken}; }
std::pair<std::string, std::string> user_header() { return {"x-forwarded-user", "1234"}; }
std::pair<std::string, std::string> email_header() {
  return {"x-forwarded-email", "alice@example.com"};
}

std::vector<HeaderCase> header_table() {
  HeaderCase fallback_ignores_present_token =
      context("FallbackOnWithTokenBuildsContext", {token_header(), user_header()}, "1234", "");
  fallback_ignores_present_token.fallback = true;
  HeaderCase trimmed_token = context(
      "TokenIsTrimmed", {{"x-forwarded-access-token", " \tdapi-x \t"}, user_header()}, "1234", "");
  trimmed_token.token = "dapi-x";
  return {
      context("AllHeadersPresent",
              {token_header(),
               user_header(),
               email_header(),
               {"x-forwarded-preferred-username", "alice"}},
              "1234", "alice@example.com", "alice"),
      context("TokenAndUserOnly", {token_header(), user_header()}, "1234", ""),
      // Issue 16, item 7: the user id is required unless relaxed (AppKit's
      // rule: the Apps proxy always sends it).
      error("TokenAndEmailOnly", {token_header(), email_header()},
            "missing user id (header x-forwarded-user)"),
      error("EmptyUserWithEmail", {token_header(), {"x-forwarded-user", ""}, email_header()},
            "missing user id"),
      error("WhitespaceUserWithEmail",
            {token_header(), {"x-forwarded-user", " \t"}, email_header()}, "missing user id"),
      error("EmailOnlyWithFallback", {token_header(), email_header()}, "missing user id", true),
      without_user_id_rule(
          context("TokenAndEmailOnly", {token_header(), email_header()}, "", "alice@example.com")),
      without_user_id_rule(context("EmptyUserWithEmail",
                                   {token_header(), {"x-forwarded-user", ""}, email_header()}, "",
                                   "alice@example.com")),
      context("WhitespaceEmailWithUser",
              {token_header(), user_header(), {"x-forwarded-email", "  \t "}}, "1234", ""),
      context("EmptyEmailWithUser", {token_header(), user_header(), {"x-forwarded-email", ""}},
              "1234", ""),
      without_user_id_rule(context("WhitespaceUserWithEmail",
                                   {token_header(), {"x-forwarded-user", " \t"}, email_header()},
                                   "", "alice@example.com")),
      without_user_id_rule(error("TokenOnly", {token_header()}, "missing user identity")),
      context("WhitespacePreferredUsernameIsAbsent",
              {token_header(), user_header(), {"x-forwarded-preferred-username", "  "}}, "1234",
              ""),
      context("EmptyPreferredUsernameIsAbsent",
              {token_header(), user_header(), {"x-forwarded-preferred-username", ""}}, "1234", ""),
      context("ValuesAreTrimmed",
              {token_header(),
               {"x-forwarded-user", "  1234\t"},
               {"x-forwarded-email", "\t alice@example.com  "},
               {"x-forwarded-preferred-username", " alice "}},
              "1234", "alice@example.com", "alice"),
      trimmed_token,
      context("UpperCaseNamesMatch",
              {{"X-FORWARDED-ACCESS-TOKEN", kToken},
               {"X-FORWARDED-USER", "1234"},
               {"X-FORWARDED-EMAIL", "alice@example.com"},
               {"X-FORWARDED-PREFERRED-USERNAME", "alice"}},
              "1234", "alice@example.com", "alice"),
      context("MixedCaseNamesMatch",
              {{"X-Forwarded-Access-Token", kToken}, {"X-Forwarded-User", "1234"}}, "1234", ""),
      context("UnrelatedHeadersAreIgnored",
              {{"host", "app.example.com"},
               token_header(),
               {"x-forwarded-for", "10.0.0.1"},
               user_header()},
              "1234", ""),
      context("RepeatedHeaderWithSameValueIsAccepted",
              {token_header(), user_header(), user_header()}, "1234", ""),
      context("InnerTabIsKept", {token_header(), {"x-forwarded-user", "a\tb"}}, "a\tb", ""),
      context("Utf8IsKept",
              {token_header(), user_header(), {"x-forwarded-email", "zoë@example.com"}}, "1234",
              "zoë@example.com"),
      fallback_ignores_present_token,

      error("TokenMissing", {user_header(), email_header()}, "missing user token"),
      error("TokenEmpty", {{"x-forwarded-access-token", ""}, user_header()}, "missing user token"),
      error("TokenWhitespace", {{"x-forwarded-access-token", " \t "}, user_header()},
            "missing user token"),
      error("NoHeadersAtAll", {}, "missing user token"),
      error("UserAndEmailMissing", {token_header()}, "missing user identity"),
      error("UserAndEmailEmpty",
            {token_header(), {"x-forwarded-user", ""}, {"x-forwarded-email", " "}},
            "missing user identity"),
      error("UserAndEmailMissingEvenWithFallback", {token_header()}, "missing user identity", true),
      error("CarriageReturnInUser", {token_header(), {"x-forwarded-user", "1234\rx"}},
            "x-forwarded-user contains a control character"),
      error(
          "LineFeedInEmail",
          {token_header(), user_header(), {"x-forwarded-email", "a@b.c\nx-forwarded-user: admin"}},
          "x-forwarded-email contains a control character"),
      error("CrLfInToken", {{"x-forwarded-access-token", "dapi\r\nx"}, user_header()},
            "x-forwarded-access-token contains a control character"),
      error("NulInUser",
            {token_header(),
             {"x-forwarded-user", std::string("12\0"
                                              "34",
                                              5)}},
            "x-forwarded-user contains a control character"),
      error("CrLfInPreferredUsername",
            {token_header(), user_header(), {"x-forwarded-preferred-username", "a\r\nb"}},
            "x-forwarded-preferred-username contains a control character"),
      error("TrailingLineFeedIsNotTrimmedAway", {token_header(), {"x-forwarded-user", "1234\n"}},
            "control character"),
      error("InjectionRejectedEvenWithFallback", {{"x-forwarded-user", "1234\r\n"}},
            "control character", true),
      error("RepeatedUserWithDifferentValues",
            {token_header(), user_header(), {"X-Forwarded-User", "admin"}},
            "x-forwarded-user is repeated"),
      error("RepeatedTokenWithDifferentValues",
            {token_header(), {"x-forwarded-access-token", "other"}, user_header()},
            "x-forwarded-access-token is repeated"),

      no_context("TokenMissingWithFallback", {user_header(), email_header()}),
      no_context("TokenEmptyWithFallback", {{"x-forwarded-access-token", ""}, user_header()}),
      no_context("NoHeadersWithFallback", {}),
  };
}

class HeaderTable : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(HeaderTable, GivesTheExpectedOutcome) {
  const HeaderCase& c = GetParam();
  pgobo::HeaderOptions options;
  options.allow_development_fallback = c.fallback;
  options.require_user_id = c.require_user_id;
  switch (c.outcome) {
    case Outcome::kContext: {
      const auto user = pgobo::user_context_from_headers(c.headers, options);
      ASSERT_TRUE(user.has_value());
      EXPECT_EQ(user->user_id(), c.user_id);
      EXPECT_EQ(user->email(), c.email);
      EXPECT_EQ(user->preferred_username(), c.preferred_username);
      EXPECT_EQ(user->access_token().reveal(), c.token);
      break;
    }
    case Outcome::kNoContext:
      EXPECT_EQ(pgobo::user_context_from_headers(c.headers, options), std::nullopt);
      break;
    case Outcome::kError:
      try {
        (void)pgobo::user_context_from_headers(c.headers, options);
        ADD_FAILURE() << "expected AuthenticationError containing \"" << c.error << '"';
      } catch (const pgobo::AuthenticationError& e) {
        EXPECT_NE(std::string(e.what()).find(c.error), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find(kToken), std::string::npos) << e.what();
      }
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Headers, HeaderTable, ::testing::ValuesIn(header_table()),
                         [](const ::testing::TestParamInfo<HeaderCase>& row) {
                           return row.param.name;
                         });

// ---------------------------------------------------------------------------
// Lookup callables: any HTTP library's way of reading one header.

TEST(HeaderLookup, AsksForTheLowercaseHeaderNames) {
  std::vector<std::string> asked;
  (void)pgobo::user_context_from_headers([&](std::string_view name) -> std::optional<std::string> {
    asked.emplace_back(name);
    if (name == "x-forwarded-access-token") return kToken;
    if (name == "x-forwarded-user") return "1234";
    return std::nullopt;
  });
  EXPECT_EQ(asked,
            (std::vector<std::string>{"x-forwarded-access-token", "x-forwarded-user",
                                      "x-forwarded-email", "x-forwarded-preferred-username"}));
}

TEST(HeaderLookup, AcceptsOptionalStringView) {
  const std::map<std::string, std::string, std::less<>> request{
      {"x-forwarded-access-token", kToken}, {"x-forwarded-user", "1234"}};
  const auto user = pgobo::user_context_from_headers(
      [&](std::string_view name) -> std::optional<std::string_view> {
        const auto it = request.find(name);
        if (it == request.end()) return std::nullopt;
        return it->second;
      });
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->key(), "1234");
}

TEST(HeaderLookup, AcceptsPointerToStringWithNullForAbsent) {
  const std::map<std::string, std::string, std::less<>> request{
      {"x-forwarded-access-token", kToken},
      {"x-forwarded-user", "1234"},
      {"x-forwarded-email", "alice@example.com"}};
  const auto user = pgobo::user_context_from_headers([&](std::string_view name) {
    const auto it = request.find(name);
    return it == request.end() ? nullptr : &it->second;
  });
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->key(), "alice@example.com");
}

TEST(HeaderLookup, AcceptsCStringWithNullForAbsent) {
  const auto user = pgobo::user_context_from_headers([](std::string_view name) -> const char* {
    if (name == "x-forwarded-access-token") return kToken;
    if (name == "x-forwarded-user") return "1234";
    return nullptr;
  });
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->user_id(), "1234");
}

TEST(HeaderLookup, AcceptsPlainStringWithEmptyForAbsent) {
  const auto user = pgobo::user_context_from_headers([](std::string_view name) -> std::string {
    if (name == "x-forwarded-access-token") return kToken;
    if (name == "x-forwarded-user") return "1234";
    return {};
  });
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->access_token().reveal(), kToken);
}

// ---------------------------------------------------------------------------
// The development fallback's warning.

class FallbackLog : public ::testing::Test {
 protected:
  void SetUp() override { pgobo::logger()->set_pattern("%l %v"); }

  [[nodiscard]] std::vector<std::string> lines() const { return log_.lines(); }

  const pgobo::test::LogCapture log_{spdlog::level::info};  // what the default logger would print
};

TEST_F(FallbackLog, MissingTokenWithFallbackLogsOneWarning) {
  pgobo::HeaderOptions options;
  options.allow_development_fallback = true;
  (void)pgobo::user_context_from_headers(HeaderList{user_header()}, options);
  const auto logged = lines();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_EQ(logged[0].rfind("warning ", 0), 0U) << logged[0];
  EXPECT_NE(logged[0].find("service principal"), std::string::npos) << logged[0];
}

TEST_F(FallbackLog, WarningNamesNoHeaderValue) {
  pgobo::HeaderOptions options;
  options.allow_development_fallback = true;
  (void)pgobo::user_context_from_headers(
      HeaderList{{"x-forwarded-user", "user-1234"}, {"x-forwarded-email", "alice@example.com"}},
      options);
  EXPECT_EQ(log_.text().find("user-1234"), std::string::npos);
  EXPECT_EQ(log_.text().find("alice@example.com"), std::string::npos);
}

TEST_F(FallbackLog, PresentTokenLogsNothing) {
  pgobo::HeaderOptions options;
  options.allow_development_fallback = true;
  (void)pgobo::user_context_from_headers(HeaderList{token_header(), user_header()}, options);
  EXPECT_TRUE(log_.text().empty()) << log_.text();
}

TEST_F(FallbackLog, FallbackOffLogsNothingAndThrows) {
  EXPECT_THROW((void)pgobo::user_context_from_headers(HeaderList{user_header()}),
               pgobo::AuthenticationError);
  EXPECT_TRUE(log_.text().empty()) << log_.text();
}

}  // namespace
