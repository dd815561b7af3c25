// set_role mode's configuration and claims (include/pgobo/set_role.hpp):
// what PGOBO_ROUTING, PGOBO_CLAIMS_SETTING and PGOBO_SERVICE_ROLE accept,
// and what the claims hold (never the token). The mode itself runs against a
// server: tests/integration/set_role_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "pgobo/set_role.hpp"

namespace pgobo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RoutingConfig from_env(std::map<std::string, std::string> env) {
  env.emplace("PGHOST", "db");
  env.emplace("PGDATABASE", "app");
  return RoutingConfig::from_env([env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(std::string(name));
    if (found == env.end()) return std::nullopt;
    return found->second;
  });
}

TEST(SetRoleConfig, PerUserPoolsUnlessSetAndTheEnvironmentSelectsEachSetting) {
  const RoutingConfig defaults = from_env({});
  EXPECT_EQ(defaults.routing, RoutingMode::per_user_pools);
  EXPECT_EQ(defaults.claims_setting, "request.jwt.claims");
  EXPECT_TRUE(defaults.service_role.empty());
  const RoutingConfig c = from_env({{"PGOBO_ROUTING", "SET_ROLE"},
                                    {"PGOBO_CLAIMS_SETTING", "app.claims"},
                                    {"PGOBO_SERVICE_ROLE", "app_service"}});
  EXPECT_EQ(c.routing, RoutingMode::set_role);
  EXPECT_EQ(c.claims_setting, "app.claims");
  EXPECT_EQ(c.service_role, "app_service");
  EXPECT_TRUE(from_env({{"PGOBO_CLAIMS_SETTING", "none"}}).claims_setting.empty());
  EXPECT_EQ(defaults.role_check_ttl, std::chrono::milliseconds(60'000));
  EXPECT_EQ(from_env({{"PGOBO_ROLE_CHECK_TTL_MS", "0"}}).role_check_ttl.count(), 0);
  EXPECT_EQ(to_string(RoutingMode::set_role), "set_role");
}

TEST(SetRoleConfig, MistakesAreRefusedNamingTheVariable) {
  // A vector, not a map: one variable is tried with several values.
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"PGOBO_ROUTING", "setrole"},
           {"PGOBO_CLAIMS_SETTING", "role"},
           {"PGOBO_CLAIMS_SETTING", "request..claims"},
           {"PGOBO_CLAIMS_SETTING", "app.1claims"},
           {"PGOBO_SERVICE_ROLE", std::string(64, 'r')}}) {
    try {
      (void)from_env({{name, value}});
      ADD_FAILURE() << name << "=" << value << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(name));
    }
  }
  const RoutingConfig json = RoutingConfig::from_json_text(
      R"({"host": "db", "database": "app", "routing": "set_role", "claims_setting": "", "service_role": "svc"})");
  EXPECT_EQ(json.routing, RoutingMode::set_role);
  EXPECT_TRUE(json.claims_setting.empty());
  EXPECT_THROW((void)RoutingConfig::from_json_text(R"({"routing": 1})"), ConfigError);
}

TEST(SetRoleConfig, ClaimsSettingNamesAreCustomSettingsOnly) {
  for (const char* good : {"request.jwt.claims", "app.user_id", "a.b", "x$.y_1"}) {
    EXPECT_TRUE(is_claims_setting_name(good)) << good;
  }
  for (const char* bad : {"", "role", "search_path", ".a", "a.", "a..b", "a.b c", "a.b;", "a.'b'",
                          "app.1x", "1a.b", "a.$b"}) {
    EXPECT_FALSE(is_claims_setting_name(bad)) << bad;
  }
}

