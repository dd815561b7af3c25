// src/databricks/auth_config.hpp (private) — how AppConfig picks the
// workspace credential: DATABRICKS_AUTH_TYPE, the configuration profile
// (~/.databrickscfg) and the Databricks CLI, in the SDKs' order.
//
// The rules, from the Databricks SDKs (databricks-sdk-go config/config_file.go
// and auth_default.go; databricks-sdk-py config.py `_known_file_config_loader`
// and credentials_provider.py `DefaultCredentials`):
//   - environment variables (or JSON keys) win over the profile, key by key;
//   - without an explicitly named profile, the file is not read at all when
//     the environment already sets a host or a credential (so a DEFAULT
//     profile's token is never sent to another workspace's host);
//   - a named profile that is missing, or a named file that is missing, is
//     an error; a missing default ~/.databrickscfg is no profile;
//   - without an auth type: PAT, then OAuth M2M, then the CLI.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "config_reader.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/profile.hpp"

namespace pgobo::databricks::detail {

using AuthField = pgobo::detail::ConfigField<LakebaseConfig>;

inline constexpr std::array<AuthField, 4> kAuthFields{{
    {"DATABRICKS_AUTH_TYPE", "auth_type", false,
     [](LakebaseConfig& c, const pgobo::detail::ConfigValue& v) {
       c.auth_type = v.string();
       if (!c.auth_type.empty() && !is_supported_auth_type(c.auth_type)) {
         v.reject(
             "pat, oauth-m2m or databricks-cli (pgobo supports no other Databricks auth type)");
       }
     }},
    {"DATABRICKS_CONFIG_PROFILE", "config_profile", false,
     [](LakebaseConfig& c, const pgobo::detail::ConfigValue& v) { c.config_profile = v.string(); }},
    {"DATABRICKS_CONFIG_FILE", "config_file", false,
     [](LakebaseConfig& c, const pgobo::detail::ConfigValue& v) { c.config_file = v.string(); }},
    {"DATABRICKS_CLI_PATH", "databricks_cli_path", false,
     [](LakebaseConfig& c, const pgobo::detail::ConfigValue& v) {
       c.databricks_cli_path = v.string();
     }},
}};

// After the environment's (or JSON's) values are in `lakebase`: reads the
// profile they select into the fields still unset (only when Lakebase is in
// use and the rules above say so), and resolves the CLI's executable with
// `path` (PATH; nullopt: not searched) when the CLI may be needed. `home` is
// HOME (nullopt for JSON: no default file). Throws ConfigError.
void apply_profile(LakebaseConfig& lakebase, pgobo::detail::ConfigOrigin origin,
                   const std::optional<std::string>& home, const std::optional<std::string>& path);

// The credential make_workspace_token() uses: "pat", "oauth-m2m",
// "databricks-cli", or "" when none is configured. `cli_found`: the CLI's
// executable exists (the chain's last step needs it; a forced databricks-cli
// does not).
[[nodiscard]] std::string_view effective_auth_type(const LakebaseConfig& lakebase, bool cli_found);

// The CLI executable: databricks_cli_path if it is a path, else the name
// (default "databricks") looked up in `path`. Empty if not found.
[[nodiscard]] std::string find_databricks_cli(const LakebaseConfig& lakebase,
                                              const std::optional<std::string>& path);

// The process's PATH (for configurations built in code).
[[nodiscard]] std::optional<std::string> process_path();

// ", or a profile of ~/.databrickscfg (DATABRICKS_CONFIG_PROFILE)" etc. for
// messages about a missing workspace setting; names the profile read, if any.
[[nodiscard]] std::string profile_hint(const LakebaseConfig& lakebase,
                                       pgobo::detail::ConfigOrigin origin);

}  // namespace pgobo::databricks::detail
