#include "databricks/auth_config.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cstdlib>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo::databricks::detail {
namespace {

using pgobo::detail::ConfigOrigin;

std::string shown(std::string_view text) { return pgobo::detail::printable_excerpt(text, 120); }

std::string label(ConfigOrigin origin, std::string_view json_key) {
  for (const auto& field : kAuthFields) {
    if (field.json == json_key) return pgobo::detail::config_label(origin, field.env, field.json);
  }
  return std::string(json_key);
}

// Fills what the environment (or JSON) left unset; environment wins, key by key.
void merge(LakebaseConfig& c, const DatabricksProfile& profile) {
  const std::string where =
      fmt::format("{}, profile '{}'", shown(profile.file), shown(profile.name));
  const std::string profile_host =
      profile.host.empty() ? std::string()
                           : normalize_workspace_url(profile.host, where + ", key 'host'");
  // A profile's secret belongs to the profile's workspace: it is never sent
  // to another host named in the environment.
  const bool takes_secret = (c.workspace_token.empty() && !profile.token.empty()) ||
                            (c.client_secret.empty() && !profile.client_secret.empty());
  if (takes_secret && !c.workspace_url.empty() && !profile_host.empty() &&
      profile_host != c.workspace_url) {
    throw ConfigError(fmt::format(
        "{} is for the workspace {}, but the workspace URL in use is {}: its credentials are "
        "not sent to another workspace; name the profile of that workspace, or unset the "
        "workspace URL to use this profile's",
        where, shown(profile_host), shown(c.workspace_url)));
  }
  if (c.workspace_url.empty() && !profile_host.empty()) c.workspace_url = profile_host;
  if (c.workspace_token.empty() && !profile.token.empty()) c.workspace_token = profile.token;
  if (c.client_id.empty() && !profile.client_id.empty()) c.client_id = profile.client_id;
  if (c.client_secret.empty() && !profile.client_secret.empty()) {
    c.client_secret = profile.client_secret;
  }
  if (c.auth_type.empty() && !profile.auth_type.empty()) {
    if (!is_supported_auth_type(profile.auth_type)) {
      throw ConfigError(fmt::format(
          "{}: auth_type '{}' is not supported by pgobo; it supports pat (a token), oauth-m2m "
          "(client_id and client_secret) and databricks-cli (`databricks auth login`)",
          where, pgobo::detail::printable_excerpt(profile.auth_type)));
    }
    c.auth_type = profile.auth_type;
  }
  const bool has_supported = !c.auth_type.empty() || !c.workspace_token.empty() ||
                             (!c.client_id.empty() && !c.client_secret.empty());
  if (!has_supported && !profile.unsupported_auth_keys.empty()) {
    std::string keys;
    for (const auto& key : profile.unsupported_auth_keys) keys += (keys.empty() ? "" : ", ") + key;
    throw ConfigError(fmt::format(
        "{} configures an authentication method pgobo does not support ({}); pgobo supports a "
        "personal access token (token), OAuth M2M (client_id and client_secret) and the "
        "Databricks CLI (auth_type = databricks-cli, after `databricks auth login`)",
        where, keys));
  }
  c.config_profile = profile.name;
  c.config_file = profile.file;
}

}  // namespace

void apply_profile(LakebaseConfig& c, ConfigOrigin origin, const std::optional<std::string>& home,
                   const std::optional<std::string>& path) {
  const bool explicit_profile = !c.config_profile.empty();
  const bool explicit_file = !c.config_file.empty();
  if (origin == ConfigOrigin::json && explicit_profile && !explicit_file) {
    throw ConfigError(
        "JSON key 'config_profile' needs JSON key 'config_file' too: from_json reads no "
        "environment variable, so it does not look for ~/.databrickscfg");
  }
  const bool configured = !c.workspace_url.empty() || !c.workspace_token.empty() ||
                          !c.client_id.empty() || !c.client_secret.empty();
  ProfileRequest request;
  request.config_file = c.config_file;
  request.profile = c.config_profile;
  request.home = home.value_or("");
  request.config_file_label = label(origin, "config_file");
  request.profile_label = label(origin, "config_profile");
  c.config_profile.clear();
  c.config_file.clear();
  // The SDKs read no profile when the environment configures the workspace
  // and names none (databricks-sdk-go issue 304).
  const bool read = explicit_profile || (!configured && (explicit_file || home.has_value()));
  if (read) {
    if (const std::optional<DatabricksProfile> profile = load_databricks_profile(request)) {
      merge(c, *profile);
    }
  } else if (explicit_file) {
    // Not read, but a file named that is not there is a mistake to report.
    std::string file = request.config_file;
    if ((file == "~" || file.starts_with("~/")) && !request.home.empty()) {
      file = request.home + file.substr(1);
    }
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) {
      throw ConfigError(
          fmt::format("{}: {} does not exist", request.config_file_label, shown(file)));
    }
  }
  if (effective_auth_type(c, true) == "databricks-cli") {
    // Resolved now, with this configuration's PATH: the token is fetched later.
    if (std::string found = find_databricks_cli(c, path); !found.empty()) {
      c.databricks_cli_path = std::move(found);
    }
  }
}

std::string_view effective_auth_type(const LakebaseConfig& c, bool cli_found) {
  if (!c.auth_type.empty()) return c.auth_type;
  if (!c.workspace_token.empty()) return "pat";
  if (!c.client_id.empty() && !c.client_secret.empty()) return "oauth-m2m";
  if (c.client_id.empty() && c.client_secret.empty() && cli_found) return "databricks-cli";
  return {};
}

std::string find_databricks_cli(const LakebaseConfig& c, const std::optional<std::string>& path) {
  const std::string name = c.databricks_cli_path.empty() ? "databricks" : c.databricks_cli_path;
  if (name.find('/') != std::string::npos) return find_executable(name, {});
  return path ? find_executable(name, *path) : std::string();
}

std::optional<std::string> process_path() {
  // As process_env in config.cpp: safe unless someone calls setenv concurrently.
  const char* value = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string profile_hint(const LakebaseConfig& c, ConfigOrigin origin) {
  if (!c.config_profile.empty()) {
    return fmt::format(" (nor does profile '{}' of {})", shown(c.config_profile),
                       shown(c.config_file));
  }
  switch (origin) {
    case ConfigOrigin::env:
      return "; or name a profile of ~/.databrickscfg with DATABRICKS_CONFIG_PROFILE "
             "(DATABRICKS_CONFIG_FILE for another file)";
    case ConfigOrigin::json:
      return "; or name a profile with JSON keys 'config_file' and 'config_profile'";
    case ConfigOrigin::code:
      break;
  }
  return "; or read a profile of ~/.databrickscfg with AppConfig::from_env "
         "(DATABRICKS_CONFIG_PROFILE)";
}

}  // namespace pgobo::databricks::detail