TEST(SetRoleConfig, DefaultClaimsNameTheUserAndRoleButNeverTheToken) {
  const UserContext user("u-1", "alice@example.com", Secret("tok-SECRET-42"), std::string("alice"));
  const std::string text = default_claims(user, "alice_role");
  const auto claims = nlohmann::json::parse(text);
  EXPECT_EQ(claims.at("sub"), "u-1");
  EXPECT_EQ(claims.at("email"), "alice@example.com");
  EXPECT_EQ(claims.at("preferred_username"), "alice");
  EXPECT_EQ(claims.at("role"), "alice_role");
  EXPECT_THAT(text, Not(HasSubstr("tok-SECRET-42")));
  // Header bytes that are not UTF-8 are replaced, not thrown on.
  const UserContext odd("u-\xff", "", Secret("t"));
  EXPECT_FALSE(nlohmann::json::parse(default_claims(odd, "r")).contains("email"));
}

TEST(SetRoleConfig, ARoleIsNeverEmptyOrLongerThanPostgresKeeps) {
  SetRoleRouting routing;
  const UserContext user("u-1", "alice@example.com", Secret("t"));
  EXPECT_EQ(routing.acting_as(user).role, "alice@example.com");
  EXPECT_TRUE(routing.acting_as(user).refuse_rls_bypass);
  routing.role_for = [](const UserContext&) { return std::string(); };
  EXPECT_THROW((void)routing.acting_as(user), AuthenticationError);
  routing.role_for = [](const UserContext&) { return std::string(64, 'x'); };
  EXPECT_THROW((void)routing.acting_as(user), AuthenticationError);
  routing.role_for = [](const UserContext&) { return std::string("none"); };
  EXPECT_THROW((void)routing.acting_as(user), AuthenticationError);  // SET ROLE none = RESET ROLE
  routing.role_for = [](const UserContext&) { return std::string("a\0b", 3); };
  EXPECT_THROW((void)routing.acting_as(user), AuthenticationError);
  routing.service_role = "alice@example.com";
  routing.role_for = nullptr;
  EXPECT_THROW((void)routing.acting_as(user), AuthenticationError);  // the service's role
  routing.service_role.clear();
  routing.claims_for = [](const UserContext&) { return std::string("{\0}", 3); };
  EXPECT_THROW((void)routing.acting_as(user), ConfigError);
  routing.claims_for = nullptr;
  routing.claims_setting.clear();
  EXPECT_TRUE(routing.acting_as(user).claims.empty());
  routing.service_role = "svc";
  EXPECT_FALSE(routing.acting_as_service().refuse_rls_bypass);
}

}  // namespace
}  // namespace pgobo

namespace pgobo {
namespace {

TEST(RoleCheckCache, ARoleIsFreshForItsTtlAfterPassingAndNeverWithZero) {
  using namespace std::chrono_literals;
  const auto t0 = RoleCheckCache::Clock::time_point{} + 1h;
  RoleCheckCache cache(60s);
  EXPECT_FALSE(cache.fresh("alice", t0));
  cache.remember("alice", t0);
  EXPECT_TRUE(cache.fresh("alice", t0 + 59s));
  EXPECT_FALSE(cache.fresh("alice", t0 + 60s));
  EXPECT_FALSE(cache.fresh("bob", t0));
  RoleCheckCache every_time(0ms);
  every_time.remember("alice", t0);
  EXPECT_FALSE(every_time.fresh("alice", t0));
}

TEST(RoleCheckCache, StaysBoundedByStartingOver) {
  using namespace std::chrono_literals;
  const auto t0 = RoleCheckCache::Clock::time_point{} + 1h;
  RoleCheckCache cache(60s);
  for (std::size_t i = 0; i < RoleCheckCache::kMaxRoles; ++i) cache.remember(std::to_string(i), t0);
  EXPECT_TRUE(cache.fresh("0", t0));
  cache.remember("one more", t0);  // full: forgets the others
  EXPECT_FALSE(cache.fresh("0", t0));
  EXPECT_TRUE(cache.fresh("one more", t0));
}

}  // namespace
}  // namespace pgobo
