// src/databricks/lakebase_tls.hpp (private) — Lakebase connections verify
// the server's certificate unless the user chose otherwise.
//
// PGSSLMODE=require, the Databricks Apps default, encrypts but accepts any
// certificate, so a man in the middle could read the OAuth credential that
// is the password. AppKit's pg client verifies (rejectUnauthorized); so does
// pgobo for Lakebase: verify-full against the system's CA certificates.
//
//   ConnectionParams params = config.routing.service.pool.connection;
//   apply_lakebase_tls(params, SystemTrust::of_this_machine());
//   // sslmode verify-full, sslrootcert /etc/ssl/certs/ca-certificates.crt
//
// The core knows nothing of this: it only carries sslmode and sslrootcert.
// The system's CAs are found without OpenSSL (which the libraries do not
// link): the bundle files of the common Linux distributions, as OpenSSL and
// Go look for them; libpq 16's sslrootcert=system when none is found.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgobo/connection_params.hpp"

namespace pgobo::databricks::detail {

// Where this machine keeps its trusted CA certificates, and which libpq runs.
struct SystemTrust {
  // The bundle file (PEM) to verify against; empty when none was found.
  std::string bundle_file;
  // PQlibVersion() of the libpq at run time, e.g. 150013 for 15.13.
  int libpq_version = 0;

  // SSL_CERT_FILE when it names a readable file, else the first readable
  // file of system_ca_bundle_paths(); libpq's version from PQlibVersion().
  [[nodiscard]] static SystemTrust of_this_machine();
};

// The usual bundle files, most common first: Debian/Ubuntu/Alpine, RHEL/
// Fedora, openSUSE, BSD-style.
[[nodiscard]] std::span<const std::string_view> system_ca_bundle_paths() noexcept;

// `ssl_cert_file` (the SSL_CERT_FILE variable, OpenSSL's override) if set
// and `readable`, else the first of system_ca_bundle_paths() that is; empty
// if none.
[[nodiscard]] std::string find_ca_bundle(const std::optional<std::string>& ssl_cert_file,
                                         const std::function<bool(const std::string&)>& readable);

// Lakebase's TLS defaults on `params`, the user's choices kept:
// - sslmode unset: verify-full;
// - sslrootcert unset and the mode verifies (verify-ca, verify-full): the
//   system bundle file; without one, "system" when libpq is 16 or newer and
//   the mode is verify-full (libpq refuses it with weaker modes); else a
//   ConfigError saying what to set;
// - a mode the user chose that is weaker than verify-full: one warning
//   logged per call (pool options are made once per pool or router).
void apply_lakebase_tls(ConnectionParams& params, const SystemTrust& trust);

}  // namespace pgobo::databricks::detail
