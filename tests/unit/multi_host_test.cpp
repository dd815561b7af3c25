// Several servers in one ConnectionParams (libpq's failover lists): what
// to_conninfo() writes and libpq reads back, what validate() refuses, and
// PGHOST / PGPORT / PGTARGETSESSIONATTRS / PGLOADBALANCEHOSTS (and their JSON
// keys) as PoolConfig reads them. Every message is checked for the password
// set beside it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "pgobo/config.hpp"
#include "pgobo/connection_params.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/pqxx_driver.hpp"
#include "pgobo/routing_pool.hpp"
#include "secret_guard.hpp"

namespace {

using pgobo::ConfigError;
using pgobo::ConnectionParams;
using pgobo::HostPort;
using pgobo::LoadBalanceHosts;
using pgobo::PoolConfig;
using pgobo::TargetSessionAttrs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPassword = "pw-multi-host-Zq8rT2vX";

// keyword → value as libpq parses `conninfo`; fails the test if it refuses.
std::map<std::string, std::string> libpq_reads(const std::string& conninfo) {
  std::map<std::string, std::string> values;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  const std::unique_ptr<char, decltype(&PQfreemem)> error_guard(error, &PQfreemem);
  const std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> guard(options,
                                                                           &PQconninfoFree);
  if (options == nullptr) {
    ADD_FAILURE() << "libpq refused: " << (error ? error : "out of memory");
    return values;
  }
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) values[option->keyword] = option->val;
  }
  return values;
}

// The ConfigError `f` throws; fails the test (and returns "") if none.
std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, Not(HasSubstr(kPassword)));
    EXPECT_THAT(pgobo::test::known_secrets_in(message), ::testing::IsEmpty()) << message;
    return message;
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

ConnectionParams two_servers() {
  ConnectionParams params;
  params.host = "db-a.internal";
  params.port = 5432;
  params.additional_hosts = {{"db-b.internal", 5433}};
  params.dbname = "app";
  params.user = "svc";
  return params;
}

// --- ConnectionParams --------------------------------------------------------

TEST(MultiHostParams, OneServerWritesExactlyWhatItAlwaysDid) {
  ConnectionParams params;
  params.host = "db.internal";
  params.port = 6543;
  const std::string conninfo = params.to_conninfo();
  EXPECT_THAT(conninfo, HasSubstr("host='db.internal' port='6543'"));
  EXPECT_THAT(conninfo, Not(HasSubstr("target_session_attrs")));
  EXPECT_THAT(conninfo, Not(HasSubstr("load_balance_hosts")));
  EXPECT_THAT(params.hosts(), ElementsAre(HostPort{"db.internal", 6543}));
  EXPECT_EQ(params.hosts_text(), "db.internal:6543");
}

TEST(MultiHostParams, SeveralServersBecomeLibpqsCommaListsInOrder) {
  ConnectionParams params = two_servers();
  params.additional_hosts.push_back({"10.0.0.3", 6000});
  params.target_session_attrs = TargetSessionAttrs::read_write;
  const auto values = libpq_reads(params.to_conninfo(pgobo::Secret(kPassword)));
  EXPECT_EQ(values.at("host"), "db-a.internal,db-b.internal,10.0.0.3");
  EXPECT_EQ(values.at("port"), "5432,5433,6000");
  EXPECT_EQ(values.at("target_session_attrs"), "read-write");
  EXPECT_EQ(values.at("password"), kPassword);
  EXPECT_EQ(params.hosts_text(), "db-a.internal:5432, db-b.internal:5433, 10.0.0.3:6000");
}

TEST(MultiHostParams, HostNamesAreQuotedInsideTheList) {
  ConnectionParams params;
  params.host = "/tmp/it's here";  // a socket directory may hold anything but a comma
  params.port = 5432;
  params.additional_hosts = {{"back\\slash host", 5433}};
  const auto values = libpq_reads(params.to_conninfo());
  EXPECT_EQ(values.at("host"), "/tmp/it's here,back\\slash host");
  EXPECT_EQ(values.at("port"), "5432,5433");
}

TEST(MultiHostParams, ACommaSeparatedHostStillMeansSeveralServersOnOnePort) {
  ConnectionParams params;
  params.host = "a,b";
  params.port = 5444;
  EXPECT_THAT(params.hosts(), ElementsAre(HostPort{"a", 5444}, HostPort{"b", 5444}));
  auto values = libpq_reads(params.to_conninfo());
  EXPECT_EQ(values.at("host"), "a,b");
  EXPECT_EQ(values.at("port"), "5444");  // one port: libpq applies it to both
  params.additional_hosts = {{"c", 5555}};
  values = libpq_reads(params.to_conninfo());
  EXPECT_EQ(values.at("host"), "a,b,c");
  EXPECT_EQ(values.at("port"), "5444,5444,5555");
}

