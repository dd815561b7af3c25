// src/text.hpp: the checks and excerpts every message about untrusted text
// goes through.
#include <gtest/gtest.h>

#include <string>

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
