#include "databricks/lakebase_tls.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo::databricks::detail {
namespace {

constexpr std::array<std::string_view, 6> kBundlePaths{{
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL 7+, CentOS
    "/etc/ssl/ca-bundle.pem",                             // openSUSE
    "/etc/pki/tls/cacert.pem",                            // OpenELEC
    "/etc/ssl/cert.pem",                                  // Alpine, BSD-style
}};

// libpq 16 added sslrootcert=system (OpenSSL's default trust store).
constexpr int kFirstLibpqWithSystemRoots = 160000;

bool readable_file(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), R_OK) == 0;
}

std::string looked_at() {
  std::string out = "SSL_CERT_FILE";
  for (const std::string_view path : kBundlePaths) {
    out += ", ";
    out += path;
  }
  return out;
}

void warn_unverified(SslMode mode) {
  const std::string_view consequence =
      mode == SslMode::verify_ca
          ? "the server's certificate is checked against the CAs but not against the host name, "
            "so any server with a certificate from those CAs is accepted"
          : "the server's certificate is not verified, so a man in the middle could read the "
            "traffic and the database credential";
  // Databricks Apps sets PGSSLMODE=require for a database resource, so this
  // is what most apps will see until they override it in app.yaml.
  logger()->warn(
      "Lakebase connections use sslmode={} (PGSSLMODE / JSON key 'sslmode'): {}. pgobo's "
      "Lakebase default is verify-full against the system's CA certificates: unset sslmode or "
      "set it to verify-full (a Databricks App gets PGSSLMODE=require from the platform: set "
      "PGSSLMODE=verify-full in its app.yaml env, or routing.service.pool.connection.sslmode "
      "in code)",
      to_string(mode), consequence);
}

}  // namespace

std::span<const std::string_view> system_ca_bundle_paths() noexcept { return kBundlePaths; }

std::string find_ca_bundle(const std::optional<std::string>& ssl_cert_file,
                           const std::function<bool(const std::string&)>& readable) {
  if (ssl_cert_file && !ssl_cert_file->empty() && readable(*ssl_cert_file)) return *ssl_cert_file;
  for (const std::string_view path : kBundlePaths) {
    if (readable(std::string(path))) return std::string(path);
  }
  return {};
}

SystemTrust SystemTrust::of_this_machine() {
  std::optional<std::string> ssl_cert_file;
  // std::getenv is safe as long as nobody calls setenv concurrently, which
  // is the caller's contract for any environment read.
  if (const char* value = std::getenv("SSL_CERT_FILE")) {  // NOLINT(concurrency-mt-unsafe)
    ssl_cert_file = value;
  }
  return SystemTrust{find_ca_bundle(ssl_cert_file, readable_file), PQlibVersion()};
}

void apply_lakebase_tls(ConnectionParams& params, const SystemTrust& trust) {
  if (params.sslmode && *params.sslmode != SslMode::verify_full) warn_unverified(*params.sslmode);
  if (!params.sslmode) params.sslmode = SslMode::verify_full;
  const SslMode mode = *params.sslmode;
  if (!params.sslrootcert.empty()) return;                                 // the user's roots
  if (mode != SslMode::verify_ca && mode != SslMode::verify_full) return;  // nothing to verify
  if (!trust.bundle_file.empty()) {
    params.sslrootcert = trust.bundle_file;
  } else if (mode == SslMode::verify_full && trust.libpq_version >= kFirstLibpqWithSystemRoots) {
    params.sslrootcert = "system";
  } else {
    throw ConfigError(
        "Lakebase connections verify the server's certificate (sslmode " +
        std::string(to_string(mode)) + "), but no system CA certificates were found (looked at " +
        looked_at() +
        "): install the ca-certificates package, or set PGSSLROOTCERT (JSON key 'sslrootcert') "
        "to a file of trusted CA certificates");
  }
}

}  // namespace pgobo::databricks::detail
