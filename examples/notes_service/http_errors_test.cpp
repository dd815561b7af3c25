// The notes service's answers to each kind of failure.
#include "http_errors.hpp"

#include <gtest/gtest.h>
#include <pgobo/errors.hpp>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

namespace notes {
namespace {

template <class E>
HttpError answer_to(E error, bool acting_for_user = true) {
  return http_error_of(std::make_exception_ptr(std::move(error)), acting_for_user);
}

TEST(HttpErrors, AMissingIdentityIs401WithTheReason) {
  const HttpError e = answer_to(pgobo::AuthenticationError("missing user token"), false);
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.code, "unauthenticated");
  EXPECT_EQ(e.message, "missing user token");
}

TEST(HttpErrors, AKeyBoundToAnotherIdentityIs403) {
  const HttpError e = answer_to(pgobo::IdentityConflict("another identity"), true);
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.code, "identity_conflict");
}

TEST(HttpErrors, APoolThatStayedFullIs503WithRetryAfter) {
  const HttpError e = answer_to(pgobo::AcquireTimeout("pool 'user:alice@example.com': ..."));
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.code, "pool_exhausted");
  ASSERT_TRUE(e.retry_after.has_value());
  EXPECT_EQ(e.retry_after->count(), 1);
  // Server internals (here a user's pool name) stay in the log.
  EXPECT_EQ(e.message.find("alice"), std::string::npos);
  EXPECT_NE(e.detail.find("alice"), std::string::npos);
}

TEST(HttpErrors, ConnectErrorsAre503) {
  EXPECT_EQ(answer_to(pgobo::ServerUnavailable("refused")).status, 503);
  EXPECT_EQ(answer_to(pgobo::TooManyConnections("too many clients")).status, 503);
  EXPECT_EQ(answer_to(pgobo::ConnectError("other")).status, 503);
  EXPECT_TRUE(answer_to(pgobo::ServerUnavailable("refused")).retry_after.has_value());
}

TEST(HttpErrors, ARefusedLoginIsTheUsersProblemOnlyForAUser) {
  EXPECT_EQ(answer_to(pgobo::AuthenticationFailed("password authentication failed"), true).status,
            401);
  EXPECT_EQ(answer_to(pgobo::AuthenticationFailed("password authentication failed"), false).status,
            503);
}

TEST(HttpErrors, ARoleThatBypassesRlsIs403) {
  const HttpError e = answer_to(pgobo::UnsafeRole("role alice@example.com is a superuser"));
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.code, "unsafe_role");
}

TEST(HttpErrors, ARefusedStatementAndABadRequestAre400) {
  EXPECT_EQ(answer_to(pgobo::SqlPolicyError("only SELECT")).status, 400);
  EXPECT_EQ(answer_to(BadRequest("expected JSON")).status, 400);
}

TEST(HttpErrors, ARowLevelSecurityRefusalIs403) {
  const HttpError e = answer_to(pqxx::insufficient_privilege(
      "ERROR:  new row violates row-level security policy for table \"notes\"", "INSERT"));
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.code, "forbidden");
}

TEST(HttpErrors, OtherSqlErrorsAre500WithoutTheServersText) {
  const HttpError e =
      answer_to(pqxx::sql_error("ERROR:  duplicate key value (id)=(42)", "INSERT", "23505"));
  EXPECT_EQ(e.status, 500);
  EXPECT_EQ(e.message.find("42"), std::string::npos);
  EXPECT_NE(e.message.find("23505"), std::string::npos);
}

TEST(HttpErrors, ClosingAndMisconfigurationAndTheRest) {
  EXPECT_EQ(answer_to(pgobo::PoolClosed("closed")).status, 503);
  EXPECT_EQ(answer_to(pgobo::CredentialError("HTTP 500")).status, 503);
  EXPECT_EQ(answer_to(pgobo::ConfigError("PGHOST")).status, 500);
  EXPECT_EQ(answer_to(std::runtime_error("boom")).status, 500);
  EXPECT_EQ(answer_to(42).status, 500);
}

TEST(HttpErrors, TheBodyIsJsonWithCodeAndMessage) {
  const auto body = nlohmann::json::parse(to_json_body(answer_to(BadRequest("no body"))));
  EXPECT_EQ(body["error"]["code"], "bad_request");
  EXPECT_EQ(body["error"]["message"], "no body");
}

}  // namespace
}  // namespace notes
