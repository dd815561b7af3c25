// DatabricksCliToken: the workspace token `databricks auth token` prints, as
// the SDKs' `databricks-cli` credentials provider gets it
// (databricks-sdk-go config/cli_token_source.go: `auth token --host <host>`,
// `--profile <name>` for a profile; JSON {"access_token","token_type","expiry"}
// with expiry in RFC 3339). pgobo passes both --host and --profile when a
// profile is in use: the CLI then refuses a profile whose host is not the
// workspace pgobo sends the token to, instead of handing out another
// workspace's token.
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "databricks/subprocess.hpp"
#include "json_limits.hpp"
#include "pgobo/databricks/profile.hpp"
#include "pgobo/errors.hpp"
#include "rfc3339.hpp"
#include "scrub.hpp"
#include "text.hpp"

namespace pgobo::databricks {
namespace {

constexpr std::size_t kMaxStderrShown = 300;

// '=' is not one: "token=dapi…" and "?refresh_token=eyJ…" must split into
// the name and a token-shaped word (base64 padding after a JWT is left as
// punctuation).
bool is_token_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '+' || c == '/';
}

// The CLI's stderr for a message: on one line, token-shaped words removed.
// pgobo sent the CLI no secret, so there is nothing known to scrub but the
// token it printed before (scrubbed in every encoding); what else a CLI
// might echo is recognised by shape: Databricks tokens (dapi…, dkea…,
// dose…), JWTs (eyJ…) and whatever follows "Bearer ".
std::string describe_stderr(std::string_view text, const std::string& previous_token) {
  std::string line =
      pgobo::detail::scrub_secrets(std::string(text.substr(0, 16 * 1024)), {previous_token});
  std::string out;
  std::size_t i = 0;
  bool after_bearer = false;
  while (i < line.size()) {
    if (!is_token_character(line[i])) {
      const auto u = static_cast<unsigned char>(line[i]);
      const bool blank = u < 0x20 || u == 0x7f || line[i] == ' ';
      if (!(blank && (out.empty() || out.back() == ' '))) out += blank ? ' ' : line[i];
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < line.size() && is_token_character(line[end])) ++end;
    const std::string_view word(line.data() + i, end - i);
    const bool token_shaped =
        after_bearer ||
        (word.size() >= 16 && (word.starts_with("dapi") || word.starts_with("dkea") ||
                               word.starts_with("dose") || word.starts_with("eyJ")));
    out += token_shaped ? std::string_view("***") : word;
    after_bearer = word == "Bearer" || word == "bearer";
    i = end;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty()) return "nothing on stderr";
  return pgobo::detail::printable_excerpt(out, kMaxStderrShown);
}

// One run of the CLI; CachedCredentials in front of it does the caching.
class CliTokenFetcher final : public CredentialProvider {
 public:
  CliTokenFetcher(DatabricksCliToken::Options options, std::string search_path)
      : options_(std::move(options)), search_path_(std::move(search_path)) {}

  [[nodiscard]] Credential get() override {
    const std::string path = find_executable(options_.executable, search_path_);
    const std::string login = fmt::format(
        "databricks auth login --host {}{}", options_.workspace_url,
        options_.profile.empty() ? std::string() : " --profile " + shown(options_.profile));
    if (path.empty()) {
      throw CredentialError(fmt::format(
          "the Databricks CLI ('{}') was not found{}: install it "
          "(https://docs.databricks.com/dev-tools/cli/install.html) and run `{}`, or set "
          "DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)",
          shown(options_.executable),
          options_.executable.find('/') == std::string::npos ? " in PATH" : "", login));
    }
    std::vector<std::string> argv{path, "auth", "token", "--host", options_.workspace_url};
    if (!options_.profile.empty()) {
      argv.emplace_back("--profile");
      argv.push_back(options_.profile);
    }
    std::vector<std::pair<std::string, std::string>> environment;
    if (!options_.config_file.empty()) {
      environment.emplace_back("DATABRICKS_CONFIG_FILE", options_.config_file);
    }
    const std::string call = fmt::format(
        "`databricks auth token --host {}{}` ({})", options_.workspace_url,
        options_.profile.empty() ? std::string() : " --profile " + shown(options_.profile),
        shown(path));
    const auto started = clock_now();
    const detail::RunResult run = detail::run_program(argv, environment, options_.timeout);
    if (run.timed_out) {
      throw CredentialError(
          fmt::format("{} did not finish within {} ms (killed)", call, options_.timeout.count()));
    }
    // An unknown status (SIGCHLD ignored by the application) is judged by the output.
    if (run.status_known && (!run.exited || run.exit_status != 0)) {
      const std::string how = run.exited ? fmt::format("exit status {}", run.exit_status)
                                         : fmt::format("killed by signal {}", run.signal);
      throw CredentialError(fmt::format("{} failed ({}): {}; run `{}` to log in again", call, how,
                                        describe_stderr(run.err, previous_token_), login));
    }
    return parse(call, run, started);
  }