TEST(MultiHostParams, Ipv6AddressesAreBracketedInMessages) {
  EXPECT_EQ(pgobo::to_string(HostPort{"::1", 5432}), "[::1]:5432");
  EXPECT_EQ(pgobo::to_string(HostPort{"/var/run/postgresql", 5432}), "/var/run/postgresql:5432");
}

TEST(MultiHostParams, EveryTargetSessionAttrsRoundTripsAndLibpqAcceptsIt) {
  for (const auto attrs : {TargetSessionAttrs::any, TargetSessionAttrs::read_write,
                           TargetSessionAttrs::read_only, TargetSessionAttrs::primary,
                           TargetSessionAttrs::standby, TargetSessionAttrs::prefer_standby}) {
    const std::string_view name = pgobo::to_string(attrs);
    EXPECT_EQ(pgobo::parse_target_session_attrs(name), attrs);
    ConnectionParams params = two_servers();
    params.target_session_attrs = attrs;
    const auto values = libpq_reads(params.to_conninfo());
    if (attrs == TargetSessionAttrs::any) {
      EXPECT_EQ(
          values.count("target_session_attrs") == 0 || values.at("target_session_attrs") == "any",
          true);
    } else {
      EXPECT_EQ(values.at("target_session_attrs"), name);
    }
  }
  EXPECT_THAT(config_error([] { (void)pgobo::parse_target_session_attrs("readwrite", "X"); }),
              HasSubstr("X: expected one of any, read-write"));
}

TEST(MultiHostParams, ValidateNamesTheBadEntry) {
  ConnectionParams empty_host = two_servers();
  empty_host.additional_hosts.push_back({"", 5432});
  EXPECT_THAT(config_error([&] { (void)empty_host.to_conninfo(); }),
              HasSubstr("additional_hosts[1]: the host name is empty"));

  ConnectionParams zero_port = two_servers();
  zero_port.additional_hosts[0].port = 0;
  EXPECT_THAT(config_error([&] { zero_port.validate(); }),
              AllOf(HasSubstr("additional_hosts[0] (db-b.internal)"), HasSubstr("not 0")));

  ConnectionParams comma = two_servers();
  comma.additional_hosts[0].host = "b,c";
  EXPECT_THAT(config_error([&] { comma.validate(); }),
              HasSubstr("contains a comma; give each server its own entry"));

  // PoolOptions::validate() (every pool's constructor) reports it too.
  pgobo::PoolOptions options;
  options.connection = empty_host;
  EXPECT_THAT(config_error([&] { options.validate(); }),
              AllOf(HasSubstr("pool 'pgobo': connection: "), HasSubstr("additional_hosts[1]")));
}

TEST(MultiHostParams, LoadBalanceHostsNeedsLibpq16) {
  ConnectionParams params = two_servers();
  params.load_balance_hosts = LoadBalanceHosts::random;
  EXPECT_EQ(pgobo::parse_load_balance_hosts("random"), LoadBalanceHosts::random);
  EXPECT_EQ(pgobo::parse_load_balance_hosts("disable"), LoadBalanceHosts::disable);
  if (pgobo::libpq_version() >= 160000) {
    EXPECT_EQ(libpq_reads(params.to_conninfo()).at("load_balance_hosts"), "random");
  } else {
    EXPECT_THAT(config_error([&] { (void)params.to_conninfo(pgobo::Secret(kPassword)); }),
                AllOf(HasSubstr("load_balance_hosts=random needs libpq 16 or newer"),
                      HasSubstr("runs libpq " + std::to_string(pgobo::libpq_version() / 10000)),
                      HasSubstr("PGLOADBALANCEHOSTS")));
  }
}

// --- what a failed login says ---------------------------------------------------

TEST(MultiHostParams, AFailedLoginNamesEveryServerAndNeverThePassword) {
  const std::string libpq = std::string(
                                "connection to server at \"db-a.internal\" (10.0.0.1), port 5432 "
                                "failed: Connection refused\nconnection to server at "
                                "\"db-b.internal\" (10.0.0.2), port 5433 failed: FATAL:  "
                                "password authentication failed for user \"svc\" (") +
                            kPassword + ")\n";
  try {
    pgobo::throw_connect_error(libpq, two_servers(), pgobo::Secret(kPassword));
  } catch (const pgobo::AuthenticationFailed& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("could not connect to any of db-a.internal:5432, "
                                   "db-b.internal:5433 database 'app' as 'svc'"));
    EXPECT_THAT(message, Not(HasSubstr(kPassword)));
  }
}

