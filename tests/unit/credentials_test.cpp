// CachedCredentials: refresh-ahead timing on a fake clock, single flight,
// failures, backoff, and never serving an expired credential.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fake_workspace.hpp"
#include "joining_thread.hpp"
#include "log_capture.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/errors.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::CachedCredentials;
using pgobo::Credential;
using pgobo::CredentialError;
using pgobo::Secret;
using Clock = std::chrono::system_clock;
using ::testing::HasSubstr;
using ::testing::Not;

// A wall clock that moves only when the test says so.
class FakeClock {
 public:
  [[nodiscard]] Clock::time_point now() const {
    return Clock::time_point{Clock::duration{ticks_.load()}};
  }
  void advance(Clock::duration by) { ticks_ += by.count(); }
  [[nodiscard]] pgobo::WallClock function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<Clock::rep> ticks_{std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::sys_days{2026y / 11 / 26}.time_since_epoch())
                                     .count()};
};

// A source whose answers the test scripts, one per call; counts its calls.
class ScriptedSource final : public pgobo::CredentialProvider {
 public:
  using Answer = std::function<Credential()>;

  void then(Answer answer) {
    const std::lock_guard lock(mutex_);
    answers_.push_back(std::move(answer));
  }
  void then_valid_until(const std::string& secret, Clock::time_point expires_at) {
    then([secret, expires_at] { return Credential{Secret(secret), expires_at}; });
  }
  void then_fail(const std::string& message) {
    then([message]() -> Credential { throw CredentialError(message); });
  }

  [[nodiscard]] Credential get() override {
    Answer answer;
    {
      const std::lock_guard lock(mutex_);
      ++calls_;
      if (answers_.empty()) throw std::logic_error("ScriptedSource: no answer scripted");
      answer = std::move(answers_.front());
      answers_.pop_front();
    }
    return answer();
  }
  [[nodiscard]] int calls() const {
    const std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Answer> answers_;
  int calls_ = 0;
};

class CachedCredentialsTest : public ::testing::Test {
 protected:
  std::shared_ptr<CachedCredentials> make_cache(CachedCredentials::Options options = {}) {
    options.clock = clock.function();
    options.name = "test-cache";
    return std::make_shared<CachedCredentials>(source, std::move(options));
  }

  // Runs `fn` and returns the CredentialError's message ("" if none thrown).
  static std::string error_of(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const CredentialError& e) {
      return e.what();
    }
    return "";
  }

  void TearDown() override {
    EXPECT_THAT(pgobo::test::leaked_secrets(log.text(), {"first", "second", "third"}),
                ::testing::IsEmpty())
        << "a credential reached the trace log";
  }

  pgobo::test::LogCapture log;
  FakeClock clock;
  std::shared_ptr<ScriptedSource> source = std::make_shared<ScriptedSource>();
};

TEST_F(CachedCredentialsTest, SecondCallIsServedFromTheCache) {
  source->then_valid_until("first", clock.now() + 1h);
  auto cache = make_cache();

  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(source->calls(), 1);
}

TEST_F(CachedCredentialsTest, ReturnsTheSourcesExpiry) {
  const auto expires_at = clock.now() + 1h;
  source->then_valid_until("first", expires_at);
  auto cache = make_cache();

  EXPECT_EQ(cache->get().expires_at, expires_at);
}

TEST_F(CachedCredentialsTest, ServesCachedUntilRefreshAheadWindowThenRefetches) {
  source->then_valid_until("first", clock.now() + 60min);
  source->then_valid_until("second", clock.now() + 120min);
  auto cache = make_cache();  // refresh_ahead defaults to 2 minutes
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(57min + 59s);  // 2 min 1 s left: still fresh
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(source->calls(), 1);

  clock.advance(2s);  // 1 min 59 s left: inside the window
  EXPECT_EQ(cache->get().secret.reveal(), "second");
  EXPECT_EQ(source->calls(), 2);
}

TEST_F(CachedCredentialsTest, RefreshAheadIsConfigurable) {
  source->then_valid_until("first", clock.now() + 10s);
  source->then_valid_until("second", clock.now() + 1h);
  CachedCredentials::Options options;
  options.refresh_ahead = 1s;
  auto cache = make_cache(options);
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(8s);
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  clock.advance(1500ms);
  EXPECT_EQ(cache->get().secret.reveal(), "second");
}

TEST_F(CachedCredentialsTest, CredentialWithoutExpiryIsKeptUntilInvalidated) {
  source->then([] { return Credential{Secret("first"), std::nullopt}; });
  source->then([] { return Credential{Secret("second"), std::nullopt}; });
  auto cache = make_cache();
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(24h * 365);
  EXPECT_EQ(cache->get().secret.reveal(), "first");

  cache->invalidate();
  EXPECT_EQ(cache->get().secret.reveal(), "second");
  EXPECT_EQ(source->calls(), 2);
}

