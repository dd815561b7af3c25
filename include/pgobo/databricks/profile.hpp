// pgobo/databricks/profile.hpp — local development the way Databricks users
// work: a profile of the Databricks configuration file (~/.databrickscfg), and
// the workspace token the Databricks CLI holds after `databricks auth login`.
//
//   // the profile DATABRICKS_CONFIG_PROFILE names, of DATABRICKS_CONFIG_FILE:
//   pgobo::databricks::ProfileRequest request;
//   request.profile = "dev";
//   request.home = "/home/me";                      // for ~/.databrickscfg
//   auto profile = pgobo::databricks::load_databricks_profile(request);
//
//   // the user's OAuth token, as `databricks auth token --host … --profile dev` prints it:
//   pgobo::databricks::DatabricksCliToken::Options cli;
//   cli.workspace_url = "https://adb-123.azuredatabricks.net";
//   cli.profile = "dev";
//   auto token = std::make_shared<pgobo::databricks::DatabricksCliToken>(std::move(cli));
//
// databricks::AppConfig::from_env() does both when the environment names no
// credential (docs/credentials.md, "Local development: profiles and the
// Databricks CLI"). The file format follows the Databricks SDKs' config
// loaders (databricks-sdk-go config/config_file.go, databricks-sdk-py
// config.py `_known_file_config_loader`); the CLI call follows their
// `databricks-cli` credentials provider (databricks-sdk-go
// config/cli_token_source.go).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgobo/credentials.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/secret.hpp"

namespace pgobo::databricks {

// The keys of one profile that pgobo reads. Other keys (account_id,
// cluster_id, …) are ignored; an empty value counts as unset, as in the SDKs.
struct DatabricksProfile {
  std::string name;  // the section name, e.g. "DEFAULT"
  std::string file;  // the file it was read from, for messages
  std::string host;  // as written (AppConfig normalises it)
  Secret token;
  std::string client_id;
  Secret client_secret;
  std::string auth_type;
  // Keys of Databricks authentication methods pgobo does not support
  // (azure_*, google_*, username/password, metadata_service_url, oidc_*)
  // that the profile sets: a profile with only these is refused, not
  // silently sent to another method.
  std::vector<std::string> unsupported_auth_keys;
};

// The auth types pgobo supports (DATABRICKS_AUTH_TYPE, `auth_type`): "pat",
// "oauth-m2m", "databricks-cli", as the SDKs name them.
[[nodiscard]] bool is_supported_auth_type(std::string_view auth_type) noexcept;

// Reads the profile `name` from `text`, an INI file as the Databricks CLI
// writes it; `file` names it in messages. nullopt when there is no such
// section. Throws ConfigError for a malformed line, a NUL byte, a key given
// twice in the profile, a known key written in another case ("Host"), or a
// token with a control character — naming the file, profile, key and line,
// never a value.
//
// The format: `[name]` starts a section (name trimmed, case-sensitive);
// `key = value` or `key: value` (key case-sensitive, both trimmed); lines
// starting with '#' or ';' are comments, and so is the rest of a value from a
// whitespace followed by '#' or ';' (unless the value is quoted, "…" or
// '…', which drops the quotes); keys before any section belong to DEFAULT; a
// UTF-8 byte order mark and CRLF line ends are accepted. DEFAULT is not
// merged into other sections.
[[nodiscard]] std::optional<DatabricksProfile> parse_databricks_profile(std::string_view text,
                                                                        std::string_view name,
                                                                        std::string_view file);

// Which profile of which file: what DATABRICKS_CONFIG_FILE,
// DATABRICKS_CONFIG_PROFILE and HOME say.
struct ProfileRequest {
  // The file; empty: ~/.databrickscfg. A leading "~/" is the home directory.
  std::string config_file;
  // The profile; empty: [__settings__] default_profile of the file, else DEFAULT.
  std::string profile;
  // The home directory; empty: unknown (no default file).
  std::string home;
  // How the request's parts are named in messages.
  std::string config_file_label = "DATABRICKS_CONFIG_FILE";
  std::string profile_label = "DATABRICKS_CONFIG_PROFILE";
};

// The profile `request` selects. nullopt when none applies: no file named
// and ~/.databrickscfg does not exist (or HOME is unknown), or no profile
// named and the file has no default profile. Throws ConfigError when a named
// file does not exist or cannot be read, a named profile (or the file's
// default_profile) is not in the file, or the file is malformed or larger
// than 1 MiB.
[[nodiscard]] std::optional<DatabricksProfile> load_databricks_profile(
    const ProfileRequest& request);

// The workspace token of whoever ran `databricks auth login`: the output of
// `databricks auth token --host <workspace> [--profile <name>]`, run without
// a shell (posix_spawn with an argument vector, stdin /dev/null, its own
// process group), bounded by a timeout, and cached until shortly before the
// token's expiry by a CachedCredentials. The CLI refreshes its OAuth token
// itself when asked near expiry.
//
// Failures are CredentialErrors: the CLI is not installed (with what to do),
// it timed out (its process group is killed), it exited non-zero (its stderr,
// scrubbed of token-shaped text, on one line), or its output is not the JSON
// {"access_token","token_type","expiry"} (never quoted: it holds the token).
class DatabricksCliToken final : public WorkspaceToken {
 public:
  struct Options {
    // --host; normalised with normalize_workspace_url.
    std::string workspace_url;
    // --profile when not empty.
    std::string profile;
    // Given to the CLI as DATABRICKS_CONFIG_FILE when not empty, so it reads
    // the file pgobo read.
    std::string config_file;
    // A path (with a '/'), or a name looked up in `search_path`.
    std::string executable = "databricks";
    // ':'-separated directories; nullopt: the process's PATH when constructed.
    std::optional<std::string> search_path;
    // For one run of the CLI, which may refresh its token over the network.
    std::chrono::milliseconds timeout{30'000};
    // Refresh, backoff and clock of the token cache (name defaults to "databricks-cli").
    CachedCredentials::Options cache;
  };

  // Throws ConfigError for a malformed workspace URL, an empty executable or
  // a non-positive timeout. Does not run the CLI.
  explicit DatabricksCliToken(Options options);
  [[nodiscard]] Secret token() override;
  // Runs of the CLI so far.
  [[nodiscard]] std::size_t fetch_count() const { return cache_->fetch_count(); }

 private:
  std::shared_ptr<CachedCredentials> cache_;
};

// The absolute path of the executable `name` (a path if it holds a '/', else
// looked up in the ':'-separated `search_path`), or empty when there is no
// such executable regular file.
[[nodiscard]] std::string find_executable(std::string_view name, std::string_view search_path);

}  // namespace pgobo::databricks
