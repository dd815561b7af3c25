// Retries of the calls to the workspace (issue 16, item 2 of its HTTP part):
// HTTP 429 and 503 and failed connections are tried again with jittered
// exponential backoff, Retry-After honoured, within the retry budget and the
// pool caller's deadline; nothing else is retried. The servers are real
// (FakeWorkspace on 127.0.0.1); the time is not: RecordedTiming (a
// ScopedRetryTiming) records each delay asked for and moves its clock by it
// instead of sleeping, so attempts and delays are exact.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "databricks/http.hpp"
#include "fake_driver.hpp"
#include "fake_workspace.hpp"
#include "joining_thread.hpp"
#include "pgobo/credentials.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/detail/caller_deadline.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using databricks::HttpOptions;
using databricks::detail::HttpRequest;
using databricks::detail::kFirstRetryBackoff;
using databricks::detail::kMaxRetryBackoff;
using databricks::detail::parse_retry_after;
using Endpoint = FakeWorkspace::Endpoint;
using std::chrono::milliseconds;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The retry loop's time, under the test's control: the steady clock starts
// at the real now (so a caller deadline can be set against it) and moves
// only by the delays asked for (`on_sleep` is called with their count after
// each); the jitter is fixed, by default at 0.5, so each backoff is 3/4 of
// its base: 75, 150, 300, 600, 1200, then 1500 ms.
class RecordedTiming {
 public:
  explicit RecordedTiming(std::function<void(int)> on_sleep = {}, double jitter = 0.5)
      : on_sleep_(std::move(on_sleep)),
        scope_(databricks::detail::RetryTiming{[this] { return now(); }, [] { return kWallNow; },
                                               [this](milliseconds delay) { sleep(delay); },
                                               [jitter] { return jitter; }}) {}

  // The HTTP-date clock: a whole second, so a date 3 s later is 3000 ms away.
  static inline const std::chrono::system_clock::time_point kWallNow =
      std::chrono::system_clock::from_time_t(1'700'000'000);

  [[nodiscard]] std::chrono::steady_clock::time_point start() const { return start_; }
  [[nodiscard]] std::vector<long long> delays() const {
    const std::lock_guard lock(mutex_);
    return delays_;
  }

 private:
  std::chrono::steady_clock::time_point now() const {
    const std::lock_guard lock(mutex_);
    return start_ + slept_;
  }
  void sleep(milliseconds delay) {
    int count = 0;
    {
      const std::lock_guard lock(mutex_);
      delays_.push_back(delay.count());
      slept_ += delay;
      count = static_cast<int>(delays_.size());
    }
    if (on_sleep_) on_sleep_(count);
  }

  std::function<void(int)> on_sleep_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  milliseconds slept_{0};
  std::vector<long long> delays_;
  databricks::detail::ScopedRetryTiming scope_;  // last: installed once the rest is ready
};

// An HTTP-date (IMF-fixdate) `seconds` after RecordedTiming::kWallNow.
std::string http_date_after(long long seconds) {
  const std::time_t when = std::chrono::system_clock::to_time_t(RecordedTiming::kWallNow) + seconds;
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buffer[64];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buffer, n);
}

class HttpRetry : public FakeWorkspaceTest {
 protected:
  HttpRequest credential_request() const {
    HttpRequest request;
    request.call = "Lakebase database credential request";
    request.method = "POST";
    request.url = workspace.url() + "/api/2.0/postgres/credentials";
    request.bearer = &token;
    request.json_body = nlohmann::json{{"endpoint", workspace.options().endpoint}}.dump();
    return request;
  }

  nlohmann::json call(const HttpOptions& options = {}) {
    return databricks::detail::send_for_json(credential_request(), options);
  }

  std::string error_of(const HttpOptions& options = {}) {
    try {
      (void)call(options);
    } catch (const CredentialError& e) {
      expect_no_secret_in(e.what());
      return e.what();
    }
    ADD_FAILURE() << "no CredentialError";
    return "";
  }