TEST_F(CachedCredentialsTest, SixteenConcurrentCallersShareOneFetch) {
  constexpr int kThreads = 16;
  std::latch fetch_started(1);
  std::latch release_fetch(1);
  std::latch waiters_joined(kThreads - 1);
  source->then([&] {
    fetch_started.count_down();
    release_fetch.wait();
    return Credential{Secret("first"), clock.now() + 1h};
  });
  CachedCredentials::Options options;
  options.on_wait_for_fetch = [&] { waiters_joined.count_down(); };
  auto cache = make_cache(options);

  std::vector<std::string> results(kThreads);
  std::vector<pgobo::test::JoiningThread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[static_cast<std::size_t>(i)] = cache->get().secret.reveal(); });
  }
  fetch_started.wait();
  waiters_joined.wait();  // the other 15 are all waiting on the one fetch
  release_fetch.count_down();
  threads.clear();

  EXPECT_EQ(source->calls(), 1);
  EXPECT_EQ(cache->fetch_count(), 1u);
  for (const auto& result : results) EXPECT_EQ(result, "first");
}

TEST_F(CachedCredentialsTest, FailedFetchIsThrownToEveryWaiter) {
  constexpr int kThreads = 16;
  std::latch fetch_started(1);
  std::latch release_fetch(1);
  std::latch waiters_joined(kThreads - 1);
  source->then([&]() -> Credential {
    fetch_started.count_down();
    release_fetch.wait();
    throw CredentialError("workspace said no");
  });
  CachedCredentials::Options options;
  options.on_wait_for_fetch = [&] { waiters_joined.count_down(); };
  auto cache = make_cache(options);

  std::atomic<int> failures{0};
  std::vector<pgobo::test::JoiningThread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (error_of([&] { (void)cache->get(); }).find("workspace said no") != std::string::npos) {
        ++failures;
      }
    });
  }
  fetch_started.wait();
  waiters_joined.wait();
  release_fetch.count_down();
  threads.clear();

  EXPECT_EQ(failures.load(), kThreads);
  EXPECT_EQ(source->calls(), 1);
}

TEST_F(CachedCredentialsTest, NextCallAfterAFailureRetries) {
  source->then_fail("temporarily unavailable");
  source->then_valid_until("first", clock.now() + 1h);
  auto cache = make_cache();

  EXPECT_THAT(error_of([&] { (void)cache->get(); }), HasSubstr("temporarily unavailable"));
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(source->calls(), 2);
}

TEST_F(CachedCredentialsTest, TwoConsecutiveFailuresBackOffWithoutCallingTheSource) {
  source->then_fail("down 1");
  source->then_fail("down 2");
  source->then_valid_until("first", clock.now() + 1h);
  CachedCredentials::Options options;
  options.failure_backoff = 500ms;
  auto cache = make_cache(options);
  (void)error_of([&] { (void)cache->get(); });
  (void)error_of([&] { (void)cache->get(); });

  clock.advance(499ms);
  const std::string message = error_of([&] { (void)cache->get(); });
  EXPECT_THAT(message, HasSubstr("2 consecutive failures"));
  EXPECT_THAT(message, HasSubstr("down 2"));
  EXPECT_EQ(source->calls(), 2);

  clock.advance(1ms);
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(source->calls(), 3);
}

TEST_F(CachedCredentialsTest, BackoffDoublesPerFailureUpToTheMaximum) {
  for (int i = 0; i < 5; ++i) source->then_fail("down");
  CachedCredentials::Options options;
  options.failure_backoff = 100ms;
  options.max_failure_backoff = 300ms;
  auto cache = make_cache(options);
  (void)error_of([&] { (void)cache->get(); });  // 1st failure: no backoff
  (void)error_of([&] { (void)cache->get(); });  // 2nd: 100 ms
  clock.advance(100ms);
  (void)error_of([&] { (void)cache->get(); });  // 3rd: 200 ms
  ASSERT_EQ(source->calls(), 3);

  clock.advance(199ms);
  (void)error_of([&] { (void)cache->get(); });
  EXPECT_EQ(source->calls(), 3) << "still inside the doubled backoff";
  clock.advance(1ms);
  (void)error_of([&] { (void)cache->get(); });  // 4th: 400 ms capped to 300 ms
  EXPECT_EQ(source->calls(), 4);

  clock.advance(300ms);
  (void)error_of([&] { (void)cache->get(); });
  EXPECT_EQ(source->calls(), 5) << "the cap bounds the backoff";
}

