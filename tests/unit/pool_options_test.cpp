// PoolOptions::validate() names the field and what it expects; PoolStats
// serialises to JSON; the wait histogram's percentiles are bucket bounds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_driver.hpp"
#include "pgobo/detail/pool_wait_histogram.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/stats.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string validation_error(const PoolOptions& options) {
  try {
    options.validate();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(PoolOptions, DefaultsAreValid) { EXPECT_NO_THROW(PoolOptions{}.validate()); }

// Durations are added to clock readings: a huge one would overflow a deadline
// (undefined behaviour, in practice a deadline in the past) rather than mean
// "a long time".
TEST(PoolOptions, DurationsBeyond31DaysAreRefusedNamingTheField) {
  using std::chrono::milliseconds;
  const auto huge = milliseconds::max();
  const std::vector<std::pair<const char*, std::function<void(PoolOptions&)>>> cases = {
      {"acquire_timeout", [&](PoolOptions& o) { o.acquire_timeout = huge; }},
      {"idle_timeout", [&](PoolOptions& o) { o.idle_timeout = huge; }},
      {"max_lifetime", [&](PoolOptions& o) { o.max_lifetime = huge; }},
      {"validate_idle_after", [&](PoolOptions& o) { o.validate_idle_after = huge; }},
      {"close_timeout", [&](PoolOptions& o) { o.close_timeout = huge; }},
      {"connect_backoff_max", [&](PoolOptions& o) { o.connect_backoff_max = huge; }},
      {"connection.connect_timeout",
       [](PoolOptions& o) { o.connection.connect_timeout = std::chrono::seconds::max(); }},
  };
  for (const auto& [field, set] : cases) {
    SCOPED_TRACE(field);
    PoolOptions options;
    set(options);
    const std::string error = validation_error(options);
    EXPECT_THAT(error, HasSubstr(field));
    EXPECT_THAT(error, HasSubstr("31 days"));
  }
  PoolOptions longest;
  longest.acquire_timeout = std::chrono::hours(24 * 31);
  EXPECT_NO_THROW(longest.validate());
}

TEST(PoolOptions, DefaultsMatchTheReferencePool) {
  const PoolOptions options;
  EXPECT_EQ(options.max_size, 10U);
  EXPECT_EQ(options.acquire_timeout, 10s);
  EXPECT_EQ(options.idle_timeout, 30s);
  EXPECT_EQ(options.max_lifetime, 30min);
}

TEST(PoolOptions, ZeroMaxSizeIsRejectedNamingTheField) {
  PoolOptions options;
  options.name = "alice";
  options.max_size = 0;

  const std::string error = validation_error(options);

  EXPECT_THAT(error, HasSubstr("pool 'alice'"));
  EXPECT_THAT(error, HasSubstr("max_size must be at least 1"));
}

TEST(PoolOptions, MinIdleAboveMaxSizeIsRejected) {
  PoolOptions options;
  options.max_size = 2;
  options.min_idle = 3;

  EXPECT_THAT(validation_error(options), HasSubstr("min_idle must not exceed max_size"));
}

TEST(PoolOptions, JitterOutsideZeroToOneIsRejected) {
  PoolOptions options;
  options.max_lifetime_jitter = 1.5;

  EXPECT_THAT(validation_error(options), HasSubstr("max_lifetime_jitter"));
}

TEST(PoolOptions, NegativeAcquireTimeoutIsRejected) {
  PoolOptions options;
  options.acquire_timeout = -1ms;

  EXPECT_THAT(validation_error(options), HasSubstr("acquire_timeout"));
}

TEST(PoolOptions, PoolConstructorRejectsInvalidOptions) {
  PoolOptions options;
  options.max_size = 0;

  EXPECT_THROW((BasicPool<FakeDriver, FakeClock>(options, FakeDriver{})), ConfigError);
}

TEST(PoolStats, ToJsonCarriesGaugesCountersAndWaitPercentiles) {
  PoolStats stats;
  stats.name = "sp";
  stats.max_size = 10;
  stats.total = 3;
  stats.idle = 2;
  stats.leased = 1;
  stats.acquired = 42;
  stats.closed.idle_timeout = 4;
  stats.closed.broken = 1;
  stats.acquire_wait_p99 = 1023us;

  const nlohmann::json json = stats;

  EXPECT_EQ(json.at("name"), "sp");
  EXPECT_EQ(json.at("max_size"), 10);
  EXPECT_EQ(json.at("total"), 3);
  EXPECT_EQ(json.at("acquired"), 42);
  EXPECT_EQ(json.at("closed").at("idle_timeout"), 4);
  EXPECT_EQ(json.at("closed").at("total"), 5);
  EXPECT_EQ(json.at("acquire_wait_us").at("p99"), 1023);
}

TEST(PoolStats, PoolReportsItsGaugesAndCounters) {
  FakeClock::reset();
  FakeDriver driver;
  BasicPool<FakeDriver, FakeClock> pool(fake_pool_options(4), driver);
  auto leased = pool.connect();
  { auto returned = pool.connect(); }

  const PoolStats stats = pool.stats();

  EXPECT_EQ(stats.name, "test");
  EXPECT_EQ(stats.max_size, 4U);
  EXPECT_EQ(stats.total, 2U);
  EXPECT_EQ(stats.idle, 1U);
  EXPECT_EQ(stats.leased, 1U);
  EXPECT_EQ(stats.created, 2U);
  EXPECT_EQ(stats.acquired, 2U);
}

TEST(PoolWaitHistogram, PercentileIsTheUpperBoundOfItsPowerOfTwoBucket) {
  detail::WaitHistogram histogram;
  for (int i = 0; i < 90; ++i) histogram.record(0us);
  for (int i = 0; i < 10; ++i) histogram.record(600us);  // bucket [512, 1024)

  EXPECT_EQ(histogram.percentile(0.5), 0us);
  EXPECT_EQ(histogram.percentile(0.99), 600us);  // bound 1023, capped at the max seen
  EXPECT_EQ(histogram.max(), 600us);
}

TEST(PoolWaitHistogram, PercentileStaysWithinTwiceTheTrueValue) {
  detail::WaitHistogram histogram;
  for (int i = 1; i <= 1000; ++i) histogram.record(std::chrono::microseconds(i));

  const auto p50 = histogram.percentile(0.5);

  EXPECT_GE(p50, 500us);
  EXPECT_LE(p50, 1000us);
}

}  // namespace
}  // namespace pgobo::test
