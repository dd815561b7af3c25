// Reading a profile of the Databricks configuration file (~/.databrickscfg).
//
// Where the SDKs differ, pgobo takes the Go SDK's reading (gopkg.in/ini.v1
// with SpaceBeforeInlineComment, config/config_file.go), which is also the
// Databricks CLI's: keys and section names are case-sensitive, keys before a
// section are DEFAULT's, DEFAULT is not merged into other profiles (the Python
// SDK reads `_sections` for the same reason). Where a silent choice could
// pick the wrong credential, pgobo refuses instead: a key given twice in the
// profile (Go keeps the last, Python refuses the file), and a known key in
// another case (Python lowercases keys, Go ignores "Host").
#include "pgobo/databricks/profile.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo::databricks {
namespace {

using pgobo::detail::has_control_character;
using pgobo::detail::printable_excerpt;

constexpr std::string_view kDefaultSection = "DEFAULT";
// The Databricks CLI's own settings (`databricks auth switch`): not a profile.
constexpr std::string_view kSettingsSection = "__settings__";
// A configuration file is a few hundred bytes; this bounds the work on a
// wrong path (a log file, a device).
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 20;

constexpr std::array<std::string_view, 5> kReadKeys{"host", "token", "client_id", "client_secret",
                                                    "auth_type"};
// The SDKs' attributes of authentication methods pgobo does not implement
// (databricks-sdk-py config.py: ConfigAttribute(auth=…)).
constexpr std::array<std::string_view, 12> kUnsupportedAuthKeys{"username",
                                                                "password",
                                                                "azure_workspace_resource_id",
                                                                "azure_use_msi",
                                                                "azure_client_id",
                                                                "azure_client_secret",
                                                                "azure_tenant_id",
                                                                "google_service_account",
                                                                "google_credentials",
                                                                "metadata_service_url",
                                                                "oidc_token_env",
                                                                "oidc_token_filepath"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

// A name or path for a message: printable ASCII, bounded.
std::string shown(std::string_view text) { return printable_excerpt(text, 120); }

// The value of a `key = value` line: quotes dropped, or an inline comment cut.
std::string_view value_of(std::string_view raw) {
  std::string_view value = trim(raw);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  for (std::size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && is_space(value[i - 1])) {
      return trim(value.substr(0, i));
    }
  }
  return value;
}

// One pass over the file: the keys of the sections asked for, with their
// lines. The whole file is checked for syntax, as both SDKs' readers do.
class IniScan {
 public:
  struct Entry {
    std::string value;
    std::size_t line;
  };
  using Section = std::vector<std::pair<std::string, Entry>>;

