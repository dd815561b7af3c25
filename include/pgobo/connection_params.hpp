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
//
// Several servers (failover): `host`/`port` is the first, `additional_hosts`
// the others, tried in order by libpq (host=a,b port=5432,5433) until one
// accepts the login and matches `target_session_attrs`:
//
//   params.additional_hosts = {{"db-b.internal", 5432}};
//   params.target_session_attrs = pgobo::TargetSessionAttrs::read_write;  // skip standbys
//
// A pool opens each new connection this way, so after the first server goes
// down its new connections land on the next one (docs/operations.md,
// "Failover and read replicas"). `load_balance_hosts = random` (libpq 16+)
// tries them in random order instead.
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

// One server: a host name, IP address or Unix socket directory, and a port.
struct HostPort {
  std::string host;
  std::uint16_t port = 5432;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// "db.internal:5432", "[::1]:5433" (an IPv6 address in brackets).
[[nodiscard]] std::string to_string(const HostPort& server);

// Which server of several a connection may stay on (libpq's
// target_session_attrs; libpq checks each server after the login and moves
// on to the next when it does not match).
enum class TargetSessionAttrs {
  any,             // the first that accepts the login (libpq's default)
  read_write,      // one that accepts writes (not a hot standby, not default_transaction_read_only)
  read_only,       // one that refuses writes
  primary,         // not a hot standby
  standby,         // a hot standby
  prefer_standby,  // a hot standby if any answers, else any
};

// "read-write" etc., as libpq spells them.
[[nodiscard]] std::string_view to_string(TargetSessionAttrs attrs) noexcept;
// Parses libpq's spelling; throws ConfigError naming `what` and the values.
[[nodiscard]] TargetSessionAttrs parse_target_session_attrs(
    std::string_view text, std::string_view what = "target_session_attrs");

// The order libpq tries the servers in (libpq's load_balance_hosts, which
// only libpq 16 and newer know).
enum class LoadBalanceHosts {
  disable,  // in the order given
  random,   // in random order, for each connection: spreads the logins
};

[[nodiscard]] std::string_view to_string(LoadBalanceHosts mode) noexcept;
[[nodiscard]] LoadBalanceHosts parse_load_balance_hosts(
    std::string_view text, std::string_view what = "load_balance_hosts");

// The version of the libpq this process runs with, as PQlibVersion() gives
// it (150013 for 15.13); load_balance_hosts needs 160000 or more.
[[nodiscard]] int libpq_version() noexcept;

struct ConnectionParams {
  // The (first) server. Setting only these two means one server, as always.
  // (A comma-separated `host`, "a,b", still means several servers on `port`,
  // as libpq reads it; additional_hosts says it more plainly.)
  std::string host = "localhost";
  std::uint16_t port = 5432;
  // More servers, tried after host:port (libpq's comma lists). Empty: one
  // server.
  std::vector<HostPort> additional_hosts;
  // Which server a connection may stay on; `any` is libpq's default and is
  // not written into the connection string.
  TargetSessionAttrs target_session_attrs = TargetSessionAttrs::any;
  // libpq 16+: `random` tries the servers in random order. `disable` is not
  // written into the connection string (any libpq accepts it that way);
  // `random` with an older libpq is a ConfigError (validate()).
  LoadBalanceHosts load_balance_hosts = LoadBalanceHosts::disable;
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

  // Every server in the order given: {host, port}, then additional_hosts.
  [[nodiscard]] std::vector<HostPort> hosts() const;
  // The servers for a message: "db.internal:5432", or with several
  // "db-a:5432, db-b:5433".
  [[nodiscard]] std::string hosts_text() const;

  // Throws ConfigError for what libpq would refuse or misread: an empty
  // host, a comma or port 0 in additional_hosts, load_balance_hosts = random
  // with a libpq older than 16. to_conninfo() checks the same;
  // PoolOptions::validate() calls it.
  void validate() const;

  // The mode connections use: `sslmode`, else kDefaultSslMode.
  [[nodiscard]] SslMode effective_sslmode() const noexcept {
    return sslmode.value_or(kDefaultSslMode);
  }

  // A libpq connection string without a password (libpq then falls back to
  // ~/.pgpass or PGPASSWORD, as it would for any client). Several servers
  // become libpq's lists, host='a,b' port='5432,5433'. Both forms throw
  // ConfigError for a NUL byte, for a user or dbname over 63 bytes
  // (PostgreSQL would cut it, and two long names would meet as one), and for
  // what validate() refuses.
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
