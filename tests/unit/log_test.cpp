#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "pgobo/log.hpp"

namespace {

TEST(Log, DefaultLoggerIsNamedPgobo) {
  ASSERT_NE(pgobo::logger(), nullptr);
  EXPECT_EQ(pgobo::logger()->name(), "pgobo");
}

TEST(Log, ReplacementReceivesLibraryLinesAndNullRestoresDefault) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  pgobo::set_logger(std::make_shared<spdlog::logger>("app-pgobo", sink));
  pgobo::logger()->warn("hello {}", 42);
  EXPECT_NE(captured.str().find("hello 42"), std::string::npos);

  pgobo::set_logger(nullptr);
  EXPECT_EQ(pgobo::logger()->name(), "pgobo");
}

}  // namespace