TEST_F(CachedCredentialsTest, SuccessResetsTheFailureCount) {
  source->then_fail("down 1");
  source->then_fail("down 2");
  source->then_valid_until("first", clock.now() + 10min);
  source->then_fail("down 3");
  source->then_valid_until("second", clock.now() + 1h);
  CachedCredentials::Options options;
  options.failure_backoff = 1s;
  auto cache = make_cache(options);
  (void)error_of([&] { (void)cache->get(); });
  (void)error_of([&] { (void)cache->get(); });
  clock.advance(1s);
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(10min);  // expired: must fetch
  (void)error_of([&] { (void)cache->get(); });
  EXPECT_EQ(cache->get().secret.reveal(), "second") << "one failure after a success: no backoff";
}

TEST_F(CachedCredentialsTest, NeverServesAnExpiredCredentialWhenRefreshFails) {
  source->then_valid_until("first", clock.now() + 10min);
  source->then_fail("down");
  auto cache = make_cache();
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(10min);  // exactly expired
  EXPECT_THAT(error_of([&] { (void)cache->get(); }), HasSubstr("down"));
}

TEST_F(CachedCredentialsTest, StillValidCredentialIsServedWhenRefreshFails) {
  source->then_valid_until("first", clock.now() + 10min);
  source->then_fail("down");
  auto cache = make_cache();
  ASSERT_EQ(cache->get().secret.reveal(), "first");

  clock.advance(9min);  // inside the refresh window, not expired
  EXPECT_EQ(cache->get().secret.reveal(), "first");
  EXPECT_EQ(source->calls(), 2);
  EXPECT_THAT(log.text(), HasSubstr("still serving the current credential"));
}

TEST_F(CachedCredentialsTest, CallersDuringARefreshGetTheStillValidCredentialWithoutWaiting) {
  source->then_valid_until("first", clock.now() + 10min);
  std::latch refresh_started(1);
  std::latch release_refresh(1);
  source->then([&] {
    refresh_started.count_down();
    release_refresh.wait();
    return Credential{Secret("second"), clock.now() + 1h};
  });
  auto cache = make_cache();
  ASSERT_EQ(cache->get().secret.reveal(), "first");
  clock.advance(9min);

  pgobo::test::JoiningThread refresher([&] { EXPECT_EQ(cache->get().secret.reveal(), "second"); });
  refresh_started.wait();
  EXPECT_EQ(cache->get().secret.reveal(), "first") << "served at once while the refresh runs";
  release_refresh.count_down();
  refresher.join();
  EXPECT_EQ(cache->get().secret.reveal(), "second");
}

TEST_F(CachedCredentialsTest, SourceReturningAnExpiredCredentialIsAnError) {
  source->then_valid_until("first", clock.now() - 1s);
  auto cache = make_cache();

  EXPECT_THAT(error_of([&] { (void)cache->get(); }), HasSubstr("expired"));
}

TEST_F(CachedCredentialsTest, OtherExceptionsOfTheSourceBecomeCredentialErrors) {
  source->then([]() -> Credential { throw std::runtime_error("vault unreachable"); });
  auto cache = make_cache();

  EXPECT_THAT(error_of([&] { (void)cache->get(); }),
              AllOf(HasSubstr("test-cache"), HasSubstr("vault unreachable")));
}

TEST_F(CachedCredentialsTest, NullSourceIsAConfigError) {
  EXPECT_THROW(CachedCredentials(nullptr), pgobo::ConfigError);
}

TEST_F(CachedCredentialsTest, LogsNameAndExpiryOfAFetchButNotTheCredential) {
  source->then_valid_until("first", clock.now() + 1h);
  auto cache = make_cache();
  (void)cache->get();

  EXPECT_THAT(log.text(),
              AllOf(HasSubstr("test-cache"), HasSubstr("valid until 2026-11-26T01:00:00")));
  EXPECT_THAT(log.text(), Not(HasSubstr("first")));
}

TEST(StaticPassword, ReturnsTheSamePasswordWithoutExpiry) {
  pgobo::StaticPassword provider(Secret("s3cret"));
  const Credential credential = provider.get();
  EXPECT_EQ(credential.secret.reveal(), "s3cret");
  EXPECT_FALSE(credential.expires_at.has_value());
}

TEST(CredentialFunction, WrapsACallableReturningASecretString) {
  int calls = 0;
  auto provider =
      pgobo::make_credential_function([&calls] { return "pw-" + std::to_string(++calls); });
  EXPECT_EQ(provider->get().secret.reveal(), "pw-1");
  EXPECT_EQ(provider->get().secret.reveal(), "pw-2");
}

}  // namespace