TEST(MultiHostParams, TlsHostNameAdviceNamesTheCandidatesWithSeveralServers) {
  const std::string libpq =
      "connection to server at \"db-b.internal\" (10.0.0.2), port 5433 failed: server "
      "certificate for \"other.example\" does not match host name \"db-b.internal\"\n";
  try {
    pgobo::throw_connect_error(libpq, two_servers(), pgobo::Secret(kPassword));
  } catch (const pgobo::TlsVerificationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("is not for the host connected to (one of db-a.internal:5432, "
                                    "db-b.internal:5433)"));
  }
  ConnectionParams one;
  one.host = "db.internal";
  try {
    pgobo::throw_connect_error(libpq, one, pgobo::Secret(kPassword));
  } catch (const pgobo::TlsVerificationFailed& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("could not connect to db.internal:5432 database"),
                                HasSubstr("is not for host 'db.internal'")));
  }
}

TEST(MultiHostParams, NoServerOfTheKindAskedForIsUnavailable) {
  const std::string libpq =
      "connection to server at \"db-a\" (10.0.0.1), port 5432 failed: server is in hot standby "
      "mode\n";
  EXPECT_THROW(pgobo::throw_connect_error(libpq, two_servers(), pgobo::Secret(kPassword)),
               pgobo::ServerUnavailable);
  EXPECT_THROW(pgobo::throw_connect_error("connection to server at \"db-a\" (10.0.0.1), port "
                                          "5432 failed: session is read-only\n",
                                          two_servers(), pgobo::Secret(kPassword)),
               pgobo::ServerUnavailable);
}

// --- PoolConfig ----------------------------------------------------------------

PoolConfig from_env(std::map<std::string, std::string> env) {
  env.emplace("PGDATABASE", "app");
  env.emplace("PGPASSWORD", kPassword);
  return PoolConfig::from_env([env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(std::string(name));
    if (found == env.end()) return std::nullopt;
    return found->second;
  });
}

TEST(MultiHostConfig, PghostListWithOnePortAppliesItToEveryHost) {
  const PoolConfig c = from_env({{"PGHOST", "db-a,db-b,db-c"}, {"PGPORT", "6000"}});
  EXPECT_THAT(c.pool.connection.hosts(),
              ElementsAre(HostPort{"db-a", 6000}, HostPort{"db-b", 6000}, HostPort{"db-c", 6000}));
  const PoolConfig no_port = from_env({{"PGHOST", "db-a,db-b"}});
  EXPECT_THAT(no_port.pool.connection.hosts(),
              ElementsAre(HostPort{"db-a", 5432}, HostPort{"db-b", 5432}));
}

TEST(MultiHostConfig, PgportListPairsWithPghostInOrder) {
  const PoolConfig c = from_env(
      {{"PGHOST", "db-a,db-b"}, {"PGPORT", "5432,5433"}, {"PGTARGETSESSIONATTRS", "read-write"}});
  EXPECT_EQ(c.pool.connection.host, "db-a");
  EXPECT_EQ(c.pool.connection.port, 5432);
  EXPECT_THAT(c.pool.connection.additional_hosts, ElementsAre(HostPort{"db-b", 5433}));
  EXPECT_EQ(c.pool.connection.target_session_attrs, TargetSessionAttrs::read_write);
}

TEST(MultiHostConfig, CountMismatchNamesBothVariables) {
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,b"}, {"PGPORT", "1,2,3"}});
              }),
              AllOf(HasSubstr("PGPORT lists 3 ports but PGHOST lists 2 host(s)"),
                    HasSubstr("one port for every host")));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a"}, {"PGPORT", "1,2"}});
              }),
              HasSubstr("PGPORT lists 2 ports but PGHOST lists 1 host(s)"));
}

