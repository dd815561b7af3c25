#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <array>
#include <map>
#include <sstream>
#include <string>

#include "pgobo/identity.hpp"
#include "pgobo/log.hpp"
#include "pgobo/secret.hpp"

namespace {

constexpr const char* kToken = "dapi-0123456789abcdef";

TEST(Secret, RevealReturnsTheValue) {
  const pgobo::Secret secret{kToken};
  EXPECT_EQ(secret.reveal(), kToken);
  EXPECT_FALSE(secret.empty());
}

TEST(Secret, DefaultIsEmpty) { EXPECT_TRUE(pgobo::Secret{}.empty()); }

TEST(Secret, StreamPrintsRedacted) {
  std::ostringstream out;
  out << pgobo::Secret{kToken};
  EXPECT_EQ(out.str(), "***");
}

TEST(Secret, FmtPrintsRedactedWhateverTheFormatSpec) {
  const pgobo::Secret secret{kToken};
  EXPECT_EQ(fmt::format("{}", secret), "***");
  EXPECT_EQ(fmt::format("{:>5}", secret), "  ***");
  EXPECT_EQ(fmt::format("{:.1}", secret), "*");
}

TEST(Secret, ToStringIsRedacted) { EXPECT_EQ(to_string(pgobo::Secret{kToken}), "***"); }

TEST(Secret, SpdlogLinePrintsRedacted) {
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "secret-test", std::make_shared<spdlog::sinks::ostream_sink_st>(captured));
  logger->info("token={}", pgobo::Secret{kToken});
  EXPECT_NE(captured.str().find("token=***"), std::string::npos);
  EXPECT_EQ(captured.str().find(kToken), std::string::npos);
}

TEST(Secret, MovedFromIsEmpty) {
  pgobo::Secret source{kToken};
  const pgobo::Secret target{std::move(source)};
  EXPECT_EQ(target.reveal(), kToken);
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, MoveAssignedFromIsEmpty) {
  pgobo::Secret source{kToken};
  pgobo::Secret target{"old"};
  target = std::move(source);
  EXPECT_EQ(target.reveal(), kToken);
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, CopiesCompareEqual) {
  const pgobo::Secret original{kToken};
  const pgobo::Secret copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy, original);
  EXPECT_NE(copy, pgobo::Secret{"other"});
}

TEST(Secret, SecureWipeZeroesTheBuffer) {
  std::array<char, 8> buffer{'s', 'e', 'c', 'r', 'e', 't', '!', '!'};
  pgobo::detail::secure_wipe(buffer.data(), buffer.size());
  EXPECT_EQ(buffer, (std::array<char, 8>{}));
}

TEST(Secret, StringParameterIsWipedAfterConstruction) {
  // A short string lives in the parameter's inline buffer; Secret clears it.
  std::string short_token = "tok";
  const pgobo::Secret secret{std::move(short_token)};
  EXPECT_EQ(secret.reveal(), "tok");
  EXPECT_TRUE(short_token.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, UserContextPrintsNoToken) {
  const auto user = pgobo::make_user_context("u1", "alice@example.com", kToken);
  std::ostringstream out;
  out << user;
  EXPECT_EQ(out.str().find(kToken), std::string::npos);
  EXPECT_EQ(fmt::format("{}", user).find(kToken), std::string::npos);
  EXPECT_NE(out.str().find("alice@example.com"), std::string::npos);
}

TEST(Secret, UserContextThroughSpdlogPrintsNoToken) {
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "secret-test", std::make_shared<spdlog::sinks::ostream_sink_st>(captured));
  const auto user = pgobo::make_user_context("u1", "alice@example.com", kToken);
  logger->info("acting for {} with {}", user, user.access_token());
  EXPECT_EQ(captured.str().find(kToken), std::string::npos);
  EXPECT_NE(captured.str().find(user.token_fingerprint()), std::string::npos);
}

TEST(Secret, ExceptionTextNeverHoldsTheToken) {
  // A token smuggled into a header value with a line break: the error names
  // the header, not the value.
  const std::string injected = std::string(kToken) + "\r\nx-evil: 1";
  const std::map<std::string, std::string> request{{"x-forwarded-access-token", injected},
                                                   {"x-forwarded-user", "u1"}};
  try {
    (void)pgobo::user_context_from_headers(request);
    FAIL() << "expected AuthenticationError";
  } catch (const pgobo::AuthenticationError& e) {
    EXPECT_EQ(std::string(e.what()).find(kToken), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("x-forwarded-access-token"), std::string::npos);
  }
}

}  // namespace
