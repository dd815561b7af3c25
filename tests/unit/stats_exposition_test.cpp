// stats_to_json() and stats_to_prometheus(): valid Prometheus text, the values
// of the snapshot, and never a user's key.
#include "pgobo/stats_exposition.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "fake_driver.hpp"
#include "pgobo/pool_manager.hpp"
#include "pgobo/routing_pool.hpp"
#include "temp_dir.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

// A parsed exposition: metric families with their type and samples, or the
// first rule of the text format the input breaks.
struct ParsedExposition {
  struct Family {
    std::string type;
    std::string help;
    std::vector<std::string> samples;  // "name{labels}" of each sample
  };
  std::map<std::string, Family> families;
  std::map<std::string, std::string> values;  // "name{labels}" → value
  std::string error;
};

// Checks the Prometheus text format 0.0.4 as its parser reads it: # HELP and
// # TYPE once per metric and before its samples, samples of one metric
// together, names and label names from the allowed characters, label values
// quoted with only \\, \" and \n escapes, values that parse as numbers, a
// final line feed, counters named *_total, a histogram's samples named
// <name>_bucket, _sum and _count. promtool (PromtoolAcceptsTheText) checks
// the same text with Prometheus' own parser and linter.
ParsedExposition parse_exposition(const std::string& text) {
  static const std::regex help_line(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
  static const std::regex type_line(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample_line(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?))");
  ParsedExposition out;
  if (text.empty() || text.back() != '\n') {
    out.error = "the text does not end in a line feed";
    return out;
  }
  std::istringstream in(text);
  std::string line;
  std::string current;  // the family whose samples are being read
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help_line)) {
      const std::string name = m[1];
      if (out.families.count(name) != 0) {
        out.error = "second # HELP for " + name;
        return out;
      }
      current = name;
      out.families[name].help = m[2];
    } else if (std::regex_match(line, m, type_line)) {
      const std::string name = m[1];
      if (name != current || !out.families[name].type.empty()) {
        out.error = "# TYPE for " + name + " not right after its # HELP";
        return out;
      }
      out.families[name].type = m[2];
      if (m[2] == "counter" && !name.ends_with("_total")) {
        out.error = "counter " + name + " does not end in _total";
        return out;
      }
    } else if (std::regex_match(line, m, sample_line)) {
      const std::string name = m[1];
      // A histogram's samples are <name>_bucket, <name>_sum and <name>_count.
      const bool histogram_sample =
          out.families[current].type == "histogram" &&
          (name == current + "_bucket" || name == current + "_sum" || name == current + "_count");
      if ((name != current && !histogram_sample) || out.families[current].type.empty()) {
        out.error = "sample outside its family: " + line;
        return out;
      }
      const std::string series = name + m[2].str();
      if (out.values.count(series) != 0) {
        out.error = "duplicate series " + series;
        return out;
      }
      out.values[series] = m[7];
      out.families[current].samples.push_back(series);
    } else {
      out.error = "not a valid line: '" + line + "'";
      return out;
    }
  }
  return out;
}

PoolStats service_stats() {
  PoolStats s;
  s.name = "sp";
  s.max_size = 10;
  s.total = 6;
  s.idle = 2;
  s.leased = 3;
  s.opening = 1;
  s.waiting = 4;
  s.created = 17;
  s.acquired = 1234;
  s.timeouts = 5;
  s.connect_errors = 2;
  s.closed.idle_timeout = 7;
  s.closed.broken = 1;
  s.acquire_wait_p50 = 0us;
  s.acquire_wait_p99 = 1023us;
  s.acquire_wait_max = 1500us;
  return s;
}

PoolManagerStats user_stats() {
  PoolManagerStats s;
  s.pools = 3;
  s.draining_pools = 1;
  s.connections = 8;
  s.idle = 4;
  s.leased = 3;
  s.waiting = 2;
  s.budget_waiting = 1;
  s.max_total_connections = 40;
  s.max_pools = 0;
  s.pools_created = 9;
  s.rebuilds = 2;
  s.pools_removed = 5;
  s.connection_evictions = 6;
  s.pool_evictions = 0;
  s.budget_timeouts = 1;
  s.sweeps = 77;
  s.connections_created = 30;
  s.acquired = 500;
  s.timeouts = 3;
  s.connect_errors = 4;
  return s;
}