TEST(MultiHostConfig, MalformedListsAreRefusedNamingTheVariable) {
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,,b"}});
              }),
              AllOf(HasSubstr("PGHOST: expected host names separated by commas, none of them "
                              "empty"),
                    HasSubstr("got 'a,,b'")));
  EXPECT_THAT(config_error([] { (void)from_env({{"PGHOST", "a,"}}); }), HasSubstr("PGHOST"));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,b"}, {"PGPORT", "5432,x"}});
              }),
              HasSubstr("PGPORT: expected port numbers from 1 to 65535 separated by commas"));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,b"}, {"PGPORT", "5432,0"}});
              }),
              HasSubstr("PGPORT"));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,b"}, {"PGPORT", "5432, 5433"}});
              }),
              HasSubstr("PGPORT"));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a"}, {"PGTARGETSESSIONATTRS", "rw"}});
              }),
              HasSubstr("PGTARGETSESSIONATTRS: expected one of any, read-write, read-only"));
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a"}, {"PGLOADBALANCEHOSTS", "on"}});
              }),
              HasSubstr("PGLOADBALANCEHOSTS: expected disable or random"));
}

TEST(MultiHostConfig, LoadBalanceHostsRandomIsRefusedBeforeLibpq16NamingTheVariable) {
  if (pgobo::libpq_version() >= 160000) {
    const PoolConfig c = from_env({{"PGHOST", "a,b"}, {"PGLOADBALANCEHOSTS", "random"}});
    EXPECT_EQ(c.pool.connection.load_balance_hosts, LoadBalanceHosts::random);
    return;
  }
  EXPECT_THAT(config_error([] {
                (void)from_env({{"PGHOST", "a,b"}, {"PGLOADBALANCEHOSTS", "random"}});
              }),
              AllOf(HasSubstr("PGLOADBALANCEHOSTS: random needs libpq 16 or newer"),
                    HasSubstr("unset PGLOADBALANCEHOSTS")));
  const PoolConfig off = from_env({{"PGHOST", "a,b"}, {"PGLOADBALANCEHOSTS", "disable"}});
  EXPECT_EQ(off.pool.connection.load_balance_hosts, LoadBalanceHosts::disable);
}

TEST(MultiHostConfig, JsonTakesAHostListAndAPortOrAnArrayOfPorts) {
  const PoolConfig text = PoolConfig::from_json_text(
      R"({"host":"db-a,db-b","port":[5432,5433],"database":"app","password":"x",)"
      R"("target_session_attrs":"primary"})");
  EXPECT_THAT(text.pool.connection.hosts(),
              ElementsAre(HostPort{"db-a", 5432}, HostPort{"db-b", 5433}));
  EXPECT_EQ(text.pool.connection.target_session_attrs, TargetSessionAttrs::primary);

  const PoolConfig one_port = PoolConfig::from_json_text(
      R"({"host":"db-a,db-b","port":6000,"database":"app","password":"x"})");
  EXPECT_THAT(one_port.pool.connection.hosts(),
              ElementsAre(HostPort{"db-a", 6000}, HostPort{"db-b", 6000}));
}

TEST(MultiHostConfig, JsonMistakesNameTheKeys) {
  const auto error = [](const std::string& members) {
    return config_error([&] {
      (void)PoolConfig::from_json_text(R"({"database":"app","password":")" +
                                       std::string(kPassword) + R"(",)" + members + "}");
    });
  };
  EXPECT_THAT(error(R"("host":"a,b","port":[1,2,3])"),
              HasSubstr("JSON key 'port' lists 3 ports but JSON key 'host' lists 2 host(s)"));
  EXPECT_THAT(error(R"("host":"a,")"),
              HasSubstr("JSON key 'host': expected host names separated by commas"));
  EXPECT_THAT(error(R"("host":["a","b"])"), HasSubstr("JSON key 'host': expected a string"));
  EXPECT_THAT(error(R"("host":"a","port":[])"), HasSubstr("JSON key 'port': expected an array"));
  EXPECT_THAT(error(R"("host":"a,b","port":[1,"2"])"), HasSubstr("JSON key 'port'"));
  EXPECT_THAT(error(R"("host":"a,b","port":"1,2")"),
              HasSubstr("JSON key 'port': expected a port number"));
  EXPECT_THAT(error(R"("host":"a","target_session_attrs":1)"),
              HasSubstr("JSON key 'target_session_attrs': expected a string"));
}

// The Databricks layer and the router read PoolConfig's keys as they are.
TEST(MultiHostConfig, RoutingConfigUserPoolsShareTheServerList) {
  const auto config =
      pgobo::RoutingConfig::from_env([](std::string_view name) -> std::optional<std::string> {
        if (name == "PGHOST") return "db-a,db-b";
        if (name == "PGPORT") return "5432,5433";
        if (name == "PGDATABASE") return "app";
        return std::nullopt;
      });
  EXPECT_THAT(config.service.pool.connection.hosts(),
              ElementsAre(HostPort{"db-a", 5432}, HostPort{"db-b", 5433}));
}

}  // namespace
