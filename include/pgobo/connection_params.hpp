// pgobo/connection_params.hpp — where and as whom to connect, without the password.
//
//   pgobo::ConnectionParams params;
//   params.host = "127.0.0.1";
//   params.dbname = "app";
//   params.user = "alice@example.com";
//   params.sslmode = pgobo::SslMode::disable;
//   params.settings = {{"statement_timeout", "5s"}};
//   std::string conninfo = params.to_conninfo(password);   // for libpq / libpqxx
//
// to_conninfo() quotes every value by libpq's rules, so a password or role
// name with spaces, quotes or backslashes survives intact. The params
// themselves never hold a password: they are safe to log and to return from
// RoutingPool::pg_config().
//
// TLS: `sslmode` left unset means pgobo's default, `require` (encrypted, the
// server's certificate not checked); a layer above may put its own default
// in its place (the Databricks layer: `verify-full` for Lakebase), while a
// mode the user chose is kept. `sslrootcert` names the CAs the certificate
// is checked against under verify-ca / verify-full; empty leaves libpq's
// default (~/.postgresql/root.crt).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/secret.hpp"

namespace pgobo {

// Every sslmode libpq knows.
enum class SslMode { disable, allow, prefer, require, verify_ca, verify_full };

// "verify-full" etc., as libpq spells them.
[[nodiscard]] std::string_view to_string(SslMode mode) noexcept;
// Parses libpq's spelling; throws ConfigError naming `what` (e.g. "PGSSLMODE")
// and the accepted values.
[[nodiscard]] SslMode parse_ssl_mode(std::string_view text, std::string_view what = "sslmode");

// The mode of a ConnectionParams whose sslmode is not set, as AppKit's and
// Databricks Apps' PGSSLMODE default.
inline constexpr SslMode kDefaultSslMode = SslMode::require;

struct ConnectionParams {
  std::string host = "localhost";
  std::uint16_t port = 5432;
  std::string dbname = "postgres";
  std::string user;
  // Unset: not chosen, kDefaultSslMode applies (see effective_sslmode()).
  std::optional<SslMode> sslmode;
  // A file of trusted CA certificates (PEM), or libpq 16's "system". Empty:
  // libpq's default. Only read under verify-ca and verify-full.
  std::string sslrootcert;
  std::string application_name;
  // libpq's connect_timeout (whole seconds; 0 = wait forever, which pgobo
  // never uses by default).
  std::chrono::seconds connect_timeout{10};
  // Server settings sent at login, e.g. {"statement_timeout", "5s"},
  // {"idle_in_transaction_session_timeout", "60s"}.
  std::vector<std::pair<std::string, std::string>> settings;

  // The mode connections use: `sslmode`, else kDefaultSslMode.
  [[nodiscard]] SslMode effective_sslmode() const noexcept {
    return sslmode.value_or(kDefaultSslMode);
  }

  // A libpq connection string without a password (libpq then falls back to
  // ~/.pgpass or PGPASSWORD, as it would for any client). Both forms throw
  // ConfigError for a NUL byte, and for a user or dbname over 63 bytes
  // (PostgreSQL would cut it, and two long names would meet as one).
  [[nodiscard]] std::string to_conninfo() const;
  // A libpq connection string with `password`. The result contains the
  // secret: pass it to libpq and drop it; never log it.
  [[nodiscard]] std::string to_conninfo(const Secret& password) const;

  friend bool operator==(const ConnectionParams&, const ConnectionParams&) = default;
};

// True for a name PostgreSQL accepts as a server setting in `options`
// (letters, digits, _ and ., e.g. "statement_timeout", "app.tenant").
[[nodiscard]] bool is_server_setting_name(std::string_view name);

// Quotes one conninfo value by libpq's rules: 'value' with ' and \ escaped.
// Throws ConfigError if the value contains a NUL byte (libpq cannot carry it);
// the message names `what`, never the value.
[[nodiscard]] std::string quote_conninfo_value(std::string_view value, std::string_view what);

}  // namespace pgobo
