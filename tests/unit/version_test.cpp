#include <gtest/gtest.h>

#include "pgobo/version.hpp"

namespace {

// The header's version and CMake's project version are written in two
// places; this keeps them from drifting apart.
TEST(Version, HeaderMatchesCMakeProjectVersion) {
  EXPECT_STREQ(PGOBO_VERSION_STRING, PGOBO_CMAKE_PROJECT_VERSION);
  EXPECT_STREQ(pgobo::version_string, PGOBO_CMAKE_PROJECT_VERSION);
}

}  // namespace
