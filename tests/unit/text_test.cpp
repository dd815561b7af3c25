// src/text.hpp: the checks and excerpts every message about untrusted text
// goes through.
#include <gtest/gtest.h>

#include <charconv>
#include <locale>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "text.hpp"

namespace {

using pgobo::detail::has_control_character;
using pgobo::detail::printable_excerpt;

// A control byte at every position of texts around the 32-byte chunks the
// check reads at once: found wherever it is, and only then.
TEST(HasControlCharacter, FindsAControlByteAtEveryPositionAroundTheChunks) {
  for (const std::size_t length : {1U, 31U, 32U, 33U, 63U, 64U, 65U, 100U}) {
    const std::string clean(length, 'x');
    EXPECT_FALSE(has_control_character(clean, "")) << length;
    for (std::size_t at = 0; at < length; ++at) {
      for (const char control : {'\0', '\r', '\n', '\x1f', '\x7f'}) {
        std::string text = clean;
        text[at] = control;
        EXPECT_TRUE(has_control_character(text, "")) << "length " << length << " at " << at;
      }
    }
  }
}

TEST(HasControlCharacter, AllowedControlsPassAndOthersBesideThemDoNot) {
  std::string text(70, 'x');
  text[40] = '\t';
  EXPECT_FALSE(has_control_character(text, "\t"));
  EXPECT_TRUE(has_control_character(text, ""));
  text[65] = '\n';  // after an allowed one, in the byte-by-byte part
  EXPECT_TRUE(has_control_character(text, "\t"));
}

TEST(HasControlCharacter, BytesAboveAsciiAreNotControls) {
  EXPECT_FALSE(has_control_character(std::string(64, '\xc3'), ""));
  EXPECT_FALSE(has_control_character("", ""));
}

TEST(PrintableExcerpt, ReplacesNonPrintableBytesAndMarksTheCut) {
  EXPECT_EQ(printable_excerpt("a\nb\xff", 10), "a?b?");
  EXPECT_EQ(printable_excerpt(std::string(70, 'z'), 60), std::string(60, 'z') + "...");
}

}  // namespace

namespace pgobo::detail {
namespace {

TEST(ParseDecimal, ReadsTheNumbersAConfigurationHolds) {
  EXPECT_EQ(parse_decimal("0.25"), 0.25);
  EXPECT_EQ(parse_decimal("-1"), -1.0);
  EXPECT_EQ(parse_decimal(".5"), 0.5);
  EXPECT_EQ(parse_decimal("5."), 5.0);
  EXPECT_EQ(parse_decimal("1e3"), 1000.0);
  EXPECT_EQ(parse_decimal("2.5E-1"), 0.25);
  EXPECT_EQ(parse_decimal("1e+2"), 100.0);
  EXPECT_EQ(parse_decimal("0"), 0.0);
}

TEST(ParseDecimal, RefusesWhatFromCharsRefuses) {
  for (const char* text :
       {"",    "-",  ".",     "-.",  "+1",    " 1",  "1 ",   "1,5", "0x10",  "1e",
        "1e+", "e3", "1.2.3", "--1", "1e3.5", "inf", "-inf", "nan", "1e999", "-1e999"}) {
    EXPECT_EQ(parse_decimal(text), std::nullopt) << '"' << text << '"';
  }
}

// The process's locale must not change what a configuration means: under a
// German locale "0.5" is still one half (and "0,5" still refused).
TEST(ParseDecimal, IgnoresTheGlobalLocale) {
  const std::locale german("de_DE.UTF-8");  // scripts/install-deps installs locales-all
  const std::locale previous = std::locale::global(german);
  const auto half = parse_decimal("0.5");
  const auto comma = parse_decimal("0,5");
  std::locale::global(previous);
  EXPECT_EQ(half, 0.5);
  EXPECT_EQ(comma, std::nullopt);
}

#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
// Where the standard library has it, std::from_chars agrees on every input.
TEST(ParseDecimal, AgreesWithFromChars) {
  for (const char* text : {"0.1", "123456789.987654321", "-0", "1e-5", "3.14159", "1e308",
                           "0.000001", "42", "-7.5e2", "9007199254740993"}) {
    const std::string_view view{text};
    double expected = 0;
    const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), expected);
    ASSERT_EQ(error, std::errc());
    ASSERT_EQ(end, view.data() + view.size());
    EXPECT_EQ(parse_decimal(view), expected) << text;
  }
}
#endif

}  // namespace
}  // namespace pgobo::detail
