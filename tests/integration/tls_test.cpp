// TLS to PostgreSQL for real: a private server with ssl=on and a certificate
// from a CA made at test time (test_ca.hpp). verify-full with the right CA
// connects (host 127.0.0.1 or localhost, both in the certificate); a CA the
// client does not trust, a certificate for another host name and a missing
// root certificate file each fail with TlsVerificationFailed naming the
// setting to change and never the password: through a raw PqxxDriver open,
// through a Pool, and through a Lakebase AppConfig, whose default (verify-full
// against the system's CA certificates) refuses a server the old default
// (sslmode=require) would have accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "fake_workspace.hpp"
#include "log_capture.hpp"
#include "pg_fixture.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/pqxx_pool.hpp"
#include "private_pg.hpp"
#include "test_ca.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A CA the client trusts, one it does not, two server certificates from the
// first (one for this machine's names, one for another host), and a private
// server that serves one of them. Made once for the suite: every restart of
// the server costs a few hundred milliseconds.
class TlsWorld {
 public:
  enum class Served { none, this_host, other_host };

  TlsWorld()
      : untrusted_("pgobo untrusted CA"),
        this_host_(trusted_.issue("localhost", {"localhost"}, {"127.0.0.1"})),
        other_host_(trusted_.issue("db.example.test", {"db.example.test"})) {
    install(this_host_, "this-host");
    install(other_host_, "other-host");
    pg_.create_login_role(kAlice);
    pg_.create_login_role(kBob);  // Lakebase's: its password becomes each database token
  }

  // Restarts the server with TLS on and `which` certificate, unless it
  // serves it already. A restart, not a reload: a reload is asynchronous, and
  // the next connection could still see the old certificate.
  void serve(Served which) {
    if (which == served_) return;
    const std::string base =
        pg_.root() + (which == Served::this_host ? "/this-host" : "/other-host");
    {
      auto conn = pg_.superuser();
      pqxx::nontransaction tx(conn);
      tx.exec("ALTER SYSTEM SET ssl = on");
      tx.exec("ALTER SYSTEM SET ssl_cert_file = " + tx.quote(base + ".crt"));
      tx.exec("ALTER SYSTEM SET ssl_key_file = " + tx.quote(base + ".key"));
    }
    pg_.stop();
    pg_.start();
    served_ = which;
  }

  [[nodiscard]] const PgServer& server() const { return pg_.server(); }
  [[nodiscard]] PrivatePg& pg() { return pg_; }
  [[nodiscard]] const std::string& trusted_ca() const { return trusted_.cert_file(); }
  [[nodiscard]] const std::string& untrusted_ca() const { return untrusted_.cert_file(); }

  // Alice's connection to the server, verifying it against `ca`.
  [[nodiscard]] ConnectionParams alice(const std::string& ca, const std::string& host = "127.0.0.1",
                                       SslMode mode = SslMode::verify_full) const {
    ConnectionParams params;
    params.host = host;
    params.port = static_cast<std::uint16_t>(server().port);
    params.dbname = server().database;
    params.user = kAlice;
    params.sslmode = mode;
    params.sslrootcert = ca;
    params.connect_timeout = 10s;
    return params;
  }

 private:
  // The server reads its key only if the server's user owns it, mode 0600.
  void install(const TestCa::Issued& issued, const std::string& name) {
    const std::string base = pg_.root() + "/" + name;
    std::filesystem::copy_file(issued.cert_file, base + ".crt");
    std::filesystem::copy_file(issued.key_file, base + ".key");
    ::chmod((base + ".crt").c_str(), 0644);
    ::chmod((base + ".key").c_str(), 0600);
    if (::geteuid() == 0) {
      const passwd* postgres = ::getpwnam("postgres");
      if (postgres == nullptr) throw std::runtime_error("TlsWorld: no postgres user");
      for (const std::string& file : {base + ".crt", base + ".key"}) {
        if (::chown(file.c_str(), postgres->pw_uid, postgres->pw_gid) != 0) {
          throw std::runtime_error("TlsWorld: cannot chown " + file);
        }
      }
    }
  }

  TestCa trusted_;
  TestCa untrusted_;
  TestCa::Issued this_host_;
  TestCa::Issued other_host_;
  PrivatePg pg_;
  Served served_ = Served::none;
};