  Secret token{workspace.add_token_for("alice@example.com")};
};

// Each delay is drawn from the upper half of its base, [base/2, base): the
// base doubles from 100 ms up to 2 s. Within the default 5 s budget:
TEST_F(HttpRetry, BackoffIsExponentialWithJitterFromTheUpperHalf) {
  EXPECT_EQ(kFirstRetryBackoff, 100ms);
  EXPECT_EQ(kMaxRetryBackoff, 2s);
  workspace.set_sticky_fault(Endpoint::database_credential, FakeWorkspace::busy(503));
  {
    RecordedTiming lowest({}, 0.0);
    (void)error_of();
    EXPECT_THAT(lowest.delays(), ElementsAre(50, 100, 200, 400, 800, 1000, 1000, 1000));
  }
  {
    RecordedTiming middle;
    (void)error_of();
    EXPECT_THAT(middle.delays(), ElementsAre(75, 150, 300, 600, 1200, 1500));
  }
  {
    RecordedTiming highest({}, 0.999999);
    (void)error_of();
    EXPECT_THAT(highest.delays(), ElementsAre(99, 199, 399, 799, 1599));
  }
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 9 + 7 + 6);
}

TEST_F(HttpRetry, TwoUnavailableAnswersThenSuccessMakeThreeRequests) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503), 2);

  const auto body = call();
  EXPECT_TRUE(body.contains("token"));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 3);
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150));
  EXPECT_THAT(log.text(), HasSubstr("HTTP 503 (attempt 1); retrying in 75 ms"));
}

TEST_F(HttpRetry, RateLimitedAnswerIsRetriedAfterItsRetryAfterSeconds) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(429, "2"));

  EXPECT_TRUE(call().contains("token"));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 2);
  EXPECT_THAT(recorded.delays(), ElementsAre(2000));
}

TEST_F(HttpRetry, TheOAuthTokenEndpointIsRetriedToo) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::oauth_token, FakeWorkspace::busy(429, "1"));
  workspace.fail_next(Endpoint::oauth_token, FakeWorkspace::busy(503));
  databricks::ServicePrincipalOAuth::Options options;
  options.workspace_url = workspace.url();
  options.client_id = workspace.options().client_id;
  options.client_secret = Secret(workspace.options().client_secret);
  databricks::ServicePrincipalOAuth oauth(std::move(options));

  EXPECT_THAT(oauth.token().reveal(), ::testing::StartsWith("sp-oauth-fake-"));
  EXPECT_EQ(workspace.calls(Endpoint::oauth_token), 3);
  EXPECT_EQ(oauth.fetch_count(), 1U);
  EXPECT_THAT(recorded.delays(), ElementsAre(1000, 150));
}

TEST_F(HttpRetry, RetryAfterAsAnHttpDateIsHonoured) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503, http_date_after(3)));

  EXPECT_TRUE(call().contains("token"));
  EXPECT_THAT(recorded.delays(), ElementsAre(3000));
}

// A Retry-After shorter than the backoff (0, or a date already past) does
// not make the retry come sooner than the backoff.
TEST_F(HttpRetry, AShortRetryAfterDoesNotShortenTheBackoff) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(429, "0"));
  workspace.fail_next(Endpoint::database_credential,
                      FakeWorkspace::busy(503, http_date_after(-60)));
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503, "soon, please"));

  EXPECT_TRUE(call().contains("token"));
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150, 300));
}

TEST_F(HttpRetry, RetryAfterBeyondTheBudgetFailsAtOnceSayingSo) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(429, "30"));

  EXPECT_THAT(error_of(),
              AllOf(HasSubstr("HTTP 429: REQUEST_LIMIT_EXCEEDED: rate limit exceeded"),
                    HasSubstr("not retried: the workspace asked to retry after 30000 ms "
                              "(Retry-After), past the end of the retry budget "
                              "(http_retry_timeout_ms 5000), 5000 ms away")));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 1);
  EXPECT_THAT(recorded.delays(), IsEmpty());
}