  IniScan(std::string_view text, std::string_view file) : file_(file) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
      throw ConfigError(fmt::format("{}: line {} contains a NUL byte", shown(file_),
                                    1 + std::count(text.begin(), text.begin() + nul, '\n')));
    }
    std::string current(kDefaultSection);
    std::size_t number = 0;
    while (!text.empty()) {
      ++number;
      const auto end = text.find('\n');
      const std::string_view line = trim(text.substr(0, end));
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      if (line.empty() || line.front() == '#' || line.front() == ';') continue;
      if (line.front() == '[') {
        current = header(line, number);
        names_.emplace(current, number);
        continue;
      }
      const auto delimiter = line.find_first_of("=:");
      if (delimiter == std::string_view::npos) {
        throw ConfigError(fmt::format("{}: line {} is not `key = value`, a [section] or a comment",
                                      shown(file_), number));
      }
      const std::string_view key = trim(line.substr(0, delimiter));
      if (key.empty()) {
        throw ConfigError(fmt::format("{}: line {} has no key before '{}'", shown(file_), number,
                                      line[delimiter]));
      }
      names_.emplace(current, number);
      sections_[current].push_back(
          {std::string(key), Entry{std::string(value_of(line.substr(delimiter + 1))), number}});
    }
  }

  [[nodiscard]] bool has(const std::string& section) const { return names_.contains(section); }
  [[nodiscard]] const Section* section(const std::string& name) const {
    const auto found = sections_.find(name);
    return found == sections_.end() ? nullptr : &found->second;
  }
  // The profiles, for a message: at most 10, printable.
  [[nodiscard]] std::string profile_names() const {
    std::string out;
    std::size_t listed = 0;
    for (const auto& [name, line] : names_) {
      if (name == kSettingsSection) continue;
      if (listed == 10) return out + ", …";
      out += (listed++ == 0 ? "" : ", ") + shown(name);
    }
    return out.empty() ? "none" : out;
  }

 private:
  std::string header(std::string_view line, std::size_t number) const {
    const auto close = line.find(']');
    const std::string_view rest =
        close == std::string_view::npos ? "" : trim(line.substr(close + 1));
    if (close == std::string_view::npos ||
        (!rest.empty() && rest.front() != '#' && rest.front() != ';')) {
      throw ConfigError(
          fmt::format("{}: line {} starts a section but is not `[name]`", shown(file_), number));
    }
    const std::string_view name = trim(line.substr(1, close - 1));
    if (name.empty()) {
      throw ConfigError(fmt::format("{}: line {} has an empty section name", shown(file_), number));
    }
    return std::string(name);
  }

  std::string file_;
  // Section name → first line; std::map keeps messages in a stable order.
  std::map<std::string, std::size_t> names_;
  std::map<std::string, Section> sections_;
};

DatabricksProfile read_profile(const IniScan::Section& section, std::string_view name,
                               std::string_view file) {
  DatabricksProfile profile;
  profile.name = std::string(name);
  profile.file = std::string(file);
  const auto where = [&](std::size_t line) {
    return fmt::format("{}, profile '{}', line {}", shown(file), shown(name), line);
  };
  std::map<std::string, std::size_t, std::less<>> seen;
  for (const auto& [key, entry] : section) {
    const auto known = std::find(kReadKeys.begin(), kReadKeys.end(), key);
    const auto unsupported =
        std::find(kUnsupportedAuthKeys.begin(), kUnsupportedAuthKeys.end(), key);
    if (known == kReadKeys.end() && unsupported == kUnsupportedAuthKeys.end()) {
      for (const std::string_view read : kReadKeys) {
        if (equals_ignoring_case(key, read)) {
          throw ConfigError(fmt::format(
              "{}: key '{}' is not read: keys are case-sensitive (as for the Databricks CLI and "
              "SDKs); write '{}'",
              where(entry.line), shown(key), read));
        }
      }
      continue;  // a key of another tool or feature (account_id, cluster_id, …)
    }
    if (const auto [at, first] = seen.emplace(key, entry.line); !first) {
      throw ConfigError(fmt::format("{}: key '{}' is given twice (also on line {}); keep one",
                                    where(entry.line), key, at->second));
    }
    if (entry.value.empty()) continue;  // unset, as in the SDKs
    if (unsupported != kUnsupportedAuthKeys.end()) {
      profile.unsupported_auth_keys.push_back(key);
    } else if (key == "host") {
      profile.host = entry.value;
    } else if (key == "token") {
      // Sent as an HTTP header: CR/LF would add header lines.
      if (has_control_character(entry.value)) {
        throw ConfigError(
            fmt::format("{}: the token contains a control character", where(entry.line)));
      }
      profile.token = Secret(entry.value);
    } else if (key == "client_id") {
      profile.client_id = entry.value;
    } else if (key == "client_secret") {
      profile.client_secret = Secret(entry.value);
    } else {
      profile.auth_type = entry.value;
    }
  }
  return profile;
}