class Tls : public PgTest {
 protected:
  static void SetUpTestSuite() {
    if (PgServer::get()) world_ = std::make_unique<TlsWorld>();
  }
  static void TearDownTestSuite() { world_.reset(); }

  void SetUp() override {
    PgTest::SetUp();  // skips (or fails under PGOBO_REQUIRE_PG) without a server
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NE(world_, nullptr);
    world().serve(TlsWorld::Served::this_host);
  }

  static TlsWorld& world() { return *world_; }

  static Secret alice_password() { return Secret(password_for(kAlice)); }

  // True when the session runs over TLS (pg_stat_ssl, the server's view).
  static bool over_tls(pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    return tx.exec("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].as<bool>();
  }

  // The TlsVerificationFailed message of opening `params`; fails the test if
  // it opens or fails otherwise.
  static std::string open_error(const ConnectionParams& params) {
    try {
      (void)PqxxDriver().open(params, alice_password());
      ADD_FAILURE() << "connected";
    } catch (const TlsVerificationFailed& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not TlsVerificationFailed: " << e.what();
    }
    return "";
  }

  // Bob's Lakebase app: a fake workspace on 127.0.0.1 issues each database
  // token and makes it Bob's password. No sslmode or sslrootcert unless
  // `extra` sets them.
  [[nodiscard]] databricks::AppConfig lakebase_app(
      const nlohmann::json& extra = nlohmann::json::object()) {
    workspace = std::make_unique<FakeWorkspace>();
    workspace->on_database_credential([](const std::string& role, const std::string& token) {
      auto conn = world().pg().superuser();
      pqxx::nontransaction tx(conn);
      tx.exec("ALTER ROLE " + tx.quote_name(role) + " PASSWORD " + tx.quote(token));
    });
    nlohmann::json json{{"name", "lakebase-tls"},
                        {"host", "127.0.0.1"},
                        {"port", world().server().port},
                        {"database", world().server().database},
                        {"user", kBob},
                        {"max_size", 2},
                        {"lakebase_endpoint", workspace->options().endpoint},
                        {"workspace_url", workspace->url()},
                        {"workspace_token", workspace->add_token_for(kBob)}};
    for (const auto& [key, value] : extra.items()) json[key] = value;
    return databricks::AppConfig::from_json(json);
  }

  static PoolOptions pool_options(ConnectionParams params) {
    PoolOptions options;
    options.name = "tls";
    options.connection = std::move(params);
    options.max_size = 2;
    options.acquire_timeout = 5s;
    options.credentials = std::make_shared<StaticPassword>(alice_password());
    return options;
  }

  const LogCapture log;
  std::unique_ptr<FakeWorkspace> workspace;

 private:
  static inline std::unique_ptr<TlsWorld> world_;
};

TEST_F(Tls, RightCaConnectsWithVerifyFullByAddressAndByName) {
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    auto conn = PqxxDriver().open(world().alice(world().trusted_ca(), host), alice_password());
    EXPECT_TRUE(over_tls(*conn));
  }
}

TEST_F(Tls, UntrustedCaFailsNamingTheRootCertificateSetting) {
  const std::string message = open_error(world().alice(world().untrusted_ca()));
  EXPECT_THAT(message, AllOf(HasSubstr("TLS certificate verification failed"),
                             HasSubstr("certificate verify failed"),  // libpq's own words
                             HasSubstr("sslrootcert '" + world().untrusted_ca() + "'"),
                             HasSubstr("PGSSLROOTCERT"), Not(HasSubstr(password_for(kAlice)))));
}

TEST_F(Tls, MissingRootCertificateFileIsATlsErrorNotALoginFailure) {
  const std::string missing = world().untrusted_ca() + ".missing";
  EXPECT_THAT(open_error(world().alice(missing)),
              AllOf(HasSubstr("TLS certificate verification cannot start"),
                    HasSubstr("sslrootcert '" + missing + "'"), HasSubstr("PGSSLROOTCERT")));
}

TEST_F(Tls, RequireAcceptsAnyCertificateThatIsWhatVerifyFullFixes) {
  // The core's default when nothing is chosen: encrypted, unverified.
  ConnectionParams params = world().alice("");
  params.sslmode.reset();
  auto conn = PqxxDriver().open(params, alice_password());
  EXPECT_TRUE(over_tls(*conn));
}

