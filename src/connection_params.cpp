#include "pgobo/connection_params.hpp"

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

using detail::printable_excerpt;  // text.hpp

}  // namespace

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
  add("host", host);
  add("port", std::to_string(port));
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