TEST(StatsExposition, RoutingStatsAreValidPrometheusText) {
  const std::string text = stats_to_prometheus(RoutingStats{service_stats(), user_stats(), {}});
  const ParsedExposition parsed = parse_exposition(text);
  EXPECT_EQ(parsed.error, "") << text;
  EXPECT_GE(parsed.families.size(), 15U);
}

TEST(StatsExposition, EachMetricHasOneHelpAndTypeAndSamplesOfBothPools) {
  const ParsedExposition parsed =
      parse_exposition(stats_to_prometheus(RoutingStats{service_stats(), user_stats(), {}}));
  ASSERT_EQ(parsed.error, "");
  const auto& count = parsed.families.at("db_client_connection_count");
  EXPECT_EQ(count.type, "gauge");
  EXPECT_FALSE(count.help.empty());
  EXPECT_EQ(
      count.samples,
      (std::vector<std::string>{
          R"(db_client_connection_count{db_client_connection_pool_name="service",db_client_connection_state="idle"})",
          R"(db_client_connection_count{db_client_connection_pool_name="service",db_client_connection_state="used"})",
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="idle"})",
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="used"})",
      }));
  EXPECT_EQ(parsed.families.at("db_client_connection_timeouts_total").type, "counter");
}

TEST(StatsExposition, ServicePoolValuesMatchTheSnapshot) {
  const auto v = parse_exposition(stats_to_prometheus(service_stats())).values;
  EXPECT_EQ(
      v.at(
          R"(db_client_connection_count{db_client_connection_pool_name="service",db_client_connection_state="idle"})"),
      "2");
  EXPECT_EQ(
      v.at(
          R"(db_client_connection_count{db_client_connection_pool_name="service",db_client_connection_state="used"})"),
      "3");
  EXPECT_EQ(v.at(R"(pgobo_connection_opening{db_client_connection_pool_name="service"})"), "1");
  EXPECT_EQ(v.at(R"(db_client_connection_max{db_client_connection_pool_name="service"})"), "10");
  EXPECT_EQ(
      v.at(R"(db_client_connection_pending_requests{db_client_connection_pool_name="service"})"),
      "4");
  EXPECT_EQ(
      v.at(R"(db_client_connection_timeouts_total{db_client_connection_pool_name="service"})"),
      "5");
  EXPECT_EQ(v.at(R"(pgobo_connections_created_total{db_client_connection_pool_name="service"})"),
            "17");
  EXPECT_EQ(v.at(R"(pgobo_connection_acquires_total{db_client_connection_pool_name="service"})"),
            "1234");
  EXPECT_EQ(v.at(R"(pgobo_connection_errors_total{db_client_connection_pool_name="service"})"),
            "2");
  EXPECT_EQ(
      v.at(
          R"(pgobo_connection_closes_total{db_client_connection_pool_name="service",reason="idle_timeout"})"),
      "7");
  EXPECT_EQ(
      v.at(
          R"(pgobo_connection_closes_total{db_client_connection_pool_name="service",reason="broken"})"),
      "1");
  EXPECT_EQ(
      v.at(
          R"(pgobo_connection_closes_total{db_client_connection_pool_name="service",reason="evicted"})"),
      "0");
}

TEST(StatsExposition, DurationsAreHistogramsInSecondsWithCumulativeBuckets) {
  PoolStats s = service_stats();
  s.wait_time.record(0us);   // (-inf, 0.001]
  s.wait_time.record(3ms);   // (0.001, 0.005]
  s.wait_time.record(3ms);   // (0.001, 0.005]
  s.wait_time.record(20s);   // above 10 s
  s.use_time.record(700ms);  // (0.5, 1]
  const auto parsed = parse_exposition(stats_to_prometheus(s));
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.families.at("db_client_connection_wait_time_seconds").type, "histogram");
  const auto& v = parsed.values;
  const std::string wait = "db_client_connection_wait_time_seconds";
  const std::string pool = R"(db_client_connection_pool_name="service")";
  EXPECT_EQ(v.at(wait + "_bucket{" + pool + R"(,le="0.001"})"), "1");
  EXPECT_EQ(v.at(wait + "_bucket{" + pool + R"(,le="0.005"})"), "3");
  EXPECT_EQ(v.at(wait + "_bucket{" + pool + R"(,le="10"})"), "3");
  EXPECT_EQ(v.at(wait + "_bucket{" + pool + R"(,le="+Inf"})"), "4");
  EXPECT_EQ(v.at(wait + "_count{" + pool + "}"), "4");
  EXPECT_DOUBLE_EQ(std::stod(v.at(wait + "_sum{" + pool + "}")), 20.006);
  EXPECT_EQ(v.at("db_client_connection_use_time_seconds_bucket{" + pool + R"(,le="0.5"})"), "0");
  EXPECT_EQ(v.at("db_client_connection_use_time_seconds_bucket{" + pool + R"(,le="1"})"), "1");
  EXPECT_EQ(v.at("db_client_connection_create_time_seconds_count{" + pool + "}"), "0");
}