TEST_F(Tls, PoolConnectsOverVerifiedTls) {
  Pool pool(pool_options(world().alice(world().trusted_ca())));
  EXPECT_TRUE(
      pool.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")[0][0].as<bool>());
  EXPECT_EQ(pool.query("SELECT current_user")[0][0].as<std::string>(), kAlice);
}

TEST_F(Tls, PoolReportsAnUntrustedServerAsTlsVerificationFailedAlsoWhileBackingOff) {
  Pool pool(pool_options(world().alice(world().untrusted_ca())));
  EXPECT_THAT([&] { (void)pool.connect(); },
              ::testing::ThrowsMessage<TlsVerificationFailed>(
                  AllOf(HasSubstr("PGSSLROOTCERT"), Not(HasSubstr(password_for(kAlice))))));
  // The next caller finds the pool backing off: the same type, from memory.
  EXPECT_THAT([&] { (void)pool.connect(); },
              ::testing::ThrowsMessage<TlsVerificationFailed>(
                  AllOf(HasSubstr("consecutive failure"), HasSubstr("TLS certificate"))));
  EXPECT_THAT(log.text(), Not(HasSubstr(password_for(kAlice))));
}

TEST_F(Tls, LakebaseDefaultVerifiesAgainstTheSystemCasAndRefusesATestCasCertificate) {
  const PoolOptions options = lakebase_app().make_service_pool_options();
  ASSERT_EQ(options.connection.sslmode, SslMode::verify_full);
  ASSERT_FALSE(options.connection.sslrootcert.empty());
  Pool pool(options);
  // The system's CAs never signed the test CA's certificate.
  EXPECT_THROW((void)pool.connect(), TlsVerificationFailed);
  EXPECT_THAT(leaked_secrets(log.text(), workspace->secrets()), ::testing::IsEmpty());
}

TEST_F(Tls, LakebaseRootCertificateSetByTheUserConnectsVerified) {
  Pool pool(lakebase_app({{"sslrootcert", world().trusted_ca()}}).make_service_pool_options());
  auto lease = pool.connect();
  EXPECT_TRUE(over_tls(*lease));
  EXPECT_EQ(workspace->calls(FakeWorkspace::Endpoint::database_credential), 1);
  EXPECT_THAT(log.text(), Not(HasSubstr("[warning]")));
  EXPECT_THAT(leaked_secrets(log.text(), workspace->secrets()), ::testing::IsEmpty());
}

TEST_F(Tls, LakebaseWeakModeSetByTheUserConnectsUnverifiedWithOneWarning) {
  Pool pool(lakebase_app({{"sslmode", "require"}}).make_service_pool_options());
  auto lease = pool.connect();
  EXPECT_TRUE(over_tls(*lease));
  int warnings = 0;
  for (const std::string& line : log.lines()) {
    if (line.find("[warning]") != std::string::npos) ++warnings;
  }
  EXPECT_EQ(warnings, 1);
  EXPECT_THAT(log.text(), HasSubstr("sslmode=require"));
}

// Last: they switch the server to the other host's certificate.
TEST_F(Tls, CertificateForAnotherHostFailsNamingTheHostSetting) {
  world().serve(TlsWorld::Served::other_host);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    EXPECT_THAT(open_error(world().alice(world().trusted_ca(), host)),
                AllOf(HasSubstr("TLS host-name verification failed"),
                      HasSubstr("does not match host name"),  // libpq's own words
                      HasSubstr(std::string("not for host '") + host + "'"), HasSubstr("PGHOST"),
                      Not(HasSubstr(password_for(kAlice)))));
  }
  // The CA is right: verify-ca, which skips the name, connects.
  auto conn = PqxxDriver().open(
      world().alice(world().trusted_ca(), "127.0.0.1", SslMode::verify_ca), alice_password());
  EXPECT_TRUE(over_tls(*conn));
}

TEST_F(Tls, PoolReportsACertificateForAnotherHostAsTlsVerificationFailed) {
  world().serve(TlsWorld::Served::other_host);
  Pool pool(pool_options(world().alice(world().trusted_ca())));
  EXPECT_THAT([&] { (void)pool.connect(); },
              ::testing::ThrowsMessage<TlsVerificationFailed>(HasSubstr("host-name")));
}

}  // namespace
}  // namespace pgobo::test
