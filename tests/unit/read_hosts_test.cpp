// Read replicas: PGOBO_READ_HOSTS / JSON read_hosts as RoutingConfig reads
// them (parse_host_list), and which pool BasicRoutingPool::query_read_only()
// reaches over FakeDriver: the replicas', the primary's when no replica gives
// a connection, never the primary's after a failed statement. Against a real
// streaming replica: tests/integration/read_replica_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fake_driver.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "test_users.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPassword = "pw-read-hosts-Qm3vK8wZ";

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr(kPassword)));
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(ReadHosts, ParseHostListTakesHostsPortsAndIpv6) {
  EXPECT_THAT(parse_host_list("r1:5433,r2", 6000, "X"),
              ElementsAre(HostPort{"r1", 5433}, HostPort{"r2", 6000}));
  EXPECT_THAT(parse_host_list("[::1]:5433,[fe80::1],::2", 5432, "X"),
              ElementsAre(HostPort{"::1", 5433}, HostPort{"fe80::1", 5432}, HostPort{"::2", 5432}));
  EXPECT_THAT(parse_host_list("/var/run/postgresql", 5432, "X"),
              ElementsAre(HostPort{"/var/run/postgresql", 5432}));
}

TEST(ReadHosts, ParseHostListRefusesMistakesNamingTheSetting) {
  for (const char* bad :
       {"r1:", ":5433", "r1:x", "r1:0", "r1:70000", "[::1", "[::1]5433", "a,,b", "", "r1:5433 "}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(config_error([&] { (void)parse_host_list(bad, 5432, "PGOBO_READ_HOSTS"); }),
                HasSubstr("PGOBO_READ_HOSTS: "));
  }
}

RoutingConfig from_env(std::map<std::string, std::string> env) {
  env.emplace("PGHOST", "primary");
  env.emplace("PGDATABASE", "app");
  env.emplace("PGPASSWORD", kPassword);
  return RoutingConfig::from_env([env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(std::string(name));
    if (found == env.end()) return std::nullopt;
    return found->second;
  });
}

TEST(ReadHosts, OffUnlessSet) { EXPECT_TRUE(from_env({}).read_hosts.empty()); }

TEST(ReadHosts, FromTheEnvironmentAPortDefaultsToPgport) {
  const RoutingConfig c = from_env({{"PGPORT", "6000"}, {"PGOBO_READ_HOSTS", "r1:5433,r2"}});
  EXPECT_THAT(c.read_hosts, ElementsAre(HostPort{"r1", 5433}, HostPort{"r2", 6000}));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGOBO_READ_HOSTS", "r1:port"}});
              }),
              HasSubstr("PGOBO_READ_HOSTS: a port that is not a number"));
}

TEST(ReadHosts, FromJsonAStringOrAnArray) {
  const auto json = [](const std::string& read_hosts) {
    return R"({"host":"primary","port":6000,"database":"app","password":")" +
           std::string(kPassword) + R"(","read_hosts":)" + read_hosts + "}";
  };
  EXPECT_THAT(RoutingConfig::from_json_text(json(R"("r1:5433,r2")")).read_hosts,
              ElementsAre(HostPort{"r1", 5433}, HostPort{"r2", 6000}));
  EXPECT_THAT(RoutingConfig::from_json_text(json(R"(["r1:5433","r2"])")).read_hosts,
              ElementsAre(HostPort{"r1", 5433}, HostPort{"r2", 6000}));
  EXPECT_THAT(config_error([&] { (void)RoutingConfig::from_json_text(json("[]")); }),
              HasSubstr("JSON key 'read_hosts'"));
  EXPECT_THAT(config_error([&] { (void)RoutingConfig::from_json_text(json("[1]")); }),
              HasSubstr("JSON key 'read_hosts'"));
  EXPECT_THAT(config_error([&] { (void)RoutingConfig::from_json_text(json("5")); }),
              HasSubstr("JSON key 'read_hosts'"));
}

TEST(ReadHosts, CreateRefusesABadEntryBuiltInCode) {
  RoutingConfig c = from_env({});
  c.user_credentials = [](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret(kPassword));
  };
  c.read_hosts = {{"r1", 5433}, {"", 5432}};
  EXPECT_THAT(config_error([&] { (void)RoutingPool::create(std::move(c)); }),
              HasSubstr("RoutingConfig::read_hosts[1]"));
}

// --- where query_read_only() runs -------------------------------------------

using Router = BasicRoutingPool<FakeDriver>;

class ReadReplicaRouting : public ::testing::Test {
 protected:
  std::unique_ptr<Router> make_router() {
    PoolOptions service = fake_pool_options(2);
    service.name = "service";
    service.connection.user = "on_primary";
    PoolOptions read_service = service;
    read_service.name = "service-read";
    read_service.connection.user = "on_replica";
    Router::Manager::Options users;
    users.user_pool = fake_pool_options(3);
    users.sweep_interval = 0ms;
    users.credentials_for = [](const UserContext& u) {
      return std::make_shared<StaticPassword>(Secret("pw-" + u.key()));
    };
    BasicReadReplicas<FakeDriver> replicas{std::make_shared<Router::Pool>(read_service, replica),
                                           users};
    return std::make_unique<Router>(std::make_shared<Router::Pool>(service, primary),
                                    std::move(users), primary, std::move(replicas));
  }

  FakeDriver primary;
  FakeDriver replica;
};

TEST_F(ReadReplicaRouting, ReadOnlyGoesToTheReplicasAndQueryToThePrimary) {
  auto router = make_router();
  EXPECT_EQ(router->query_read_only("SELECT 1").user, "on_replica");
  EXPECT_EQ(router->query("SELECT 1").user, "on_primary");
  EXPECT_EQ(router->read_service_pool()->stats().acquired, 1U);
  EXPECT_EQ(router->service_pool().stats().acquired, 1U);
}

TEST_F(ReadReplicaRouting, NoReplicaAnsweringMeansThePrimary) {
  auto router = make_router();
  replica.fail_opens<ServerUnavailable>("replica down", FakeDriver::forever);
  EXPECT_EQ(router->query_read_only("SELECT 1").user, "on_primary");
  EXPECT_EQ(router->query_read_only("SELECT 1").user, "on_primary");  // backing off: at once
  replica.fail_opens<TooManyConnections>("replica full", FakeDriver::forever);
  EXPECT_EQ(router->query_read_only("SELECT 1").user, "on_primary");
}

TEST_F(ReadReplicaRouting, OtherConnectErrorsAndPolicyErrorsAreNotHidden) {
  auto router = make_router();
  replica.fail_opens<AuthenticationFailed>("no such role on the replica", 1);
  EXPECT_THROW((void)router->query_read_only("SELECT 1"), AuthenticationFailed);
  EXPECT_THROW((void)router->query_read_only("DELETE FROM t"), SqlPolicyError);
  EXPECT_EQ(router->service_pool().stats().acquired, 0U);
}

TEST_F(ReadReplicaRouting, WithoutReplicasReadOnlyUsesThePrimary) {
  PoolOptions service = fake_pool_options(2);
  service.connection.user = "on_primary";
  Router::Manager::Options users;
  users.user_pool = fake_pool_options(3);
  users.sweep_interval = 0ms;
  users.credentials_for = [](const UserContext&) {
    return std::make_shared<StaticPassword>(Secret("pw"));
  };
  Router router(std::make_shared<Router::Pool>(service, primary), std::move(users), primary);
  EXPECT_EQ(router.read_service_pool(), nullptr);
  EXPECT_EQ(router.query_read_only("SELECT 1").user, "on_primary");
}

}  // namespace
}  // namespace pgobo::test