TEST_F(HttpRetry, RetriesStopWhenTheBudgetIsSpentAndTheErrorSaysHowManyAttempts) {
  RecordedTiming recorded;
  workspace.set_sticky_fault(Endpoint::database_credential, FakeWorkspace::busy(503));
  HttpOptions options;
  options.retry_timeout = 1000ms;

  // 75 + 150 + 300 = 525 ms slept; the next 600 would end past 1000.
  EXPECT_THAT(error_of(options),
              AllOf(HasSubstr("Lakebase database credential request (POST http://127.0.0.1:"),
                    HasSubstr("failed: HTTP 503: TEMPORARILY_UNAVAILABLE: try again later"),
                    HasSubstr("after 4 attempts in 525 ms; the next backoff of 600 ms would end "
                              "past the end of the retry budget (http_retry_timeout_ms 1000), "
                              "475 ms away")));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 4);
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150, 300));
}

TEST_F(HttpRetry, RetriesStopAtTheCallersDeadline) {
  RecordedTiming recorded;
  workspace.set_sticky_fault(Endpoint::database_credential, FakeWorkspace::busy(503));
  const pgobo::detail::CallerDeadlineScope deadline(recorded.start() + 400ms);

  // 75 + 150 = 225 ms slept; the next 300 would end past the deadline.
  EXPECT_THAT(error_of(), AllOf(HasSubstr("HTTP 503"),
                                HasSubstr("after 3 attempts in 225 ms; the next backoff of 300 ms "
                                          "would end past the caller's deadline")));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 3);
}

// A retry is cut to what is left of the limit it started under: a workspace
// that answers the first attempt at once and then hangs does not hold the
// caller for a whole 30 s attempt past its deadline.
TEST_F(HttpRetry, ARetryThatHangsEndsAtTheCallersDeadline) {
  RecordedTiming recorded([this](int) {
    workspace.set_latency(Endpoint::database_credential, std::chrono::seconds{20});
  });
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503));
  // 75 ms of backoff (recorded, not slept) leaves 425 ms for the retry.
  const pgobo::detail::CallerDeadlineScope deadline(recorded.start() + 500ms);
  const auto began = std::chrono::steady_clock::now();
  EXPECT_THAT(error_of(), AllOf(HasSubstr("timed out"), HasSubstr("total timeout 425 ms"),
                                HasSubstr("after 2 attempts")));
  workspace.set_latency(Endpoint::database_credential, 0ms);
  // Generous against a loaded machine, far below the 20 s the server takes.
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds{10});
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 2);
}

TEST_F(HttpRetry, RetryAfterBeyondTheCallersDeadlineFailsAtOnce) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503, "1"));
  const pgobo::detail::CallerDeadlineScope deadline(recorded.start() + 800ms);

  EXPECT_THAT(error_of(), HasSubstr("not retried: the workspace asked to retry after 1000 ms "
                                    "(Retry-After), past the caller's deadline"));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 1);
}

TEST_F(HttpRetry, OtherStatusesAreNeverRetried) {
  RecordedTiming recorded;
  for (const int status : {400, 401, 403, 404, 409, 500, 502, 504}) {
    SCOPED_TRACE(status);
    const int before = workspace.calls(Endpoint::database_credential);
    workspace.fail_next(Endpoint::database_credential, {status,
                                                        R"({"error_code":"X","message":"no"})",
                                                        "application/json",
                                                        {{"Retry-After", "1"}}});
    const std::string message = error_of();
    EXPECT_THAT(message, AllOf(HasSubstr("HTTP " + std::to_string(status)),
                               Not(HasSubstr("attempt")), Not(HasSubstr("retr"))));
    EXPECT_EQ(workspace.calls(Endpoint::database_credential), before + 1);
  }
  EXPECT_THAT(recorded.delays(), IsEmpty());
}