// Prometheus' own tool, from Debian's prometheus package (scripts/install-deps).
TEST(StatsExposition, PromtoolAcceptsTheText) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    // scripts/test (PGOBO_REQUIRE_PG=1) installs it: there, its absence is a failure.
    if (std::getenv("PGOBO_REQUIRE_PG") != nullptr) FAIL() << "promtool is not installed";
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  PoolStats service = service_stats();
  service.wait_time.record(3ms);
  service.create_time.record(40ms);
  PoolManagerStats users = user_stats();
  users.max_pools = 5;
  users.use_time.record(2s);
  const TempDir dir;
  const std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << stats_to_prometheus(RoutingStats{service, users, {}});
  const std::string command = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(file + ".out");
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // One lint finding is expected, and only that one: OpenTelemetry names a
  // gauge db_client_connection_count, which Prometheus' style guide keeps for
  // histograms (docs/operations.md). promtool exits 3 for lint findings and 1
  // for text it cannot parse.
  const std::string expected =
      "db_client_connection_count non-histogram and non-summary metrics should not have "
      "\"_count\" suffix\n";
  EXPECT_TRUE(WIFEXITED(status)) << report;
  EXPECT_EQ(WEXITSTATUS(status), 3) << report;
  EXPECT_EQ(report, expected);
}

TEST(StatsExposition, UserPoolValuesMatchTheSnapshot) {
  const auto v = parse_exposition(stats_to_prometheus(user_stats())).values;
  EXPECT_EQ(
      v.at(
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="idle"})"),
      "4");
  EXPECT_EQ(
      v.at(
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="used"})"),
      "3");
  EXPECT_EQ(v.at(R"(pgobo_connection_opening{db_client_connection_pool_name="users"})"), "1");
  EXPECT_EQ(v.at(R"(db_client_connection_max{db_client_connection_pool_name="users"})"), "40");
  // Waiting in a pool and waiting for room under the global limit.
  EXPECT_EQ(
      v.at(R"(db_client_connection_pending_requests{db_client_connection_pool_name="users"})"),
      "3");
  EXPECT_EQ(
      v.at(R"(pgobo_connection_budget_pending_requests{db_client_connection_pool_name="users"})"),
      "1");
  EXPECT_EQ(v.at(R"(db_client_connection_timeouts_total{db_client_connection_pool_name="users"})"),
            "3");
  EXPECT_EQ(v.at(R"(pgobo_connections_created_total{db_client_connection_pool_name="users"})"),
            "30");
  EXPECT_EQ(v.at(R"(pgobo_pools{db_client_connection_pool_name="users",state="current"})"), "3");
  EXPECT_EQ(v.at(R"(pgobo_pools{db_client_connection_pool_name="users",state="draining"})"), "1");
  EXPECT_EQ(v.at(R"(pgobo_pools_created_total{db_client_connection_pool_name="users"})"), "9");
  EXPECT_EQ(v.at(R"(pgobo_pool_rebuilds_total{db_client_connection_pool_name="users"})"), "2");
  EXPECT_EQ(v.at(R"(pgobo_pools_removed_total{db_client_connection_pool_name="users"})"), "5");
  EXPECT_EQ(v.at(R"(pgobo_pool_evictions_total{db_client_connection_pool_name="users"})"), "0");
  EXPECT_EQ(v.at(R"(pgobo_connection_evictions_total{db_client_connection_pool_name="users"})"),
            "6");
  EXPECT_EQ(
      v.at(R"(pgobo_connection_budget_timeouts_total{db_client_connection_pool_name="users"})"),
      "1");
  EXPECT_EQ(v.at(R"(pgobo_sweeps_total{db_client_connection_pool_name="users"})"), "77");
}