// The file's text; nullopt if it does not exist.
std::optional<std::string> read_file(const std::string& path, std::string_view label) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return std::nullopt;
    throw ConfigError(
        fmt::format("{}: cannot open {}: {}", label, shown(path), std::strerror(error)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    throw ConfigError(fmt::format("{}: {} is not a regular file", label, shown(path)));
  }
  if (static_cast<std::size_t>(info.st_size) > kMaxFileBytes) {
    throw ConfigError(fmt::format(
        "{}: {} is larger than 1 MiB: not a Databricks configuration file", label, shown(path)));
  }
  std::string text;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw ConfigError(
          fmt::format("{}: cannot read {}: {}", label, shown(path), std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {  // grew while being read
      throw ConfigError(fmt::format("{}: {} is larger than 1 MiB", label, shown(path)));
    }
  }
  return text;
}

}  // namespace

bool is_supported_auth_type(std::string_view auth_type) noexcept {
  return auth_type == "pat" || auth_type == "oauth-m2m" || auth_type == "databricks-cli";
}

std::optional<DatabricksProfile> parse_databricks_profile(std::string_view text,
                                                          std::string_view name,
                                                          std::string_view file) {
  const IniScan scan(text, file);
  const std::string section_name(name);
  if (!scan.has(section_name)) return std::nullopt;
  static const IniScan::Section kEmpty;
  const IniScan::Section* section = scan.section(section_name);
  return read_profile(section == nullptr ? kEmpty : *section, name, file);
}

std::optional<DatabricksProfile> load_databricks_profile(const ProfileRequest& request) {
  const bool named_file = !request.config_file.empty();
  std::string path = request.config_file;
  if (!named_file) {
    if (request.home.empty()) {
      if (request.profile.empty()) return std::nullopt;  // no home: no default file
      throw ConfigError(fmt::format(
          "{} names profile '{}', but HOME is not set, so ~/.databrickscfg cannot be found; set {}",
          request.profile_label, shown(request.profile), request.config_file_label));
    }
    path = request.home + "/.databrickscfg";
  } else if (path == "~" || path.starts_with("~/")) {
    if (request.home.empty()) {
      throw ConfigError(
          fmt::format("{} starts with '~' but HOME is not set", request.config_file_label));
    }
    path = request.home + path.substr(1);
  }
  if (path.find('\0') != std::string::npos) {
    throw ConfigError(fmt::format("{} contains a NUL byte", request.config_file_label));
  }
  const std::string label =
      named_file ? request.config_file_label : std::string("the Databricks configuration file");
  const std::optional<std::string> text = read_file(path, label);
  if (!text) {
    if (!named_file && request.profile.empty()) return std::nullopt;  // CLI never configured
    if (!named_file) {
      throw ConfigError(fmt::format("{} names profile '{}', but {} does not exist",
                                    request.profile_label, shown(request.profile), shown(path)));
    }
    throw ConfigError(fmt::format("{}: {} does not exist", request.config_file_label, shown(path)));
  }
  const IniScan scan(*text, path);

  std::string profile = request.profile;
  std::string named_by = request.profile_label;
  if (profile.empty()) {
    // The CLI's `databricks auth switch` default (the SDKs read it since 2026).
    if (const auto* settings = scan.section(std::string(kSettingsSection))) {
      for (const auto& [key, entry] : *settings) {
        if (key == "default_profile" && !entry.value.empty()) {
          profile = entry.value;
          named_by = fmt::format("default_profile in [{}] of {}", kSettingsSection, shown(path));
        }
      }
    }
  }
  if (profile == kSettingsSection) {
    throw ConfigError(fmt::format("{}: [{}] holds the CLI's settings, not a profile", named_by,
                                  kSettingsSection));
  }
  if (profile.empty()) {
    if (!scan.has(std::string(kDefaultSection))) return std::nullopt;
    profile = std::string(kDefaultSection);
  } else if (!scan.has(profile)) {
    throw ConfigError(
        fmt::format("{} names profile '{}', which {} does not have (its profiles: {})", named_by,
                    shown(profile), shown(path), scan.profile_names()));
  }
  static const IniScan::Section kEmpty;
  const IniScan::Section* section = scan.section(profile);
  return read_profile(section == nullptr ? kEmpty : *section, profile, path);
}

}  // namespace pgobo::databricks
