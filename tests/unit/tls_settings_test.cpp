// TLS settings without a server: libpq's certificate and host-name failures
// become TlsVerificationFailed naming the setting to change, and the
// Databricks layer's Lakebase default (verify-full against the system's CA
// certificates) keeps every choice the user made. Against a real server with
// a CA made at test time: tests/integration/tls_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fstream>
#include <set>
#include <string>

#include "databricks/lakebase_tls.hpp"
#include "log_capture.hpp"
#include "pgobo/connection_params.hpp"
#include "pgobo/detail/pool_errors.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/pqxx_driver.hpp"
#include "secret_guard.hpp"

namespace {

using pgobo::ConfigError;
using pgobo::ConnectionParams;
using pgobo::Secret;
using pgobo::SslMode;
using pgobo::TlsVerificationFailed;
using pgobo::databricks::detail::apply_lakebase_tls;
using pgobo::databricks::detail::find_ca_bundle;
using pgobo::databricks::detail::system_ca_bundle_paths;
using pgobo::databricks::detail::SystemTrust;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPassword = "tls-test-password-9f2c";

ConnectionParams lakebase_params() {
  ConnectionParams params;
  params.host = "instance-1.database.cloud.databricks.com";
  params.dbname = "databricks_postgres";
  params.user = "alice@example.com";
  return params;
}

// The TlsVerificationFailed message throw_connect_error makes of `libpq_text`.
std::string tls_error(const std::string& libpq_text, const ConnectionParams& params) {
  pgobo::test::register_secret(kPassword);
  try {
    pgobo::throw_connect_error(libpq_text, params, Secret{kPassword},
                               []() -> pgobo::ConnectDiagnosis {
                                 ADD_FAILURE() << "a TLS failure needs no second attempt";
                                 return {};
                               });
  } catch (const TlsVerificationFailed& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not TlsVerificationFailed: " << e.what();
    return "";
  }
}

// libpq 15's texts (fe-secure-openssl.c, fe-secure-common.c).
TEST(TlsConnectErrors, UntrustedCertificateNamesTheRootCertificateSetting) {
  ConnectionParams params = lakebase_params();
  params.sslrootcert = "/etc/ssl/certs/ca-certificates.crt";
  const std::string message = tls_error(
      "connection to server at \"10.1.2.3\", port 5432 failed: SSL error: certificate "
      "verify failed\n",
      params);
  EXPECT_THAT(message, AllOf(HasSubstr("TLS certificate verification failed"),
                             HasSubstr("sslrootcert '/etc/ssl/certs/ca-certificates.crt'"),
                             HasSubstr("PGSSLROOTCERT"), Not(HasSubstr(kPassword))));
}

TEST(TlsConnectErrors, UnsetRootCertificateIsNamedAsLibpqsDefault) {
  EXPECT_THAT(tls_error("SSL error: certificate verify failed", lakebase_params()),
              HasSubstr("~/.postgresql/root.crt; sslrootcert is not set"));
}

TEST(TlsConnectErrors, HostNameMismatchNamesTheHostAndTheSettings) {
  for (const char* text :
       {"connection to server at \"127.0.0.1\", port 5432 failed: server certificate for "
        "\"db.example.test\" does not match host name \"127.0.0.1\"",
        "server certificate for \"a.example\" (and 2 other names) does not match host name "
        "\"b.example\"",
        "could not get server's host name from server certificate"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(tls_error(text, lakebase_params()),
                AllOf(HasSubstr("TLS host-name verification failed"),
                      HasSubstr("not for host 'instance-1.database.cloud.databricks.com'"),
                      HasSubstr("PGHOST"), HasSubstr("verify-ca"), Not(HasSubstr(kPassword))));
  }
}

TEST(TlsConnectErrors, MissingRootCertificateFileIsTlsNotAnUnknownRole) {
  ConnectionParams params = lakebase_params();
  params.sslrootcert = "/nonexistent/ca.pem";
  // "does not exist" alone would read as an unknown role (AuthenticationFailed).
  const std::string message = tls_error(
      "connection to server at \"10.1.2.3\", port 5432 failed: root certificate file "
      "\"/nonexistent/ca.pem\" does not exist\nEither provide the file or change sslmode to "
      "disable server certificate verification.\n",
      params);
  EXPECT_THAT(message,
              AllOf(HasSubstr("TLS certificate verification cannot start"),
                    HasSubstr("sslrootcert '/nonexistent/ca.pem'"), HasSubstr("PGSSLROOTCERT")));
  EXPECT_THAT(
      tls_error("could not read root certificate file \"/x\": no certificate or crl found", params),
      HasSubstr("could not be read"));
  EXPECT_THAT(tls_error("could not load system root certificate paths: no such file", params),
              HasSubstr("could not be read"));
}

TEST(TlsConnectErrors, PasswordInLibpqsTextIsMasked) {
  const std::string message = tls_error(
      std::string("SSL error: certificate verify failed for ") + kPassword, lakebase_params());
  EXPECT_THAT(message, AllOf(Not(HasSubstr(kPassword)), HasSubstr("***")));
}

TEST(TlsConnectErrors, KeepsItsTypeThroughThePoolsBackoff) {
  std::string message;
  pgobo::detail::ConnectFailure kind = pgobo::detail::ConnectFailure::other;
  try {
    throw TlsVerificationFailed("certificate not trusted");
  } catch (...) {
    kind = pgobo::detail::classify_current_exception(message);
  }
  EXPECT_EQ(kind, pgobo::detail::ConnectFailure::tls);
  EXPECT_THROW(pgobo::detail::throw_connect_failure(kind, message), TlsVerificationFailed);
}

// --- The system's CA bundle -------------------------------------------------

TEST(SystemCaBundle, SslCertFileWinsWhenReadable) {
  const std::set<std::string> readable{"/custom/ca.pem", "/etc/ssl/certs/ca-certificates.crt"};
  const auto is_readable = [&](const std::string& path) { return readable.count(path) == 1; };
  EXPECT_EQ(find_ca_bundle(std::string("/custom/ca.pem"), is_readable), "/custom/ca.pem");
  EXPECT_EQ(find_ca_bundle(std::string("/missing.pem"), is_readable),
            "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(find_ca_bundle(std::nullopt, is_readable), "/etc/ssl/certs/ca-certificates.crt");
}

TEST(SystemCaBundle, EveryKnownPathIsTriedInOrder) {
  const auto paths = system_ca_bundle_paths();
  ASSERT_GE(paths.size(), 2u);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::set<std::string> tried;
    const std::string found = find_ca_bundle(std::nullopt, [&](const std::string& path) {
      tried.insert(path);
      return path == paths[i] || (i + 1 < paths.size() && path == paths[i + 1]);
    });
    EXPECT_EQ(found, paths[i]);
    EXPECT_EQ(tried.size(), i + 1) << "stops at the first readable one";
  }
  EXPECT_EQ(find_ca_bundle(std::nullopt, [](const std::string&) { return false; }), "");
}

TEST(SystemCaBundle, ThisMachineGivesItsLibpqAndAReadableBundle) {
  const SystemTrust trust = SystemTrust::of_this_machine();
  EXPECT_EQ(trust.libpq_version, PQlibVersion());
  if (!trust.bundle_file.empty()) {
    std::ifstream bundle(trust.bundle_file);
    std::string first_line;
    std::getline(bundle, first_line);
    EXPECT_TRUE(bundle.good()) << trust.bundle_file << " is not readable";
  }
}

// --- Lakebase's default ------------------------------------------------------

const SystemTrust kDebianLibpq15{"/etc/ssl/certs/ca-certificates.crt", 150013};

TEST(LakebaseTls, UnsetModeBecomesVerifyFullAgainstTheSystemBundle) {
  const pgobo::test::LogCapture log;
  ConnectionParams params = lakebase_params();
  apply_lakebase_tls(params, kDebianLibpq15);
  EXPECT_EQ(params.sslmode, SslMode::verify_full);
  EXPECT_EQ(params.sslrootcert, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_THAT(params.to_conninfo(),
              AllOf(HasSubstr("sslmode='verify-full'"),
                    HasSubstr("sslrootcert='/etc/ssl/certs/ca-certificates.crt'")));
  EXPECT_THAT(log.text(), Not(HasSubstr("[warning]")));
}

TEST(LakebaseTls, ExplicitRootCertificateIsKept) {
  ConnectionParams params = lakebase_params();
  params.sslrootcert = "/etc/app/lakebase-ca.pem";
  apply_lakebase_tls(params, kDebianLibpq15);
  EXPECT_EQ(params.sslmode, SslMode::verify_full);
  EXPECT_EQ(params.sslrootcert, "/etc/app/lakebase-ca.pem");
  // Even with no system bundle at all.
  ConnectionParams without_system = lakebase_params();
  without_system.sslrootcert = "/etc/app/lakebase-ca.pem";
  apply_lakebase_tls(without_system, SystemTrust{"", 150013});
  EXPECT_EQ(without_system.sslrootcert, "/etc/app/lakebase-ca.pem");
}

TEST(LakebaseTls, ExplicitWeakModeIsKeptAndWarnedAboutOnce) {
  for (const SslMode mode : {SslMode::disable, SslMode::allow, SslMode::prefer, SslMode::require}) {
    const pgobo::test::LogCapture log;
    ConnectionParams params = lakebase_params();
    params.sslmode = mode;
    apply_lakebase_tls(params, kDebianLibpq15);
    EXPECT_EQ(params.sslmode, mode);
    EXPECT_EQ(params.sslrootcert, "") << "nothing is verified: no root certificate to load";
    int warnings = 0;
    for (const std::string& line : log.lines()) {
      if (line.find("[warning]") == std::string::npos) continue;
      ++warnings;
      EXPECT_THAT(
          line, AllOf(HasSubstr("sslmode=" + std::string(pgobo::to_string(mode))),
                      HasSubstr("PGSSLMODE"), HasSubstr("not verified"), HasSubstr("verify-full")));
    }
    EXPECT_EQ(warnings, 1) << pgobo::to_string(mode);
  }
}

TEST(LakebaseTls, ExplicitVerifyCaGetsTheBundleAndAWarningAboutTheHostName) {
  const pgobo::test::LogCapture log;
  ConnectionParams params = lakebase_params();
  params.sslmode = SslMode::verify_ca;
  apply_lakebase_tls(params, kDebianLibpq15);
  EXPECT_EQ(params.sslmode, SslMode::verify_ca);
  EXPECT_EQ(params.sslrootcert, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_THAT(log.text(), AllOf(HasSubstr("[warning]"), HasSubstr("host name")));
}

TEST(LakebaseTls, ExplicitVerifyFullIsNotWarnedAbout) {
  const pgobo::test::LogCapture log;
  ConnectionParams params = lakebase_params();
  params.sslmode = SslMode::verify_full;
  apply_lakebase_tls(params, kDebianLibpq15);
  EXPECT_THAT(log.text(), Not(HasSubstr("[warning]")));
}

TEST(LakebaseTls, WithoutABundleLibpq16UsesItsSystemRoots) {
  ConnectionParams params = lakebase_params();
  apply_lakebase_tls(params, SystemTrust{"", 160004});
  EXPECT_EQ(params.sslrootcert, "system");
  // libpq refuses sslrootcert=system with any mode but verify-full.
  ConnectionParams verify_ca = lakebase_params();
  verify_ca.sslmode = SslMode::verify_ca;
  EXPECT_THROW(apply_lakebase_tls(verify_ca, SystemTrust{"", 160004}), ConfigError);
}

TEST(LakebaseTls, WithoutABundleOrLibpq16ItIsAConfigErrorSayingWhatToSet) {
  ConnectionParams params = lakebase_params();
  EXPECT_THAT(
      [&] {
        apply_lakebase_tls(params, SystemTrust{"", 150013});
      },
      ::testing::ThrowsMessage<ConfigError>(
          AllOf(HasSubstr("no system CA certificates were found"),
                HasSubstr("/etc/ssl/certs/ca-certificates.crt"), HasSubstr("SSL_CERT_FILE"),
                HasSubstr("PGSSLROOTCERT"), HasSubstr("ca-certificates"))));
  // A mode that verifies nothing needs no bundle.
  ConnectionParams weak = lakebase_params();
  weak.sslmode = SslMode::require;
  EXPECT_NO_THROW(apply_lakebase_tls(weak, SystemTrust{"", 150013}));
}

}  // namespace
