// The secret guard: see secret_guard.hpp for what it checks and why it is
// built this way.
#include "secret_guard.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pgobo/log.hpp"

// The linker's --wrap gives the real pgobo::set_logger(std::shared_ptr<
// spdlog::logger>) this name and sends every call of it from the test code to
// the __wrap_ function below (tests/CMakeLists.txt adds the flag). The names
// are the Itanium mangling of that function.
extern "C" {
// NOLINTBEGIN(bugprone-reserved-identifier)
void __real__ZN5pgobo10set_loggerESt10shared_ptrIN6spdlog6loggerEE(
    std::shared_ptr<spdlog::logger> replacement);
void __wrap__ZN5pgobo10set_loggerESt10shared_ptrIN6spdlog6loggerEE(
    std::shared_ptr<spdlog::logger> replacement);
// NOLINTEND(bugprone-reserved-identifier)
}

namespace pgobo::test {
namespace {

// Keeps every line: level and message text only (a test that changes its
// logger's pattern changes this sink's formatter too; the message must stay).
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  [[nodiscard]] std::string text() {
    const std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto level = spdlog::level::to_string_view(msg.level);
    text_.append("[").append(level.data(), level.size()).append("] ");
    text_.append(msg.payload.data(), msg.payload.size());
    text_.push_back('\n');
  }
  void flush_() override {}

 private:
  std::string text_;
};

struct Guard {
  std::shared_ptr<CaptureSink> sink = std::make_shared<CaptureSink>();
  std::shared_ptr<spdlog::logger> logger;

  std::mutex mutex;
  std::set<std::string> secrets;
  std::vector<std::string> bypassed_by;  // tests after which the guard was not installed

  Guard() {
    // As the default logger: stderr at info. Plus the capture at trace.
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_level(spdlog::level::info);
    logger = std::make_shared<spdlog::logger>("pgobo", spdlog::sinks_init_list{sink, console});
    logger->set_level(spdlog::level::trace);
  }
};

// Never destroyed: tests' threads may log while the process exits.
Guard& guard() {
  static Guard* const instance = new Guard();
  return *instance;
}

bool feeds_guard(const spdlog::logger& logger) {
  const auto& sinks = logger.sinks();
  return std::find(sinks.begin(), sinks.end(), guard().sink) != sinks.end();
}

void install_guard_logger() {
  __real__ZN5pgobo10set_loggerESt10shared_ptrIN6spdlog6loggerEE(guard().logger);
}

// FakeWorkspace's tokens: a prefix, optionally "<serial>-", then 24
// characters of its alphabet (FakeWorkspace::random_suffix()).
void find_fake_workspace_tokens(std::string_view text, std::set<std::string>& found) {
  struct Shape {
    std::string_view prefix;
    bool serial;
  };
  static constexpr std::array<Shape, 4> kShapes{{{"dapi-fake-", true},
                                                 {"sp-oauth-fake-", true},
                                                 {"lakebase-db-fake-", true},
                                                 {"fake-client-secret-", false}}};
  static constexpr std::string_view kAlphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::size_t kSuffix = 24;
  for (const auto& shape : kShapes) {
    for (auto at = text.find(shape.prefix); at != std::string_view::npos;
         at = text.find(shape.prefix, at + 1)) {
      std::size_t i = at + shape.prefix.size();
      if (shape.serial) {
        const std::size_t digits = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        if (i == digits || i >= text.size() || text[i] != '-') continue;
        ++i;
      }
      std::size_t n = 0;
      while (n < kSuffix && i + n < text.size() && kAlphabet.find(text[i + n]) != kAlphabet.npos) {
        ++n;
      }
      if (n == kSuffix) found.insert(std::string(text.substr(at, i + kSuffix - at)));
    }
  }
}

// Installed before main(): the Environment checks the whole process's log,
// the listener notices a test that left pgobo's logger without the guard.
class GuardEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    // The test server's superuser password (scripts/pg), if this process has one.
    if (const char* password = std::getenv("PGOBO_PG_SUPERUSER_PASSWORD")) {
      if (std::string_view(password).size() >= 8) register_secret(password);
    }
    install_guard_logger();
  }

  void TearDown() override {
    const auto leaked = secrets_in_guarded_log();
    if (!leaked.empty()) {
      std::string list;
      for (const auto& secret : leaked) list += " " + redacted_for_report(secret);
      ADD_FAILURE() << "secret guard: " << leaked.size()
                    << " known secret(s) reached pgobo's log in this test process:" << list
                    << " (search the trace log for them; see tests/support/secret_guard.hpp)";
    }
    std::vector<std::string> bypassed;
    {
      const std::lock_guard lock(guard().mutex);
      bypassed = guard().bypassed_by;
    }
    for (const auto& test : bypassed) {
      ADD_FAILURE() << "secret guard: after " << test
                    << " pgobo's logger no longer fed the guard: something installed a logger "
                       "without going through pgobo::set_logger from test code";
    }
  }
};

class GuardListener final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (feeds_guard(*pgobo::logger())) return;
    {
      const std::lock_guard lock(guard().mutex);
      guard().bypassed_by.push_back(std::string(info.test_suite_name()) + "." + info.name());
    }
    install_guard_logger();
  }
};

[[maybe_unused]] const bool kRegistered = [] {
  ::testing::AddGlobalTestEnvironment(new GuardEnvironment);
  ::testing::UnitTest::GetInstance()->listeners().Append(new GuardListener);
  return true;
}();

}  // namespace

void register_secret(std::string secret) {
  if (secret.size() < 8) {
    throw std::invalid_argument("register_secret: a test secret needs at least 8 characters");
  }
  const std::lock_guard lock(guard().mutex);
  guard().secrets.insert(std::move(secret));
}

void forget_secret(const std::string& secret) {
  const std::lock_guard lock(guard().mutex);
  guard().secrets.erase(secret);
}

std::vector<std::string> known_secrets_in(std::string_view text) {
  std::set<std::string> found;
  {
    const std::lock_guard lock(guard().mutex);
    for (const auto& secret : guard().secrets) {
      if (text.find(secret) != std::string_view::npos) found.insert(secret);
    }
  }
  find_fake_workspace_tokens(text, found);
  return {found.begin(), found.end()};
}

std::string guarded_log_text() { return guard().sink->text(); }

std::vector<std::string> secrets_in_guarded_log() { return known_secrets_in(guarded_log_text()); }

bool guard_is_active() { return feeds_guard(*pgobo::logger()); }

std::string redacted_for_report(std::string_view secret) {
  return "'" + std::string(secret.substr(0, 6)) + "…' (" + std::to_string(secret.size()) +
         " chars)";
}

}  // namespace pgobo::test

// Every pgobo::set_logger() call from test code: the logger a test installs
// also feeds the guard's capture, and "restore the default" (nullptr)
// restores the guard's logger, which logs to stderr at info as the default does.
void __wrap__ZN5pgobo10set_loggerESt10shared_ptrIN6spdlog6loggerEE(
    std::shared_ptr<spdlog::logger> replacement) {
  using pgobo::test::guard;
  if (!replacement) {
    replacement = guard().logger;
  } else if (!pgobo::test::feeds_guard(*replacement)) {
    // Not yet installed, so no other thread logs through it while it changes.
    replacement->sinks().push_back(guard().sink);
  }
  __real__ZN5pgobo10set_loggerESt10shared_ptrIN6spdlog6loggerEE(std::move(replacement));
}
