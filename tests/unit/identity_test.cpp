#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"

namespace {

// Every UserContext is valid: no empty one can be made, and none changed.
static_assert(!std::is_default_constructible_v<pgobo::UserContext>);
static_assert(
    std::is_same_v<decltype(std::declval<pgobo::UserContext&>().user_id()), const std::string&>);
static_assert(
    std::is_same_v<decltype(std::declval<pgobo::UserContext&>().key()), const std::string&>);

// Fingerprints are the first 16 hex digits of the FIPS 180-2 / NIST vectors.
TEST(Fingerprint, MatchesSha256OfAbc) {
  EXPECT_EQ(pgobo::token_fingerprint_of(pgobo::Secret{"abc"}), "ba7816bf8f01cfea");
}

TEST(Fingerprint, MatchesSha256OfTwoBlockMessage) {
  const pgobo::Secret message{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
  EXPECT_EQ(pgobo::token_fingerprint_of(message), "248d6a61d20638b8");
}

TEST(Fingerprint, MatchesSha256OfOneMillionAs) {
  EXPECT_EQ(pgobo::token_fingerprint_of(pgobo::Secret{std::string(1'000'000, 'a')}),
            "cdc76e5c9914fb92");
}

TEST(Fingerprint, MatchesSha256OfEmptyInput) {
  EXPECT_EQ(pgobo::token_fingerprint_of(pgobo::Secret{}), "e3b0c44298fc1c14");
}

TEST(Fingerprint, IsSixteenLowercaseHexDigits) {
  const auto fingerprint = pgobo::token_fingerprint_of(pgobo::Secret{"dapi-XYZ"});
  ASSERT_EQ(fingerprint.size(), 16U);
  for (const char c : fingerprint) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << fingerprint;
  }
}

TEST(UserContext, HoldsTheFingerprintOfItsToken) {
  const auto user = pgobo::make_user_context("u1", "", "abc");
  EXPECT_EQ(user.token_fingerprint(), "ba7816bf8f01cfea");
  EXPECT_EQ(user.access_token().reveal(), "abc");
}

TEST(UserContext, DifferentTokensHaveDifferentFingerprints) {
  const auto first = pgobo::make_user_context("u1", "", "token-1");
  const auto second = pgobo::make_user_context("u1", "", "token-2");
  EXPECT_NE(first.token_fingerprint(), second.token_fingerprint());
}

TEST(UserContext, KeyIsTheEmailWhenPresent) {
  const auto user = pgobo::make_user_context("1234", "alice@example.com", "t");
  EXPECT_EQ(user.key(), "alice@example.com");
}

TEST(UserContext, KeyIsTheUserIdWithoutEmail) {
  const auto user = pgobo::make_user_context("1234", "", "t");
  EXPECT_EQ(user.key(), "1234");
}

TEST(UserContext, KeyIsTheEmailWithoutUserId) {
  const auto user = pgobo::make_user_context("", "alice@example.com", "t");
  EXPECT_EQ(user.key(), "alice@example.com");
}

TEST(UserContext, KeyRefersToAFieldWithoutCopying) {
  const auto user = pgobo::make_user_context("1234", "alice@example.com", "t");
  EXPECT_EQ(&user.key(), &user.email());
}

TEST(UserContext, KeepsEveryField) {
  const auto user = pgobo::make_user_context("1234", "alice@example.com", pgobo::Secret{"t"},
                                             std::string("alice"));
  EXPECT_EQ(user.user_id(), "1234");
  EXPECT_EQ(user.email(), "alice@example.com");
  EXPECT_EQ(user.preferred_username(), "alice");
  EXPECT_EQ(user.access_token().reveal(), "t");
}

TEST(UserContext, PreferredUsernameIsOptional) {
  EXPECT_FALSE(pgobo::make_user_context("1234", "", "t").preferred_username().has_value());
}

TEST(UserContext, RejectsEmptyToken) {
  EXPECT_THROW((void)pgobo::make_user_context("1234", "alice@example.com", ""),
               pgobo::AuthenticationError);
}

TEST(UserContext, RejectsEmptyUserIdWithEmptyEmail) {
  EXPECT_THROW((void)pgobo::make_user_context("", "", "t"), pgobo::AuthenticationError);
}

TEST(UserContext, RejectionMessageNamesTheMissingToken) {
  try {
    (void)pgobo::make_user_context("1234", "", "");
    FAIL() << "expected AuthenticationError";
  } catch (const pgobo::AuthenticationError& e) {
    EXPECT_NE(std::string(e.what()).find("missing user token"), std::string::npos);
  }
}

TEST(UserContext, CopiesCompareEqualAndKeepTheirFingerprint) {
  const auto user = pgobo::make_user_context("1234", "alice@example.com", "t");
  const pgobo::UserContext copy = user;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy, user);
  EXPECT_EQ(copy.token_fingerprint(), user.token_fingerprint());
}

}  // namespace