 private:
  [[nodiscard]] std::chrono::system_clock::time_point clock_now() const {
    return options_.cache.clock ? options_.cache.clock() : std::chrono::system_clock::now();
  }

  static std::string shown(std::string_view text) {
    return pgobo::detail::printable_excerpt(text, 120);
  }

  // The answer is never quoted: it holds the token.
  Credential parse(const std::string& call, const detail::RunResult& run,
                   std::chrono::system_clock::time_point started) {
    if (run.out_truncated) {
      throw CredentialError(fmt::format("{} printed more than 64 KiB: not a token", call));
    }
    const nlohmann::json answer = pgobo::detail::parse_json_bounded_or_discarded(run.out);
    if (answer.is_discarded() || !answer.is_object()) {
      throw CredentialError(fmt::format(
          "{} printed {} bytes that are not a JSON object (expected "
          "{{\"access_token\",\"token_type\",\"expiry\"}}; a Databricks CLI older than 0.100?)",
          call, run.out.size()));
    }
    const auto text_field = [&](const char* key) -> std::optional<std::string> {
      const auto it = answer.find(key);
      if (it == answer.end() || it->is_null()) return std::nullopt;
      if (!it->is_string()) {
        throw CredentialError(fmt::format("{} printed JSON whose {} is not a string", call, key));
      }
      return it->get<std::string>();
    };
    const std::optional<std::string> token = text_field("access_token");
    if (!token || token->empty()) {
      throw CredentialError(fmt::format("{} printed no access_token", call));
    }
    if (pgobo::detail::has_control_character(*token)) {
      throw CredentialError(
          fmt::format("{} printed an access_token with a control character", call));
    }
    const std::optional<std::string> type = text_field("token_type");
    if (type && !type->empty() && pgobo::detail::printable_excerpt(*type, 16) != "Bearer" &&
        pgobo::detail::printable_excerpt(*type, 16) != "bearer") {
      throw CredentialError(fmt::format("{} printed token_type '{}' (expected Bearer)", call,
                                        pgobo::detail::printable_excerpt(*type, 20)));
    }
    const std::optional<std::string> expiry = text_field("expiry");
    if (!expiry || expiry->empty()) {
      throw CredentialError(fmt::format("{} printed no expiry (expected an RFC 3339 time)", call));
    }
    const auto expires_at = pgobo::detail::parse_rfc3339(*expiry, "the Databricks CLI's expiry");
    if (expires_at <= started) {
      throw CredentialError(
          fmt::format("{} printed a token that expired at {}; run `databricks auth login` again",
                      call, pgobo::detail::format_rfc3339(expires_at)));
    }
    previous_token_ = *token;  // get() runs single-flight behind the cache
    return Credential{Secret(*token), expires_at};
  }

  DatabricksCliToken::Options options_;
  std::string search_path_;
  std::string previous_token_;
};

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string find_executable(std::string_view name, std::string_view search_path) {
  if (name.empty() || name.find('\0') != std::string_view::npos) return {};
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    if (!path.starts_with('/')) {
      // Relative to the working directory now, not when the CLI runs.
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd) == nullptr) return {};
      path = std::string(cwd) + "/" + path;
    }
    return is_executable_file(path) ? path : std::string();
  }
  // Bounded: PATH holds at most a few hundred directories in any sane setup.
  std::size_t visited = 0;
  while (!search_path.empty() && visited++ < 1024) {
    const auto colon = search_path.find(':');
    const std::string_view dir = search_path.substr(0, colon);
    search_path.remove_prefix(colon == std::string_view::npos ? search_path.size() : colon + 1);
    // An empty entry means the working directory to a shell; a credential
    // helper is not taken from wherever the process happens to run.
    if (dir.empty() || !dir.starts_with('/')) continue;
    std::string candidate = std::string(dir) + "/" + std::string(name);
    if (is_executable_file(candidate)) return candidate;
  }
  return {};
}

DatabricksCliToken::DatabricksCliToken(Options options) {
  options.workspace_url = normalize_workspace_url(options.workspace_url, "workspace URL");
  if (options.executable.empty()) {
    throw ConfigError("DatabricksCliToken: the executable is empty (DATABRICKS_CLI_PATH)");
  }
  if (options.timeout.count() <= 0) {
    throw ConfigError("DatabricksCliToken: the timeout must be positive");
  }
  std::string search_path;
  if (options.search_path) {
    search_path = *options.search_path;
  } else if (const char* path = std::getenv("PATH");
             path != nullptr) {  // NOLINT(concurrency-mt-unsafe)
    search_path = path;
  }
  if (options.cache.name == CachedCredentials::Options{}.name)
    options.cache.name = "databricks-cli";
  CachedCredentials::Options cache = options.cache;
  auto fetcher = std::make_shared<CliTokenFetcher>(std::move(options), std::move(search_path));
  cache_ = std::make_shared<CachedCredentials>(std::move(fetcher), std::move(cache));
}

Secret DatabricksCliToken::token() { return cache_->get().secret; }

}  // namespace pgobo::databricks
