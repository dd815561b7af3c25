#include "config_reader.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "json_limits.hpp"
#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo::detail {

ConfigValue::ConfigValue(std::string name, std::string text, bool secret)
    : name_(std::move(name)), text_(std::move(text)), secret_(secret) {}

ConfigValue::ConfigValue(std::string name, const nlohmann::json* json, bool secret)
    : name_(std::move(name)), json_(json), secret_(secret) {}

void ConfigValue::reject(std::string_view expected) const {
  if (secret_) throw ConfigError(fmt::format("{}: expected {}", name_, expected));
  // Never dump() the value: it may be nested deep enough to overflow the
  // stack (a JSON value built in code is not bounded by from_json_text), or
  // be megabytes long. Its type and a short excerpt say enough.
  const std::string got =
      json_ ? describe_json_value(*json_) : "'" + printable_excerpt(text_) + "'";
  throw ConfigError(fmt::format("{}: expected {}, got {}", name_, expected, got));
}

std::string ConfigValue::string() const {
  if (json_ && !json_->is_string()) reject("a string");
  std::string value = json_ ? json_->get<std::string>() : text_;
  if (value.find('\0') != std::string::npos) {
    throw ConfigError(fmt::format("{}: must not contain a NUL byte", name_));
  }
  return value;
}

std::string ConfigValue::header_safe_string() const {
  std::string value = string();
  if (has_control_character(value)) {
    throw ConfigError(fmt::format(
        "{}: must not contain control characters (CR, LF...): it is sent in an HTTP header",
        name_));
  }
  return value;
}

std::string ConfigValue::non_empty_string(std::string_view expected) const {
  std::string value = string();
  if (value.empty()) reject(expected);
  return value;
}

std::string ConfigValue::postgres_name(std::string_view expected, bool required) const {
  std::string value = required ? non_empty_string(expected) : string();
  // PostgreSQL cuts names past 63 bytes without a word, so two longer
  // names would meet as one.
  constexpr std::size_t kMaxNameBytes = 63;
  if (value.size() > kMaxNameBytes) {
    throw ConfigError(fmt::format("{}: {} is {} bytes; PostgreSQL cuts names at 63 bytes", name_,
                                  expected, value.size()));
  }
  return value;
}

std::int64_t ConfigValue::integer(std::int64_t min, std::int64_t max,
                                  std::string_view expected) const {
  std::int64_t value = 0;
  if (json_) {
    if (json_->is_number_unsigned()) {
      if (json_->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) reject(expected);
      value = static_cast<std::int64_t>(json_->get<std::uint64_t>());
    } else if (json_->is_number_integer()) {
      value = json_->get<std::int64_t>();
    } else {
      reject(expected);
    }
  } else {
    const char* first = text_.data();
    const char* last = first + text_.size();
    const auto [end, error] = std::from_chars(first, last, value);
    if (error != std::errc() || end != last) reject(expected);
  }
  if (value < min || value > max) reject(expected);
  return value;
}

std::chrono::milliseconds ConfigValue::milliseconds() const {
  return std::chrono::milliseconds{
      integer(0, kMaxConfigMilliseconds,
              fmt::format("a whole number of milliseconds from 0 to {} (31 days)",
                          kMaxConfigMilliseconds))};
}

std::size_t ConfigValue::pool_size(std::int64_t min) const {
  return static_cast<std::size_t>(
      integer(min, kMaxConfigPoolSize,
              fmt::format("a whole number from {} to {}", min, kMaxConfigPoolSize)));
}

double ConfigValue::number(std::string_view expected) const {
  double value = 0;
  if (json_) {
    if (!json_->is_number()) reject(expected);
    value = json_->get<double>();
  } else {
    const std::optional<double> parsed = parse_decimal(text_);
    if (!parsed) reject(expected);
    value = *parsed;
  }
  if (!std::isfinite(value)) reject(expected);
  return value;
}

bool ConfigValue::flag() const {
  if (json_) {
    if (!json_->is_boolean()) reject("true or false");
    return json_->get<bool>();
  }
  if (text_ == "1" || text_ == "true" || text_ == "yes" || text_ == "on") return true;
  if (text_ == "0" || text_ == "false" || text_ == "no" || text_ == "off") return false;
  reject("true or false (or 1/0, yes/no, on/off)");
}

std::string config_label(ConfigOrigin origin, std::string_view env, std::string_view json_key) {
  switch (origin) {
    case ConfigOrigin::env:
      return std::string(env);
    case ConfigOrigin::json:
      return fmt::format("JSON key '{}'", json_key);
    case ConfigOrigin::code:
      break;
  }
  return fmt::format("{} ({} / JSON key '{}')", json_key, env, json_key);
}

void require_json_object(const nlohmann::json& json) {
  if (!json.is_object()) {
    throw ConfigError("the JSON configuration must be an object, got " +
                      std::string(json.type_name()));
  }
}

void reject_unknown_json_key(std::string_view key, std::span<const std::string_view> known) {
  // Every key that `key` is the first word of: "lakebase" may mean
  // lakebase_endpoint or lakebase_instance_name, and naming one would guess.
  std::string matches;
  for (const std::string_view candidate : known) {
    if (candidate.substr(0, key.size()) == key && candidate.size() > key.size() &&
        candidate[key.size()] == '_') {
      matches += fmt::format("{}'{}'", matches.empty() ? "" : " or ", candidate);
    }
  }
  const std::string hint = matches.empty() ? "" : fmt::format(" (did you mean {}?)", matches);
  throw ConfigError(fmt::format("unknown JSON key '{}'{}; see docs/configuration.md",
                                printable_excerpt(key), hint));
}

nlohmann::json parse_config_json_text(std::string_view text) {
  try {
    return parse_json_bounded(text);
  } catch (const JsonTooDeep& e) {
    throw ConfigError(fmt::format(
        "the JSON configuration is too deeply nested: {} (no setting needs more than 2)",
        e.what()));
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message ends with "; last read: '<the text around the
    // error>'", which may be a password: keep only what comes before.
    std::string_view message = e.what();
    if (const auto last_read = message.find("; last read:"); last_read != std::string_view::npos) {
      message = message.substr(0, last_read);
    }
    throw ConfigError(fmt::format("the JSON configuration is not valid JSON: {}", message));
  }
}

}  // namespace pgobo::detail
