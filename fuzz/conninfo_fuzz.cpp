// Fuzzes conninfo quoting (connection_params.hpp) against libpq's own parser.
//
// Input: up to six values separated by '\x01': host, dbname, user,
// application_name, password and one server setting's value.
//
// Properties:
// - A value holding a NUL byte is a ConfigError whose message is a fixed text
//   naming the field (so it never shows the password); nothing else is thrown.
// - Otherwise PQconninfoParse() reads back exactly each value given (user
//   and application_name are left out when empty), and `options` undoes to
//   "-c app.fuzz=<value>" by the server's backslash rule (pg_split_opts).
// - quote_conninfo_value() alone round-trips any NUL-free value.
// - A name other than letters, digits, _ and . is refused as a setting name.
#include <libpq-fe.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/connection_params.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/secret.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "conninfo_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size() > 300 ? 300 : detail.size()), detail.data());
  std::abort();
}

// keyword → value as libpq parses `conninfo`; aborts if libpq cannot parse it.
std::vector<std::pair<std::string, std::optional<std::string>>> parse(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) fail("libpq cannot parse the conninfo", error ? error : "no memory");
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    out.emplace_back(o->keyword, o->val ? std::optional<std::string>(o->val) : std::nullopt);
  }
  PQconninfoFree(options);
  return out;
}

std::optional<std::string> value_of(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& parsed,
    std::string_view keyword) {
  for (const auto& [k, v] : parsed) {
    if (k == keyword) return v;
  }
  return std::nullopt;
}

std::string unescape_options(std::string_view options) {
  std::string out;
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (options[i] == '\\' && i + 1 < options.size()) ++i;
    out += options[i];
  }
  return out;
}

bool setting_name_ok(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::array<std::string, 6> values;
  std::size_t field = 0;
  for (const char c : input) {
    if (c == '\x01' && field + 1 < values.size()) {
      ++field;
    } else {
      values[field] += c;
    }
  }
  const auto& [host, dbname, user, application_name, password, setting] = values;

  pgobo::ConnectionParams params;
  params.host = host;
  params.dbname = dbname;
  params.user = user;
  params.application_name = application_name;
  params.settings = {{"app.fuzz", setting}};
  const pgobo::Secret secret(password);

  bool any_nul = false;
  for (const auto& v : values) any_nul = any_nul || v.find('\0') != std::string::npos;

  std::string conninfo;
  try {
    conninfo = params.to_conninfo(secret);
  } catch (const pgobo::ConfigError& e) {
    if (!any_nul) fail("ConfigError for a NUL-free input", e.what());
    // The message is one of the fixed texts: it names the field, so it can
    // never show the password (or any other value).
    const std::string_view message = e.what();
    bool known =
        message == "server setting 'app.fuzz' contains a NUL byte, which libpq cannot carry";
    for (const std::string_view name : {"host", "dbname", "user", "application_name", "password"}) {
      known =
          known || message == std::string(name) + " contains a NUL byte, which libpq cannot carry";
    }
    if (!known) fail("unexpected message", message);
    return 0;
  }
  if (any_nul) fail("to_conninfo accepted a NUL byte");

  const auto parsed = parse(conninfo);
  const auto expect = [&](std::string_view keyword, const std::string& value, bool omit_empty) {
    const auto got = value_of(parsed, keyword);
    if (omit_empty && value.empty()) {
      if (got.has_value()) fail("an empty value was written", keyword);
      return;
    }
    if (got != value) fail("value did not round-trip", keyword);
  };
  expect("host", host, false);
  expect("dbname", dbname, false);
  expect("user", user, true);
  expect("application_name", application_name, true);
  expect("password", password, false);
  const auto options = value_of(parsed, "options");
  if (!options || unescape_options(*options) != "-c app.fuzz=" + setting) {
    fail("server setting did not round-trip", options.value_or("(absent)"));
  }

  // The raw quoting function, on the whole input.
  if (input.find('\0') == std::string_view::npos) {
    const auto back =
        value_of(parse("password=" + pgobo::quote_conninfo_value(input, "fuzz")), "password");
    if (back != std::string(input)) fail("quote_conninfo_value did not round-trip");
  }

  // The setting name check.
  pgobo::ConnectionParams named;
  named.settings = {{host, "1"}};
  try {
    (void)named.to_conninfo();
    if (!setting_name_ok(host)) fail("accepted a malformed setting name", host);
  } catch (const pgobo::ConfigError& e) {
    if (setting_name_ok(host)) fail("refused a well-formed setting name", e.what());
  }
  return 0;
}
