// Fuzzes the configuration readers (config.hpp, databricks/config.hpp):
// databricks::AppConfig::from_json_text (every layer's keys) on the raw input,
// and AppConfig::from_env / RoutingConfig::from_env over an environment
// lookup built from the input.
//
// Input: the first byte picks the reader; for the environment, the rest is
// NAME=VALUE lines separated by '\n' (values may hold any other byte).
//
// Properties:
// - Only ConfigError is thrown (no nlohmann exception, no std::logic_error…).
// - Its message is at most a few hundred bytes, one line and valid UTF-8.
// - Messages do not depend on secret values: with every password, client
//   secret and workspace token replaced by another of the same length and
//   control bytes, each reader gives the same message; and a syntax error
//   inside a password never quotes it.
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
#include "pgobo/databricks/config.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "config_json_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size() > 300 ? 300 : detail.size()), detail.data());
  std::abort();
}

void check_message(std::string_view message) {
  if (message.size() > 600) fail("message longer than 600 bytes", message);
  if (message.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    fail("line break or NUL in message", message);
  }
  try {
    (void)nlohmann::json(std::string(message)).dump();
  } catch (const nlohmann::json::exception&) {
    fail("message is not valid UTF-8", message);
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

void check_accepted(const pgobo::databricks::AppConfig& config) {
  try {
    config.validate();
  } catch (const std::exception& e) {
    fail("an accepted Databricks config does not validate", e.what());
  }
  check_accepted(config.routing.service);
}

// Runs a reader: "" when it accepts (and the config checks out), else its
// ConfigError's message, checked. Any other exception is a failure.
template <class F>
std::string message_of(F&& read) {
  try {
    check_accepted(read());
    return {};
  } catch (const pgobo::ConfigError& e) {
    check_message(e.what());
    return e.what();
  } catch (const std::exception& e) {
    fail("an exception other than ConfigError", e.what());
  }
}

// A secret of the same length and the same control bytes (all validity
// depends on), every other byte changed: a message that differs between the
// two depends on the secret's value.
std::string masked(std::string_view secret) {
  std::string out(secret);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) c = (c == 'Q') ? 'R' : 'Q';
  }
  return out;
}

constexpr std::string_view kSecretKeys[] = {"password", "client_secret", "workspace_token"};
constexpr std::string_view kSecretVariables[] = {"PGPASSWORD", "DATABRICKS_CLIENT_SECRET",
                                                 "DATABRICKS_TOKEN"};

void fuzz_json(std::string_view text) {
  (void)message_of([&] { return pgobo::databricks::AppConfig::from_json_text(text); });

  // Messages do not depend on secret values.
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    nlohmann::json other = parsed;
    bool changed = false;
    for (const auto key : kSecretKeys) {
      const auto it = other.find(std::string(key));
      if (it != other.end() && it->is_string()) {
        *it = masked(it->get<std::string>());
        changed = true;
      }
    }
    if (changed && message_of([&] { return pgobo::databricks::AppConfig::from_json(parsed); }) !=
                       message_of([&] { return pgobo::databricks::AppConfig::from_json(other); })) {
      fail("a message depends on a secret value", text);
    }
  }

  // The same text inside a password: a syntax error there must not quote it.
  constexpr std::string_view kSecret = "fuzz-secret-Z9q8W7";
  if (text.find(kSecret) == std::string_view::npos) {
    const std::string wrapped =
        R"({"host":"h","database":"d","password":")" + std::string(kSecret) + std::string(text);
    const std::string message =
        message_of([&] { return pgobo::databricks::AppConfig::from_json_text(wrapped); });
    if (message.find(kSecret) != std::string::npos) fail("message shows the password", message);
  }
}

using Env = std::map<std::string, std::string, std::less<>>;

std::string env_message(const Env& env, bool routing) {
  const pgobo::EnvLookup lookup = [&env](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return message_of([&] {
    return routing ? pgobo::RoutingConfig::from_env(lookup).service
                   : pgobo::databricks::AppConfig::from_env(lookup).routing.service;
  });
}

void fuzz_env(std::string_view text, bool routing) {
  Env env;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (const auto eq = line.find('='); eq != std::string_view::npos) {
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    at = end + 1;
  }
  const std::string message = env_message(env, routing);

  Env other = env;
  bool changed = false;
  for (const auto name : kSecretVariables) {
    if (const auto it = other.find(name); it != other.end()) {
      it->second = masked(it->second);
      changed = true;
    }
  }
  if (changed && env_message(other, routing) != message) {
    fail("a message depends on a secret value", text);
  }
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
