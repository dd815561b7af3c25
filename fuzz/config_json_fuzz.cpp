// Fuzzes the configuration readers (config.hpp): PoolConfig::from_json_text
// on the raw input, and PoolConfig::from_env / RoutingConfig::from_env over
// an environment lookup built from the input.
//
// Input: the first byte picks the reader; for the environment, the rest is
// NAME=VALUE lines separated by '\n' (values may hold any other byte).
//
// Properties:
// - Only ConfigError is thrown (no nlohmann exception, no std::logic_error…).
// - Its message is at most a few hundred bytes, one line, valid UTF-8, and
//   never holds a secret value given (password, client secret, workspace
//   token) that occurs once in the input and is not also in the message's
//   fixed text.
// - An accepted config passes validate() again and its connection turns into
//   a conninfo without error.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/config.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "config_json_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size() > 300 ? 300 : detail.size()), detail.data());
  std::abort();
}

std::size_t occurrences(std::string_view text, std::string_view part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

void check_message(std::string_view message, std::string_view input,
                   const std::vector<std::string>& secrets) {
  if (message.size() > 600) fail("message longer than 600 bytes", message);
  if (message.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    fail("line break or NUL in message", message);
  }
  try {
    (void)nlohmann::json(std::string(message)).dump();
  } catch (const nlohmann::json::exception&) {
    fail("message is not valid UTF-8", message);
  }
  for (const auto& secret : secrets) {
    // Short secrets and ones repeated elsewhere in the input may show up in
    // the message legitimately (as part of a key name or another value).
    if (secret.size() < 6 || occurrences(input, secret) != 1) continue;
    if (message.find(secret) != std::string_view::npos) fail("message shows a secret", secret);
  }
}

void check_accepted(const pgobo::PoolConfig& config) {
  try {
    config.validate();
    (void)config.pool.connection.to_conninfo();
    if (config.password) (void)config.pool.connection.to_conninfo(*config.password);
  } catch (const std::exception& e) {
    fail("an accepted config does not validate", e.what());
  }
}

template <class F>
void expect_config_error_only(F&& read, std::string_view input,
                              const std::vector<std::string>& secrets) {
  try {
    read();
  } catch (const pgobo::ConfigError& e) {
    check_message(e.what(), input, secrets);
  } catch (const std::exception& e) {
    fail("an exception other than ConfigError", e.what());
  }
}

constexpr std::string_view kSecretKeys[] = {"password", "client_secret", "workspace_token"};
constexpr std::string_view kSecretVariables[] = {"PGPASSWORD", "DATABRICKS_CLIENT_SECRET",
                                                 "DATABRICKS_TOKEN"};

void fuzz_json(std::string_view text) {
  std::vector<std::string> secrets;
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    for (const auto key : kSecretKeys) {
      const auto it = parsed.find(std::string(key));
      if (it != parsed.end() && it->is_string()) secrets.push_back(it->get<std::string>());
    }
  }
  expect_config_error_only([&] { check_accepted(pgobo::PoolConfig::from_json_text(text)); }, text,
                           secrets);

  // The same text inside a password: a syntax error there must not quote it.
  constexpr std::string_view kSecret = "fuzz-secret-Z9q8W7";
  if (text.find(kSecret) == std::string_view::npos) {
    const std::string wrapped =
        R"({"host":"h","database":"d","password":")" + std::string(kSecret) + std::string(text);
    expect_config_error_only([&] { check_accepted(pgobo::PoolConfig::from_json_text(wrapped)); },
                             wrapped, {std::string(kSecret)});
  }
}

void fuzz_env(std::string_view text, bool routing) {
  std::map<std::string, std::string, std::less<>> env;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (const auto eq = line.find('='); eq != std::string_view::npos) {
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    at = end + 1;
  }
  std::vector<std::string> secrets;
  for (const auto name : kSecretVariables) {
    if (const auto it = env.find(name); it != env.end()) secrets.push_back(it->second);
  }
  const pgobo::EnvLookup lookup = [&env](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  expect_config_error_only(
      [&] {
        if (routing) {
          check_accepted(pgobo::RoutingConfig::from_env(lookup).service);
        } else {
          check_accepted(pgobo::PoolConfig::from_env(lookup));
        }
      },
      text, secrets);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_json(text);
      break;
    case 1:
      fuzz_env(text, false);
      break;
    default:
      fuzz_env(text, true);
      break;
  }
  return 0;
}