TEST_F(HttpRetry, ANonRetryableAnswerAfterRetriesSaysHowManyAttempts) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503));
  workspace.fail_next(Endpoint::database_credential,
                      {403, R"({"error_code":"PERMISSION_DENIED","message":"no"})"});

  EXPECT_THAT(error_of(), AllOf(HasSubstr("HTTP 403: PERMISSION_DENIED: no (after 2 attempts in "
                                          "75 ms)")));
}

TEST_F(HttpRetry, ZeroRetryTimeoutMeansOneAttempt) {
  RecordedTiming recorded;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503), 2);
  HttpOptions options;
  options.retry_timeout = 0ms;

  EXPECT_THAT(error_of(options),
              HasSubstr("HTTP 503: TEMPORARILY_UNAVAILABLE: try again later (not retried: "
                        "retries are off: http_retry_timeout_ms is 0)"));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 1);
  EXPECT_THAT(recorded.delays(), IsEmpty());
}

TEST_F(HttpRetry, RefusedConnectionsAreRetriedUntilTheBudgetIsSpent) {
  RecordedTiming recorded;
  std::string url;
  {
    FakeWorkspace gone;
    url = gone.url();  // nothing listens there any more
  }
  HttpRequest request = credential_request();
  request.url = url + "/api/2.0/postgres/credentials";
  HttpOptions options;
  options.retry_timeout = 1000ms;

  try {
    (void)databricks::detail::send_for_json(request, options);
    ADD_FAILURE() << "no CredentialError";
  } catch (const CredentialError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("failed: "), HasSubstr("onnect"),
                                HasSubstr("(after 4 attempts in 525 ms; the next backoff")));
  }
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150, 300));
}

TEST_F(HttpRetry, AWorkspaceThatComesBackDuringTheBackoffAnswersTheRetry) {
  workspace.stop_listening();
  RecordedTiming recorded([this](int sleeps) {
    if (sleeps == 2) workspace.start_listening();
  });

  EXPECT_TRUE(call().contains("token"));
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150));
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 1) << "refused twice, then answered";
}

TEST_F(HttpRetry, ATimeoutIsRetriedOnlyIfAWholeAttemptStillFits) {
  workspace.hold(Endpoint::database_credential);
  HttpOptions options;
  options.timeout = 200ms;
  {
    RecordedTiming recorded;
    options.retry_timeout = 250ms;  // 75 ms backoff + a 200 ms attempt do not fit
    EXPECT_THAT(error_of(options),
                AllOf(HasSubstr("timed out"),
                      HasSubstr("not retried: a timed-out call is retried only if another whole "
                                "attempt (200 ms) fits before the end of the retry budget")));
    EXPECT_THAT(recorded.delays(), IsEmpty());
  }
  ASSERT_TRUE(workspace.wait_until_held(Endpoint::database_credential, 1));
  {
    // Fits: the held request times out, the workspace recovers in the backoff.
    RecordedTiming recorded([this](int) {
      EXPECT_TRUE(workspace.wait_until_held(Endpoint::database_credential, 2));
      workspace.release(Endpoint::database_credential);
    });
    options.retry_timeout = 5s;
    const int before = workspace.calls(Endpoint::database_credential);
    EXPECT_TRUE(call(options).contains("token"));
    EXPECT_EQ(workspace.calls(Endpoint::database_credential), before + 2);
    EXPECT_THAT(recorded.delays(), ElementsAre(75));
  }
}