TEST(StatsExposition, LimitsThatAreOffHaveNoSample) {
  PoolManagerStats unlimited = user_stats();
  unlimited.max_total_connections = 0;
  unlimited.max_pools = 0;
  const auto parsed = parse_exposition(stats_to_prometheus(unlimited));
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.families.count("db_client_connection_max"), 0U);
  EXPECT_EQ(parsed.families.count("pgobo_pools_max"), 0U);

  PoolManagerStats limited = user_stats();
  limited.max_pools = 12;
  EXPECT_EQ(parse_exposition(stats_to_prometheus(limited))
                .values.at(R"(pgobo_pools_max{db_client_connection_pool_name="users"})"),
            "12");
}

TEST(StatsExposition, APoolsNameNeverBecomesALabel) {
  PoolStats user_pool = service_stats();
  user_pool.name = "user:alice@example.com";
  const std::string text = stats_to_prometheus(user_pool, "users");
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(db_client_connection_max{db_client_connection_pool_name="users"} 10)"),
            std::string::npos);
}

TEST(StatsExposition, NoUserKeyReachesTheMetricsOfARealManager) {
  FakeClock::reset();
  BasicPoolManager<FakeDriver, FakeClock>::Options options;
  options.user_pool = fake_pool_options(2);
  options.sweep_interval = 0ms;
  options.credentials_for = [](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret("pw"));
  };
  FakeDriver driver;
  BasicPoolManager<FakeDriver, FakeClock> manager(std::move(options), driver);
  const UserContext alice = make_user_context("u-alice-17", "alice@example.com", "token-a");
  const UserContext bob = make_user_context("u-bob-42", "", "token-b");
  manager.get_pool(alice)->query("SELECT 1");
  auto lease = manager.get_pool(bob)->connect();

  const std::string text = stats_to_prometheus(manager.stats());
  const std::vector<std::string> forbidden{
      "alice", "u-alice-17", "bob", "u-bob-42", "token-a", alice.token_fingerprint(), "user:"};
  for (const std::string& secret_or_key : forbidden) {
    EXPECT_EQ(text.find(secret_or_key), std::string::npos) << secret_or_key << " in\n" << text;
  }
  const auto parsed = parse_exposition(text);
  ASSERT_EQ(parsed.error, "") << text;
  EXPECT_EQ(
      parsed.values.at(R"(pgobo_pools{db_client_connection_pool_name="users",state="current"})"),
      "2");
  EXPECT_EQ(
      parsed.values.at(
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="idle"})"),
      "1");
  EXPECT_EQ(
      parsed.values.at(
          R"(db_client_connection_count{db_client_connection_pool_name="users",db_client_connection_state="used"})"),
      "1");
  EXPECT_EQ(parsed.values.at(
                R"(pgobo_connections_created_total{db_client_connection_pool_name="users"})"),
            "2");

  const std::string json = stats_to_json(manager.stats()).dump();
  EXPECT_EQ(json.find("alice"), std::string::npos) << json;
  EXPECT_EQ(json.find("u-bob-42"), std::string::npos) << json;
}

TEST(StatsExposition, LabelValuesAreEscaped) {
  const std::string text = stats_to_prometheus(service_stats(), "a\"b\\c\nd");
  EXPECT_NE(
      text.find(R"(db_client_connection_max{db_client_connection_pool_name="a\"b\\c\nd"} 10)"),
      std::string::npos)
      << text;
  EXPECT_EQ(parse_exposition(text).error, "");
}

