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
#include <cstdint>
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
// spdlog::logger>) the name __real_<its symbol> and sends every call of it
// from the test code to __wrap_<its symbol> (tests/CMakeLists.txt adds the
// flag). PGOBO_SET_LOGGER_SYMBOL is that symbol, the Itanium mangling of the
// function, which depends on the standard library (libc++ puts shared_ptr in
// std::__1); the asm labels give these two functions the linker's names.
void real_set_logger(std::shared_ptr<spdlog::logger> replacement) __asm__(
    "__real_" PGOBO_SET_LOGGER_SYMBOL);
void wrapped_set_logger(std::shared_ptr<spdlog::logger> replacement) __asm__(
    "__wrap_" PGOBO_SET_LOGGER_SYMBOL);

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
  std::string observed;                  // what RecordingObservers heard (note_observed_text)

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

void install_guard_logger() { real_set_logger(guard().logger); }

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

// --- encodings a secret may travel in ---------------------------------------
// Written here independently of pgobo's scrubber (src/scrub.cpp), so the
// guard does not check pgobo against itself.

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view text, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += (plus_is_space && text[i] == '+') ? ' ' : text[i];
    }
  }
  return out;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

std::string json_unescaped(std::string_view text) {
  std::string out;
  const auto u_escape = [&text](std::size_t at) -> long {
    if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return -1;
    long value = 0;
    for (std::size_t k = at + 2; k < at + 6; ++k) {
      if (hex_digit(text[k]) < 0) return -1;
      value = value * 16 + hex_digit(text[k]);
    }
    return value;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    const std::string_view from = "\"\\/bfnrt";
    const std::string_view to = "\"\\/\b\f\n\r\t";
    if (const auto k = from.find(text[i + 1]); k != std::string_view::npos) {
      out += to[k];
      ++i;
      continue;
    }
    const long code = u_escape(i);
    if (code < 0) {
      out += text[i];
      continue;
    }
    const long low = u_escape(i + 6);
    if (code >= 0xD800 && code <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF) {
      append_utf8(out,
                  static_cast<std::uint32_t>(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)));
      i += 11;
    } else {
      append_utf8(out, static_cast<std::uint32_t>(code));
      i += 5;
    }
  }
  return out;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Every run of base64 or base64url characters, decoded from each of its first
// four characters (a secret's encoding may start anywhere in a longer one),
// one decoding per line.
std::string base64_decoded_runs(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (base64_digit(text[i]) < 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && base64_digit(text[end]) >= 0) ++end;
    if (end - i >= 8) {
      for (std::size_t start = i; start < i + 4; ++start) {
        std::uint32_t bits = 0;
        int count = 0;
        for (std::size_t k = start; k < end; ++k) {
          bits = (bits << 6) | static_cast<std::uint32_t>(base64_digit(text[k]));
          count += 6;
          if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
          }
        }
        out += '\n';
      }
    }
    i = end;
  }
  return out;
}

// Every run of 16 or more hex digits, decoded from its first and its second
// digit, one decoding per line.
std::string hex_decoded_runs(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (hex_digit(text[i]) < 0) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && hex_digit(text[end]) >= 0) ++end;
    if (end - i >= 16) {
      for (std::size_t start = i; start < i + 2; ++start) {
        for (std::size_t k = start; k + 1 < end; k += 2) {
          out += static_cast<char>(hex_digit(text[k]) * 16 + hex_digit(text[k + 1]));
        }
        out += '\n';
      }
    }
    i = end;
  }
  return out;
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
                    << " known secret(s) reached pgobo's log or an observer's hook in this test "
                       "process:"
                    << list
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

std::vector<std::string> decoded_views(std::string_view text) {
  std::vector<std::string> views{std::string(text)};
  std::vector<std::string> unescaped{percent_decoded(text, true), percent_decoded(text, false),
                                     json_unescaped(text)};
  // Base64 of the text as it is and as percent- or JSON-unescaped ("%2B"
  // for '+' in a form-encoded echo of a Basic credential).
  views.push_back(base64_decoded_runs(text));
  views.push_back(hex_decoded_runs(text));
  for (auto& view : unescaped) {
    if (view == text) continue;
    views.push_back(base64_decoded_runs(view));
    views.push_back(std::move(view));
  }
  return views;
}

std::vector<std::string> known_secrets_in(std::string_view text) {
  std::set<std::string> found;
  std::vector<std::string> secrets;
  {
    const std::lock_guard lock(guard().mutex);
    secrets.assign(guard().secrets.begin(), guard().secrets.end());
  }
  const auto search = [&](std::string_view view) {
    for (const auto& secret : secrets) {
      if (view.find(secret) != std::string_view::npos) found.insert(secret);
    }
    find_fake_workspace_tokens(view, found);
  };
  // The text as it is, whole (a secret may hold a line break); then the
  // decoded views line by line, so a long trace log costs memory per line.
  search(text);
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::vector<std::string> views = decoded_views(text.substr(at, end - at));
    for (std::size_t i = 1; i < views.size(); ++i) search(views[i]);
    at = end + 1;
  }
  return {found.begin(), found.end()};
}

std::string guarded_log_text() { return guard().sink->text(); }

std::vector<std::string> secrets_in_guarded_log() {
  std::string text = guarded_log_text();
  {
    const std::lock_guard lock(guard().mutex);
    text += guard().observed;
  }
  return known_secrets_in(text);
}

void note_observed_text(std::string_view text) {
  const std::lock_guard lock(guard().mutex);
  guard().observed += text;
}

bool guard_is_active() { return feeds_guard(*pgobo::logger()); }

std::string redacted_for_report(std::string_view secret) {
  return "'" + std::string(secret.substr(0, 6)) + "…' (" + std::to_string(secret.size()) +
         " chars)";
}

}  // namespace pgobo::test

// Every pgobo::set_logger() call from test code: the logger a test installs
// also feeds the guard's capture, and "restore the default" (nullptr)
// restores the guard's logger, which logs to stderr at info as the default does.
void wrapped_set_logger(std::shared_ptr<spdlog::logger> replacement) {
  using pgobo::test::guard;
  if (!replacement) {
    replacement = guard().logger;
  } else if (!pgobo::test::feeds_guard(*replacement)) {
    // Not yet installed, so no other thread logs through it while it changes.
    replacement->sinks().push_back(guard().sink);
  }
  real_set_logger(std::move(replacement));
}