// Single flight holds across retries: CachedCredentials lets one caller
// fetch while the others wait, and that fetch's retries are its own.
TEST_F(HttpRetry, SixteenConcurrentCallersDuringTwoOutagesShareThreeRequests) {
  RecordedTiming recorded;
  constexpr int kCallers = 16;
  workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503), 2);
  workspace.hold(Endpoint::database_credential);

  std::mutex mutex;
  std::condition_variable changed;
  int waiting = 0;
  CachedCredentials::Options cache;
  cache.on_wait_for_fetch = [&] {  // called under the cache's lock: no blocking
    {
      const std::lock_guard lock(mutex);
      ++waiting;
    }
    changed.notify_all();
  };
  const auto credentials = databricks::make_lakebase_credentials(
      databricks::LakebaseCredentials::Options{
          workspace.url(), workspace.options().endpoint,
          std::make_shared<databricks::PersonalAccessToken>(token), HttpOptions{}},
      cache);

  std::vector<std::string> got(kCallers);
  std::atomic<int> failures{0};
  {
    std::vector<JoiningThread> callers;
    callers.reserve(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&, i] {
        try {
          got[static_cast<std::size_t>(i)] = credentials->get().secret.reveal();
        } catch (const std::exception&) {
          ++failures;
        }
      });
    }
    // The first request is held; everyone else waits for its fetch.
    ASSERT_TRUE(workspace.wait_until_held(Endpoint::database_credential, 1));
    {
      std::unique_lock lock(mutex);
      ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return waiting == kCallers - 1; }));
    }
    workspace.release(Endpoint::database_credential);
  }

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 3);
  EXPECT_EQ(credentials->fetch_count(), 1U);
  EXPECT_THAT(recorded.delays(), ElementsAre(75, 150));
  ASSERT_EQ(workspace.database_tokens().size(), 1U);
  for (const auto& secret : got) EXPECT_EQ(secret, workspace.database_tokens().front());
}

// The pool gives the retry loop its caller's acquire deadline: a pool whose
// credentials come from a busy workspace fails within acquire_timeout.
TEST_F(HttpRetry, APoolsAcquireDeadlineBoundsTheRetries) {
  FakeClock::reset();
  RecordedTiming recorded;
  workspace.set_sticky_fault(Endpoint::database_credential, FakeWorkspace::busy(503));
  PoolOptions options = fake_pool_options();
  // The fake clock starts at the real now when the pool reads the deadline
  // (within a few ms); 700 ms allow 75 + 150 + 300 = 525 ms but not 1125.
  options.acquire_timeout = 700ms;
  options.credentials =
      databricks::make_lakebase_credentials(databricks::LakebaseCredentials::Options{
          workspace.url(), workspace.options().endpoint,
          std::make_shared<databricks::PersonalAccessToken>(token), HttpOptions{}});
  FakeDriver driver;
  BasicPool<FakeDriver, FakeClock> pool(options, driver);

  try {
    (void)pool.connect();
    ADD_FAILURE() << "connected without a credential";
  } catch (const CredentialError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("pool 'test'"), HasSubstr("HTTP 503"),
                                HasSubstr("after 4 attempts"), HasSubstr("caller's deadline")));
  }
  EXPECT_EQ(workspace.calls(Endpoint::database_credential), 4);
  EXPECT_EQ(driver.opened(), 0U);
}

TEST(RetryAfter, ReadsSecondsAndHttpDates) {
  const auto now = RecordedTiming::kWallNow;
  EXPECT_EQ(parse_retry_after("0", now), 0ms);
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after("99999999999999999999", now), 999'999'999s);
  EXPECT_EQ(parse_retry_after(http_date_after(7), now), 7s);
  EXPECT_EQ(parse_retry_after(http_date_after(-7), now), 0ms);
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
  // Past 2262 a date no longer fits system_clock's nanoseconds: clamped as
  // delta-seconds are, never wrapped around to "retry now".
  EXPECT_EQ(parse_retry_after("Wed, 01 Jan 2300 00:00:00 GMT", now), 999'999'999s);
  EXPECT_EQ(parse_retry_after("later", now), std::nullopt);
}

}  // namespace
}  // namespace pgobo::test
