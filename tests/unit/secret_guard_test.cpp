// The secret guard (tests/support/secret_guard.hpp) can fail: a registered
// secret logged through pgobo's logger — directly, through a logger a test
// installs, or through LogCapture — is found by the guard's check, and a test
// process that leaks one exits with a failure naming the guard.
//
// The tests below that leak on purpose forget their secret afterwards, so the
// guard's own check at the end of this process stays clean.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <unistd.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "encodings.hpp"
#include "fake_workspace.hpp"  // FakeWorkspace::random_suffix()
#include "log_capture.hpp"
#include "pgobo/log.hpp"
#include "secret_guard.hpp"

namespace pgobo::test {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A registered secret, forgotten again when the test ends.
class ProbeSecret {
 public:
  ProbeSecret() : value_("guard-probe-" + FakeWorkspace::random_suffix()) {
    register_secret(value_);
  }
  ~ProbeSecret() { forget_secret(value_); }
  ProbeSecret(const ProbeSecret&) = delete;
  ProbeSecret& operator=(const ProbeSecret&) = delete;

  [[nodiscard]] const std::string& value() const { return value_; }

 private:
  std::string value_;
};

TEST(SecretGuard, IsActiveAtTraceLevelInEveryTest) {
  EXPECT_TRUE(guard_is_active());
  EXPECT_TRUE(pgobo::logger()->should_log(spdlog::level::trace));
}

TEST(SecretGuard, FindsARegisteredSecretLoggedThroughPgobosLogger) {
  const ProbeSecret secret;
  ASSERT_THAT(secrets_in_guarded_log(), Not(Contains(secret.value())));

  pgobo::logger()->trace("a careless line: password={}", secret.value());

  EXPECT_THAT(secrets_in_guarded_log(), Contains(secret.value()));
}

TEST(SecretGuard, StillFindsItWhileATestHasInstalledItsOwnLogger) {
  const ProbeSecret secret;
  std::ostringstream own;
  pgobo::set_logger(std::make_shared<spdlog::logger>(
      "mine", std::make_shared<spdlog::sinks::ostream_sink_mt>(own)));

  pgobo::logger()->warn("through the test's logger: {}", secret.value());
  pgobo::set_logger(nullptr);

  EXPECT_THAT(own.str(), HasSubstr(secret.value())) << "the test's own logger still works";
  EXPECT_THAT(secrets_in_guarded_log(), Contains(secret.value()));
  EXPECT_TRUE(guard_is_active()) << "set_logger(nullptr) restored the guard";
}

TEST(SecretGuard, StillFindsItThroughLogCapture) {
  const ProbeSecret secret;
  {
    const LogCapture capture;
    pgobo::logger()->debug("through LogCapture: {}", secret.value());
    EXPECT_THAT(capture.text(), HasSubstr(secret.value()));
  }
  EXPECT_THAT(secrets_in_guarded_log(), Contains(secret.value()));
  EXPECT_TRUE(guard_is_active()) << "LogCapture's end restored the guard";
}

TEST(SecretGuard, RecognisesFakeWorkspaceTokensByTheirShape) {
  const std::string suffix = FakeWorkspace::random_suffix();
  for (const std::string& token :
       {"dapi-fake-3-" + suffix, "sp-oauth-fake-12-" + suffix, "lakebase-db-fake-7-" + suffix,
        "fake-client-secret-" + suffix}) {
    EXPECT_THAT(known_secrets_in("Bearer " + token + "\n"), Contains(token));
  }
  EXPECT_THAT(known_secrets_in("lakebase-db-fake-7 and dapi-fake-1-short"), IsEmpty());
}

// Issue 13, item 9: a secret that reaches the log in one of the encodings
// pgobo sends it in (base64 of the Basic credential pair or of the secret,
// base64url, percent/form encoding, JSON escapes) is still found, also for
// FakeWorkspace's tokens recognised by their shape.
TEST(SecretGuard, FindsASecretInEveryEncodingPgoboSendsItIn) {
  const std::string secret =
      "guard-probe-" + FakeWorkspace::random_suffix() + " \"q\"\\/+&=%:\xc3\xa9";
  register_secret(secret);
  const std::string fake = "fake-client-secret-" + FakeWorkspace::random_suffix();
  for (const auto& [probe, carrier] :
       {std::pair{secret, "client-id:" + secret}, std::pair{fake, "fake-sp-client-id:" + fake}}) {
    for (const auto& [name, encoded] : encodings_of(probe, carrier)) {
      SCOPED_TRACE(name);
      EXPECT_THAT(known_secrets_in("Authorization: Basic [" + encoded + "]\n"), Contains(probe));
    }
  }
  EXPECT_THAT(known_secrets_in("form: a+b%20c \\u00e9 QUJD+/== plain words"), IsEmpty());
  forget_secret(secret);
}

TEST(SecretGuard, RefusesSecretsTooShortToSearchFor) {
  EXPECT_THROW(register_secret("abc"), std::invalid_argument);
}

TEST(SecretGuard, ReportsASecretWithoutPrintingIt) {
  const std::string secret = "pw-alice-0123456789abcdef";
  EXPECT_THAT(redacted_for_report(secret), Not(HasSubstr(secret)));
  EXPECT_THAT(redacted_for_report(secret), HasSubstr("25 chars"));
}

// Run only by the next test, in a process of its own: leaks and does not
// forget, so that process's guard must fail it.
TEST(SecretGuard, DISABLED_LeaksOnPurpose) {
  const std::string secret = "guard-leak-" + FakeWorkspace::random_suffix();
  register_secret(secret);
  pgobo::logger()->info("leaking {}", secret);
}

TEST(SecretGuard, FailsTheTestProcessThatLeaked) {
  const std::string command =
      "/proc/" + std::to_string(::getpid()) +
      "/exe --gtest_also_run_disabled_tests --gtest_filter=SecretGuard.DISABLED_LeaksOnPurpose "
      "2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer{};
  while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);

  EXPECT_NE(status, 0) << output;
  EXPECT_THAT(output, HasSubstr("secret guard: 1 known secret(s) reached pgobo's log"));
  EXPECT_THAT(output, HasSubstr("'guard-…' (35 chars)"));
  EXPECT_THAT(output, HasSubstr("[  PASSED  ] 1 test"))
      << "the test itself passed: the guard failed it";
}

}  // namespace
}  // namespace pgobo::test