TEST(StatsExposition, ControlCharactersWithoutAnEscapeBecomeQuestionMarks) {
  const std::string text = stats_to_prometheus(service_stats(), std::string("a\rb\0c\x7f", 6));
  EXPECT_NE(text.find(R"(db_client_connection_max{db_client_connection_pool_name="a?b?c?"} 10)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\0'), std::string::npos);
  EXPECT_EQ(parse_exposition(text).error, "");
}

TEST(StatsExposition, RequestsWaitingOrTimedOutUnderMaxPoolsCountAsPendingAndTimeouts) {
  PoolManagerStats users = user_stats();
  users.pool_budget_waiting = 4;
  users.pool_budget_timeouts = 7;
  const auto v =
      parse_exposition(stats_to_prometheus(RoutingStats{service_stats(), users, {}})).values;
  EXPECT_EQ(
      v.at(R"(db_client_connection_pending_requests{db_client_connection_pool_name="users"})"),
      "7");  // 2 + 1 + 4
  EXPECT_EQ(v.at(R"(db_client_connection_timeouts_total{db_client_connection_pool_name="users"})"),
            "10");  // 3 + 7
}

TEST(StatsExposition, TheAutomaticConnectionLimitIsExposedWhenOn) {
  RoutingStats stats{service_stats(), user_stats(), {}};
  const std::string off = stats_to_prometheus(stats);
  EXPECT_EQ(off.find("pgobo_connection_limit"), std::string::npos);

  stats.users.max_total_connections = 0;  // nothing yet is a limit, not "none"
  stats.users.max_total_connections_adjustable = true;
  stats.connection_limit = {true, 8, 6, 3, 24, 41, 2, 5, 7, 1};
  const ParsedExposition parsed = parse_exposition(stats_to_prometheus(stats));
  ASSERT_EQ(parsed.error, "");
  // A missing series fails with its name (map::at would not say which).
  const auto v = [&parsed](const std::string& series) {
    const auto it = parsed.values.find(series);
    return it == parsed.values.end() ? "<no series " + series + ">" : it->second;
  };
  const std::string users = R"({db_client_connection_pool_name="users"})";
  EXPECT_EQ(v("pgobo_connection_limit_share" + users), "8");
  EXPECT_EQ(v("pgobo_connection_limit_replicas" + users), "3");
  EXPECT_EQ(v("pgobo_connection_limit_capacity" + users), "24");
  EXPECT_EQ(v("pgobo_connection_limit_changes_total" + users), "5");
  EXPECT_EQ(v("pgobo_connection_limit_share_below_service_pool_total" + users), "7");
  EXPECT_EQ(v("pgobo_connection_limit_fenced_total" + users), "1");
  EXPECT_EQ(
      v(R"(pgobo_connection_limit_heartbeats_total{db_client_connection_pool_name="users",outcome="error"})"),
      "2");
  EXPECT_EQ(v("db_client_connection_max" + users), "0");
  const nlohmann::json json = stats_to_json(stats);
  EXPECT_EQ(json["connection_limit"]["share"], 8);
  EXPECT_EQ(json["connection_limit"]["user_limit"], 6);
  EXPECT_EQ(json["users"]["max_total_connections_adjustable"], true);
}

TEST(StatsExposition, JsonHasTheShapeOfToJson) {
  const RoutingStats stats{service_stats(), user_stats(), {}};
  const nlohmann::json json = stats_to_json(stats);
  EXPECT_EQ(json["service"]["name"], "sp");
  EXPECT_EQ(json["service"]["idle"], 2);
  EXPECT_EQ(json["service"]["acquire_wait_us"]["p99"], 1023);
  EXPECT_EQ(json["users"]["rebuilds"], 2);
  EXPECT_EQ(json["users"]["pools"], 3);
  EXPECT_EQ(json, nlohmann::json(stats));
  EXPECT_EQ(stats_to_json(stats.service), nlohmann::json(stats.service));
  EXPECT_EQ(stats_to_json(stats.users), nlohmann::json(stats.users));
}

TEST(StatsExposition, TheParserRejectsBrokenText) {
  // The checks above are only as good as the parser: it must catch these.
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\na 1").error, "");           // no final LF
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a counter\na 1\n").error, "");       // no _total
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\nb 1\n").error, "");         // foreign
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\na{l=\"x} 1\n").error, "");  // quote
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\na one\n").error, "");       // value
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\na 2\n").error, "");    // duplicate
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\n# HELP b y\n# TYPE b gauge\nb 1\n"
                             "# HELP a x\n# TYPE a gauge\na{l=\"2\"} 1\n")
                .error,
            "");  // a in two places
  EXPECT_EQ(parse_exposition("# HELP a x\n# TYPE a gauge\na{l=\"q\\\"\"} 1\n").error, "");
}

}  // namespace
}  // namespace pgobo::test
