// RFC 3339 times as the Lakebase credential API returns them in expire_time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "pgobo/errors.hpp"
#include "rfc3339.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::detail::format_rfc3339;
using pgobo::detail::parse_rfc3339;

// 2026-11-26T21:17:26Z, built without the parser under test.
const auto kBase = std::chrono::sys_days{2026y / 11 / 26} + 21h + 17min + 26s;

TEST(Rfc3339, ParsesUtcWithoutFraction) {
  EXPECT_EQ(parse_rfc3339("2026-11-26T21:17:26Z", "t"), kBase);
}

TEST(Rfc3339, ParsesFractionalSeconds) {
  EXPECT_EQ(parse_rfc3339("2026-11-26T21:17:26.5Z", "t"), kBase + 500ms);
  EXPECT_EQ(parse_rfc3339("2026-11-26T21:17:26.123456Z", "t"), kBase + 123456us);
}

TEST(Rfc3339, TruncatesDigitsBeyondNanoseconds) {
  EXPECT_EQ(parse_rfc3339("2026-11-26T21:17:26.1234567899Z", "t"),
            kBase + std::chrono::duration_cast<std::chrono::system_clock::duration>(123456789ns));
}

TEST(Rfc3339, AppliesPositiveAndNegativeOffsets) {
  EXPECT_EQ(parse_rfc3339("2026-11-26T22:47:26+01:30", "t"), kBase);
  EXPECT_EQ(parse_rfc3339("2026-11-26T16:17:26.000-05:00", "t"), kBase);
}

TEST(Rfc3339, OffsetCanCrossADateBoundary) {
  EXPECT_EQ(parse_rfc3339("2026-11-27T06:17:26+09:00", "t"), kBase);
}

TEST(Rfc3339, AcceptsLowercaseTAndZ) {
  EXPECT_EQ(parse_rfc3339("2026-11-26t21:17:26z", "t"), kBase);
}

TEST(Rfc3339, LeapSecondCountsAsTheLastSecondOfTheMinute) {
  EXPECT_EQ(parse_rfc3339("2016-12-31T23:59:60Z", "t"),
            std::chrono::sys_days{2016y / 12 / 31} + 23h + 59min + 59s);
}

TEST(Rfc3339, FormatThenParseRoundTripsToTheMillisecond) {
  const auto t = kBase + 987ms;
  EXPECT_EQ(format_rfc3339(t), "2026-11-26T21:17:26.987Z");
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t), "t"), t);
}

class Rfc3339Garbage : public ::testing::TestWithParam<std::string> {};

TEST_P(Rfc3339Garbage, IsACredentialErrorNamingTheField) {
  try {
    (void)parse_rfc3339(GetParam(), "expire_time");
    FAIL() << "accepted '" << GetParam() << "'";
  } catch (const pgobo::CredentialError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("expire_time is not an RFC 3339 time"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rejected, Rfc3339Garbage,
    ::testing::Values("", "garbage", "2026-11-26", "2026-11-26T21:17:26",  // no zone
                      "2026-11-26 21:17:26Z",                              // space separator
                      "2026-11-26T21:17Z", "2026-11-26T21:17:26.Z", "2026-11-26T21:17:26+0100",
                      "2026-11-26T21:17:26+01", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                      "2026-11-31T00:00:00Z", "2026-11-26T24:00:00Z", "2026-11-26T21:60:00Z",
                      "2026-11-26T21:17:61Z", "2026-11-26T21:17:26+24:00",
                      "2026-11-26T21:17:26+01:60", "2026-11-26T21:17:26Zjunk", "26-11-26T21:17:26Z",
                      "1764191846", "２026-11-26T21:17:26Z"));

// system_clock counts nanoseconds in 64 bits (years 1677 to 2262): a far
// year must be refused, not overflow (found by the credential_json fuzzer).
TEST(Rfc3339, YearsAClockCannotHoldAreRefused) {
  for (const char* text : {"9099-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                           "1600-01-01T00:00:00Z"}) {
    SCOPED_TRACE(text);
    try {
      (void)parse_rfc3339(text, "expire_time");
      FAIL() << "accepted";
    } catch (const pgobo::CredentialError& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("year outside 1970 to 2200"));
    }
  }
  EXPECT_NO_THROW((void)parse_rfc3339("2200-12-31T23:59:59Z", "expire_time"));
}

TEST(Rfc3339, MessageQuotesAtMostFortyCharactersOfTheText) {
  const std::string long_text(100, 'x');
  try {
    (void)parse_rfc3339(long_text, "t");
    FAIL();
  } catch (const pgobo::CredentialError& e) {
    EXPECT_THAT(e.what(), ::testing::Not(::testing::HasSubstr(std::string(41, 'x'))));
  }
}

}  // namespace
