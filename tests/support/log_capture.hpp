// LogCapture: routes pgobo's logger into a string for the lifetime of the
// object, then restores the default logger (set_logger(nullptr)). The one way
// a test reads what pgobo logged; the secret guard (secret_guard.hpp) keeps
// watching every line meanwhile.
//
//   const LogCapture log;                     // trace level: every line
//   const LogCapture log(spdlog::level::info); // what a default logger would print
//   ... EXPECT_THAT(log.text(), HasSubstr("[warning]"));
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pgobo/log.hpp"

namespace pgobo::test {

class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level = spdlog::level::trace) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    auto capturing = std::make_shared<spdlog::logger>("pgobo", std::move(sink));
    capturing->set_level(level);
    capturing->flush_on(spdlog::level::trace);
    pgobo::set_logger(std::move(capturing));
  }
  ~LogCapture() { pgobo::set_logger(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Everything logged so far.
  [[nodiscard]] std::string text() const {
    pgobo::logger()->flush();
    return stream_.str();
  }

  // text(), a line each.
  [[nodiscard]] std::vector<std::string> lines() const {
    std::vector<std::string> result;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);) result.push_back(line);
    return result;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace pgobo::test
