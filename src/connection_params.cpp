#include "pgobo/connection_params.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <string>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo {
namespace {

constexpr std::array<std::pair<SslMode, std::string_view>, 6> kSslModes{{
    {SslMode::disable, "disable"},
    {SslMode::allow, "allow"},
    {SslMode::prefer, "prefer"},
    {SslMode::require, "require"},
    {SslMode::verify_ca, "verify-ca"},
    {SslMode::verify_full, "verify-full"},
}};

// The server splits `options` into arguments at whitespace (isspace in the C
// locale) and treats backslash as an escape (pg_split_opts), so whitespace
// and backslashes in a setting's value are backslash-escaped.
std::string escape_option_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

constexpr std::array<std::pair<TargetSessionAttrs, std::string_view>, 6> kTargetSessionAttrs{{
    {TargetSessionAttrs::any, "any"},
    {TargetSessionAttrs::read_write, "read-write"},
    {TargetSessionAttrs::read_only, "read-only"},
    {TargetSessionAttrs::primary, "primary"},
    {TargetSessionAttrs::standby, "standby"},
    {TargetSessionAttrs::prefer_standby, "prefer-standby"},
}};

constexpr std::array<std::pair<LoadBalanceHosts, std::string_view>, 2> kLoadBalanceHosts{{
    {LoadBalanceHosts::disable, "disable"},
    {LoadBalanceHosts::random, "random"},
}};

// libpq 16 introduced load_balance_hosts; an older libpq refuses the
// connection string ("invalid connection option").
constexpr int kLoadBalanceHostsSince = 160000;

using detail::printable_excerpt;  // text.hpp

// The servers named by `host` (split at commas, as libpq splits it), all on
// `port`.
void append_host_list(std::vector<HostPort>& out, std::string_view host, std::uint16_t port) {
  for (;;) {
    const auto comma = host.find(',');
    out.push_back(HostPort{std::string(host.substr(0, comma)), port});
    if (comma == std::string_view::npos) return;
    host.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string to_string(const HostPort& server) {
  const bool ipv6 = server.host.find(':') != std::string::npos && !server.host.starts_with('/');
  std::string out = ipv6 ? "[" + server.host + "]" : server.host;
  return out + ":" + std::to_string(server.port);
}

std::string_view to_string(TargetSessionAttrs attrs) noexcept {
  for (const auto& [a, name] : kTargetSessionAttrs) {
    if (a == attrs) return name;
  }
  return "any";
}

TargetSessionAttrs parse_target_session_attrs(std::string_view text, std::string_view what) {
  for (const auto& [attrs, name] : kTargetSessionAttrs) {
    if (text == name) return attrs;
  }
  throw ConfigError(std::string(what) +
                    ": expected one of any, read-write, read-only, primary, standby, "
                    "prefer-standby");
}

std::string_view to_string(LoadBalanceHosts mode) noexcept {
  return mode == LoadBalanceHosts::random ? "random" : "disable";
}

LoadBalanceHosts parse_load_balance_hosts(std::string_view text, std::string_view what) {
  for (const auto& [mode, name] : kLoadBalanceHosts) {
    if (text == name) return mode;
  }
  throw ConfigError(std::string(what) + ": expected disable or random");
}

int libpq_version() noexcept { return PQlibVersion(); }

std::vector<HostPort> ConnectionParams::hosts() const {
  std::vector<HostPort> out;
  out.reserve(1 + additional_hosts.size());
  append_host_list(out, host, port);
  out.insert(out.end(), additional_hosts.begin(), additional_hosts.end());
  return out;
}

std::string ConnectionParams::hosts_text() const {
  std::string out;
  for (const HostPort& server : hosts()) {
    if (!out.empty()) out += ", ";
    out += to_string(server);
  }
  return out;
}

void ConnectionParams::validate() const {
  // `host` itself is passed as it always was (libpq reads an empty name in
  // a comma list as its default); only the servers added here are checked.
  for (std::size_t i = 0; i < additional_hosts.size(); ++i) {
    const HostPort& server = additional_hosts[i];
    const std::string which = "additional_hosts[" + std::to_string(i) + "]";
    if (server.host.empty()) throw ConfigError(which + ": the host name is empty");
    if (server.host.find(',') != std::string::npos) {
      throw ConfigError(which + ": host '" + printable_excerpt(server.host) +
                        "' contains a comma; give each server its own entry");
    }
    if (server.port == 0) {
      throw ConfigError(which + " (" + printable_excerpt(server.host) +
                        "): the port must be from 1 to 65535, not 0");
    }
  }
  if (load_balance_hosts == LoadBalanceHosts::random && libpq_version() < kLoadBalanceHostsSince) {
    const int version = libpq_version();
    throw ConfigError(
        "load_balance_hosts=random needs libpq 16 or newer, and this process runs "
        "libpq " +
        std::to_string(version / 10000) + "." + std::to_string(version % 10000) +
        ": unset it (PGLOADBALANCEHOSTS / JSON key 'load_balance_hosts'; the "
        "servers are then tried in the order given), or build against libpq 16+");
  }
}

bool is_server_setting_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string_view to_string(SslMode mode) noexcept {
  for (const auto& [m, name] : kSslModes) {
    if (m == mode) return name;
  }
  return "require";
}

SslMode parse_ssl_mode(std::string_view text, std::string_view what) {
  for (const auto& [mode, name] : kSslModes) {
    if (text == name) return mode;
  }
  throw ConfigError(std::string(what) +
                    ": expected one of disable, allow, prefer, require, verify-ca, verify-full");
}

std::string quote_conninfo_value(std::string_view value, std::string_view what) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '\'';
  for (char c : value) {
    if (c == '\0')
      throw ConfigError(std::string(what) + " contains a NUL byte, which libpq cannot carry");
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

namespace {

// PostgreSQL keeps names of at most NAMEDATALEN - 1 = 63 bytes and cuts
// longer ones silently, so two long user keys would log in as one role.
void check_name_length(std::string_view value, std::string_view what) {
  constexpr std::size_t kMaxNameBytes = 63;
  if (value.size() <= kMaxNameBytes) return;
  throw ConfigError(std::string(what) + " is " + std::to_string(value.size()) +
                    " bytes; PostgreSQL cuts names at 63 bytes, so two longer names would meet as "
                    "one. Use a shorter name (for user pools: a role_for that maps long keys to "
                    "roles of at most 63 bytes)");
}

}  // namespace

std::string ConnectionParams::to_conninfo() const {
  std::string out;
  auto add = [&out](std::string_view key, std::string_view value) {
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    out += quote_conninfo_value(value, key);
  };
  validate();
  if (additional_hosts.empty()) {
    // One server (or a comma-separated host on one port, which libpq
    // splits): exactly what pgobo has always written.
    add("host", host);
    add("port", std::to_string(port));
  } else {
    std::string hosts_list = host;
    std::string ports = std::to_string(port);
    // A comma-separated `host` is several servers on `port`: one port each,
    // or libpq would not match the two lists.
    const auto in_host = std::count(host.begin(), host.end(), ',') + 1;
    for (std::ptrdiff_t i = 1; i < in_host; ++i) {
      ports += "," + std::to_string(port);
    }
    for (const HostPort& server : additional_hosts) {
      hosts_list += "," + server.host;
      ports += "," + std::to_string(server.port);
    }
    add("host", hosts_list);
    add("port", ports);
  }
  if (target_session_attrs != TargetSessionAttrs::any) {
    add("target_session_attrs", to_string(target_session_attrs));
  }
  if (load_balance_hosts != LoadBalanceHosts::disable) {
    add("load_balance_hosts", to_string(load_balance_hosts));
  }
  add("dbname", dbname);
  if (!user.empty()) add("user", user);
  add("sslmode", to_string(effective_sslmode()));
  if (!sslrootcert.empty()) add("sslrootcert", sslrootcert);
  if (!application_name.empty()) add("application_name", application_name);
  if (connect_timeout.count() > 0) add("connect_timeout", std::to_string(connect_timeout.count()));
  if (!settings.empty()) {
    std::string options;
    for (const auto& [name, value] : settings) {
      if (!is_server_setting_name(name)) {
        throw ConfigError("server setting name '" + printable_excerpt(name) +
                          "' is not a PostgreSQL setting name (letters, digits, _ and .)");
      }
      if (value.find('\0') != std::string::npos) {
        throw ConfigError("server setting '" + name +
                          "' contains a NUL byte, which libpq cannot carry");
      }
      if (!options.empty()) options += ' ';
      options += "-c " + name + "=" + escape_option_value(value);
    }
    add("options", options);
  }
  // After the NUL checks, which name the worse problem.
  check_name_length(user, "user (the role)");
  check_name_length(dbname, "dbname");
  return out;
}

std::string ConnectionParams::to_conninfo(const Secret& password) const {
  std::string out = to_conninfo();
  out += " password=";
  out += quote_conninfo_value(password.reveal(), "password");
  return out;
}

}  // namespace pgobo
