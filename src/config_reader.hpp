// src/config_reader.hpp (private) — the one way pgobo reads settings from the
// environment and from JSON.
//
//   constexpr std::array<detail::ConfigField<PoolConfig>, 2> kFields{{
//       {"PGHOST", "host", false, [](PoolConfig& c, const detail::ConfigValue& v) {
//          c.pool.connection.host = v.non_empty_string("the PostgreSQL host name"); }},
//       ...}};
//   detail::read_env(kFields, config, lookup);
//   detail::read_json(kFields, config, json, &keys_of_the_layers_above);
//
// Each layer (PoolConfig, RoutingConfig, databricks::AppConfig) keeps one
// table of its settings; they all parse, bound and report values the same
// way, and docs/configuration.md mirrors the tables.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/config.hpp"

namespace pgobo {
struct RoutingConfig;
}

namespace pgobo::detail {

// Where a setting came from, for messages: its environment variable, its
// JSON key, or (built in code) both names.
enum class ConfigOrigin { env, json, code };

inline constexpr std::int64_t kMaxConfigMilliseconds = 31LL * 24 * 60 * 60 * 1000;  // 31 days
inline constexpr std::int64_t kMaxConfigPoolSize = 100'000;

// One configured value, from an environment variable or a JSON key. Every
// accessor throws ConfigError naming the variable or key and what is
// expected; a secret value is never quoted.
class ConfigValue {
 public:
  ConfigValue(std::string name, std::string text, bool secret);
  ConfigValue(std::string name, const nlohmann::json* json, bool secret);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const nlohmann::json* json() const noexcept { return json_; }

  [[noreturn]] void reject(std::string_view expected) const;

  // Without NUL bytes: every string setting ends up in a C string.
  [[nodiscard]] std::string string() const;
  // Also without control characters: sent in an HTTP header.
  [[nodiscard]] std::string header_safe_string() const;
  [[nodiscard]] std::string non_empty_string(std::string_view expected) const;
  // A role or database name: at most 63 bytes (PostgreSQL cuts longer ones).
  [[nodiscard]] std::string postgres_name(std::string_view expected, bool required) const;
  [[nodiscard]] std::int64_t integer(std::int64_t min, std::int64_t max,
                                     std::string_view expected) const;
  // 0 to 31 days.
  [[nodiscard]] std::chrono::milliseconds milliseconds() const;
  // A connection count from `min` to 100,000.
  [[nodiscard]] std::size_t pool_size(std::int64_t min) const;
  [[nodiscard]] double number(std::string_view expected) const;
  // JSON true/false; in the environment true/false, 1/0, yes/no, on/off.
  [[nodiscard]] bool flag() const;

 private:
  std::string name_;
  std::string text_;
  const nlohmann::json* json_ = nullptr;
  bool secret_ = false;
};

template <class Config>
struct ConfigField {
  std::string_view env;   // the environment variable ("" = JSON only)
  std::string_view json;  // the JSON key ("" = environment only)
  bool secret;            // never quoted in messages
  void (*apply)(Config&, const ConfigValue&);
};

// "PGHOST", "JSON key 'host'" or "host (PGHOST / JSON key 'host')".
[[nodiscard]] std::string config_label(ConfigOrigin origin, std::string_view env,
                                       std::string_view json_key);

// Throws ConfigError unless `json` is an object.
void require_json_object(const nlohmann::json& json);

// Throws ConfigError for an unknown key, with a "did you mean" among `known`.
[[noreturn]] void reject_unknown_json_key(std::string_view key,
                                          std::span<const std::string_view> known);

// The text parsed with the depth bound; syntax errors are ConfigErrors that
// never quote the text (it may hold a password).
[[nodiscard]] nlohmann::json parse_config_json_text(std::string_view text);

// Applies every variable of `fields` that `lookup` finds non-empty.
template <class Config, std::size_t N>
void read_env(const std::array<ConfigField<Config>, N>& fields, Config& config,
              const EnvLookup& lookup) {
  for (const auto& field : fields) {
    if (field.env.empty()) continue;
    std::optional<std::string> value = lookup(field.env);
    if (!value || value->empty()) continue;
    field.apply(config, ConfigValue(std::string(field.env), std::move(*value), field.secret));
  }
}

// Applies the keys of `json` (an object) that `fields` knows; null counts as
// absent. With `elsewhere`, any other key must be in it (the keys of the
// layers read from the same object) or is rejected; without, other keys are
// left to the layer that checks them. Nothing of `json` is copied: a value
// built in code may be nested deep enough to overflow the stack when copied.
template <class Config, std::size_t N>
void read_json(const std::array<ConfigField<Config>, N>& fields, Config& config,
               const nlohmann::json& json, const std::vector<std::string_view>* elsewhere) {
  require_json_object(json);
  for (const auto& [key, value] : json.items()) {
    const ConfigField<Config>* found = nullptr;
    for (const auto& field : fields) {
      if (!field.json.empty() && field.json == key) found = &field;  // "": environment only
    }
    if (found == nullptr) {
      if (elsewhere == nullptr) continue;
      bool known = false;
      for (const std::string_view other : *elsewhere) known = known || other == key;
      if (known) continue;
      std::vector<std::string_view> candidates(*elsewhere);
      for (const auto& field : fields) {
        if (!field.json.empty()) candidates.push_back(field.json);
      }
      reject_unknown_json_key(key, candidates);
    }
    if (value.is_null()) continue;
    found->apply(config, ConfigValue("JSON key '" + key + "'", &value, found->secret));
  }
}

// The JSON keys of `fields`.
template <class Config, std::size_t N>
void append_json_keys(const std::array<ConfigField<Config>, N>& fields,
                      std::vector<std::string_view>& keys) {
  for (const auto& field : fields) {
    if (!field.json.empty()) keys.push_back(field.json);
  }
}

// The readers of the layers below, for a layer above that reads the same
// JSON object: `elsewhere` holds the keys of the layers above.
[[nodiscard]] PoolConfig pool_config_from_json(const nlohmann::json& json,
                                               const std::vector<std::string_view>& elsewhere);
[[nodiscard]] RoutingConfig routing_config_from_json(
    const nlohmann::json& json, const std::vector<std::string_view>& elsewhere);

}  // namespace pgobo::detail
