// DatabricksCliToken against fake `databricks` programs (shell scripts
// written at test time into a TempDir and found through Options::executable
// or Options::search_path, never through the process's PATH), and
// AppConfig::from_env end to end against the fake workspace: only a
// configuration file, LAKEBASE_ENDPOINT and PGHOST/PGDATABASE.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fake_workspace.hpp"
#include "offset_clock.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/profile.hpp"
#include "pgobo/errors.hpp"
#include "secret_guard.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace {

using namespace std::chrono_literals;
using pgobo::CredentialError;
using pgobo::databricks::AppConfig;
using pgobo::databricks::DatabricksCliToken;
using pgobo::test::FakeWorkspace;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kCliToken = "eyJcli-fake-token-3c9d1f0b7e";
constexpr const char* kOldToken = "dapi0123456789abcdef0123456789abcdef";

struct RegisterSecrets {
  RegisterSecrets() {
    for (const char* s : {kCliToken, kOldToken}) pgobo::test::register_secret(s);
  }
};
const RegisterSecrets kRegistered;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A script that records its argv (one per line), DATABRICKS_CONFIG_FILE and
// each run, then does `body`.
std::string fake_cli(const std::string& body) {
  return "#!/bin/sh\n"
         "dir=$(dirname \"$0\")\n"
         "printf '%s\\n' \"$@\" > \"$dir/argv.txt\"\n"
         "printf '%s' \"$DATABRICKS_CONFIG_FILE\" > \"$dir/config_file.txt\"\n"
         "echo run >> \"$dir/runs.txt\"\n" +
         body;
}

std::string json_answer(const std::string& token, std::chrono::system_clock::time_point expiry) {
  return "cat <<'EOF'\n{\n  \"access_token\": \"" + token +
         "\",\n  \"token_type\": \"Bearer\",\n  \"expiry\": \"" + FakeWorkspace::rfc3339(expiry) +
         "\"\n}\nEOF\n";
}

class CliTokenTest : public ::testing::Test {
 protected:
  // Installs `script` as bin/databricks and returns options that find it.
  DatabricksCliToken::Options install(const std::string& script) {
    dir_.write("bin/databricks", script, 0755);
    DatabricksCliToken::Options options;
    options.workspace_url = "https://dev.cloud.databricks.com";
    options.search_path = "/nonexistent:" + dir_.path() + "/bin";
    options.timeout = 10s;
    options.cache.clock = clock_.function();
    return options;
  }
  [[nodiscard]] std::string file(const std::string& name) const {
    return dir_.path() + "/bin/" + name;
  }
  // The CredentialError message of token(); fails the test if none is thrown.
  static std::string failure(DatabricksCliToken& token) {
    try {
      (void)token.token();
    } catch (const CredentialError& e) {
      return e.what();
    }
    ADD_FAILURE() << "token() succeeded";
    return "";
  }

  pgobo::test::TempDir dir_;
  pgobo::test::OffsetClock clock_;
};

TEST_F(CliTokenTest, RunsAuthTokenWithHostAndReadsItsJson) {
  auto options = install(fake_cli(json_answer(kCliToken, clock_.now() + 1h)));
  DatabricksCliToken token(options);
  EXPECT_EQ(token.token().reveal(), kCliToken);
  EXPECT_THAT(lines_of(file("argv.txt")),
              ElementsAre("auth", "token", "--host", "https://dev.cloud.databricks.com"));
  EXPECT_EQ(read_text(file("config_file.txt")), "") << "no file named, none passed";
}

TEST_F(CliTokenTest, PassesTheProfileAndItsFileAsArgumentsNotThroughAShell) {
  auto options = install(fake_cli(json_answer(kCliToken, clock_.now() + 1h)));
  options.profile = "dev; touch pwned $(id)";
  options.config_file = dir_.path() + "/my cfg";
  DatabricksCliToken token(options);
  EXPECT_EQ(token.token().reveal(), kCliToken);
  EXPECT_THAT(lines_of(file("argv.txt")),
              ElementsAre("auth", "token", "--host", "https://dev.cloud.databricks.com",
                          "--profile", "dev; touch pwned $(id)"));
  EXPECT_EQ(read_text(file("config_file.txt")), dir_.path() + "/my cfg");
  EXPECT_FALSE(std::ifstream(file("pwned")).good());
}

// The CLI gets stdin, stdout and stderr, nothing else of this process: a
// descriptor opened without O_CLOEXEC (here, on purpose) stays behind.
TEST_F(CliTokenTest, TheCliInheritsNoOtherDescriptor) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  const int leaky = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leaky, 0);
  auto options = install(
      fake_cli("ls /proc/$$/fd > \"$dir/fds.txt\"\n" + json_answer(kCliToken, clock_.now() + 1h)));
  DatabricksCliToken token(options);
  EXPECT_EQ(token.token().reveal(), kCliToken);
  ::close(leaky);
  // The script's shell lists its own descriptors: 0, 1, 2 and what the shell
  // itself opened (the script file), never `leaky`.
  std::vector<int> fds;
  for (const auto& line : lines_of(file("fds.txt"))) fds.push_back(std::stoi(line));
  EXPECT_THAT(fds, ::testing::Not(::testing::Contains(leaky)));
#else
  GTEST_SKIP() << "posix_spawn_file_actions_addclosefrom_np needs glibc 2.34";
#endif
}

TEST_F(CliTokenTest, CachesTheTokenUntilShortlyBeforeItsExpiry) {
  auto options = install(fake_cli(json_answer(kCliToken, clock_.now() + 1h)));
  DatabricksCliToken token(options);
  (void)token.token();
  (void)token.token();
  EXPECT_EQ(token.fetch_count(), 1U);
  EXPECT_EQ(lines_of(file("runs.txt")).size(), 1U);
  clock_.advance(59min);  // within refresh_ahead (2 min) of the expiry: run again
  // The fake printed an expiry one hour from when it was written; a second
  // run prints the same, now 1 min away, which is still served (not expired).
  (void)token.token();
  EXPECT_EQ(token.fetch_count(), 2U);
  EXPECT_EQ(lines_of(file("runs.txt")).size(), 2U);
}

TEST_F(CliTokenTest, GarbageOutputIsAnErrorThatNeverQuotesIt) {
  auto options = install(fake_cli(std::string("echo 'token: ") + kCliToken + " is yours'\n"));
  DatabricksCliToken token(options);
  const std::string message = failure(token);
  EXPECT_THAT(message, AllOf(HasSubstr("databricks auth token --host"),
                             HasSubstr("not a JSON object"), Not(HasSubstr(kCliToken))));
}

TEST_F(CliTokenTest, AnswersWithoutWhatIsNeededAreErrors) {
  struct Case {
    std::string json;
    std::string expected;
  };
  const std::string expiry = FakeWorkspace::rfc3339(clock_.now() + 1h);
  const std::vector<Case> cases{
      {R"({"token_type":"Bearer","expiry":")" + expiry + "\"}", "printed no access_token"},
      {R"({"access_token":")" + std::string(kCliToken) + R"(","token_type":"Bearer"})",
       "printed no expiry"},
      {R"({"access_token":")" + std::string(kCliToken) + R"(","expiry":"soon"})",
       "the Databricks CLI's expiry"},
      {R"({"access_token":")" + std::string(kCliToken) + R"(","token_type":"MAC","expiry":")" +
           expiry + "\"}",
       "token_type 'MAC'"},
      {R"({"access_token":")" + std::string(kCliToken) + R"(","expiry":")" +
           FakeWorkspace::rfc3339(clock_.now() - 1min) + "\"}",
       "printed a token that expired"},
      {R"({"access_token":")" + std::string(kCliToken) + R"(\r\nX: y","expiry":")" + expiry + "\"}",
       "control character"},
      {R"({"access_token":42,"expiry":")" + expiry + "\"}", "whose access_token is not a string"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    pgobo::test::TempDir dir;
    dir.write("databricks", "#!/bin/sh\ncat <<'EOF'\n" + cases[i].json + "\nEOF\n", 0755);
    DatabricksCliToken::Options options;
    options.workspace_url = "https://dev.cloud.databricks.com";
    options.executable = dir.path() + "/databricks";
    options.cache.clock = clock_.function();
    DatabricksCliToken token(options);
    EXPECT_THAT(failure(token), AllOf(HasSubstr(cases[i].expected), Not(HasSubstr(kCliToken))))
        << "case " << i;
  }
}

TEST_F(CliTokenTest, ANonZeroExitShowsItsStderrScrubbedOnOneLine) {
  auto options = install(fake_cli(
      std::string("echo 'Error: cache: databricks OAuth is not configured for this host.' >&2\n") +
      "printf 'refresh of %s failed\\nAuthorization: Bearer %s\\n' '" + kOldToken +
      "' 'opaque-secret-value' >&2\n"
      "exit 1\n"));
  options.profile = "dev";
  DatabricksCliToken token(options);
  const std::string message = failure(token);
  EXPECT_THAT(message, AllOf(HasSubstr("exit status 1"),
                             HasSubstr("databricks OAuth is not configured for this host."),
                             HasSubstr("refresh of *** failed Authorization: Bearer ***"),
                             HasSubstr("run `databricks auth login --host "
                                       "https://dev.cloud.databricks.com --profile dev`"),
                             Not(HasSubstr(kOldToken)), Not(HasSubstr("opaque-secret-value")),
                             Not(HasSubstr("\n"))));
}

// A token after '=' (a query string, a key=value dump) is a word of its own.
TEST_F(CliTokenTest, TokensAfterAnEqualsSignAreScrubbedToo) {
  auto options = install(fake_cli(std::string("printf 'GET /x?token=%s&refresh_token=%s\\n' '") +
                                  kOldToken + "' '" + kCliToken + "' >&2\nexit 1\n"));
  DatabricksCliToken token(options);
  const std::string message = failure(token);
  EXPECT_THAT(message, AllOf(HasSubstr("token=***"), HasSubstr("refresh_token=***"),
                             Not(HasSubstr(kOldToken)), Not(HasSubstr(kCliToken))));
}

TEST_F(CliTokenTest, AKilledCliIsReportedBySignal) {
  auto options = install(fake_cli("kill -9 $$\n"));
  DatabricksCliToken token(options);
  EXPECT_THAT(failure(token), HasSubstr("killed by signal 9"));
}

TEST_F(CliTokenTest, ACliThatHangsIsKilledWithItsChildrenAtTheTimeout) {
  // The script starts a child that would hold stdout open, then waits.
  auto options = install(fake_cli("sleep 60 &\necho $! > \"$dir/child.pid\"\nwait\n"));
  options.timeout = 300ms;
  DatabricksCliToken token(options);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THAT(failure(token), HasSubstr("did not finish within 300 ms (killed)"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s) << "bounded by the timeout";
  // The child in its process group is gone (or a zombie awaiting its reaper).
  const std::string pid = read_text(file("child.pid"));
  ASSERT_FALSE(pid.empty());
  const std::string stat = "/proc/" + pid.substr(0, pid.find('\n')) + "/stat";
  EXPECT_TRUE(pgobo::test::eventually([&] {
    const std::string text = read_text(stat);
    const auto state = text.rfind(") ");
    return text.empty() || (state != std::string::npos && text[state + 2] == 'Z');
  }));
}

TEST_F(CliTokenTest, AMissingCliSaysHowToInstallAndLogIn) {
  DatabricksCliToken::Options options;
  options.workspace_url = "https://dev.cloud.databricks.com";
  options.search_path = dir_.path();  // empty
  DatabricksCliToken in_path(options);
  EXPECT_THAT(failure(in_path),
              AllOf(HasSubstr("the Databricks CLI ('databricks') was not found in PATH"),
                    HasSubstr("install it"),
                    HasSubstr("databricks auth login --host https://dev.cloud.databricks.com"),
                    HasSubstr("DATABRICKS_TOKEN")));
  options.executable = dir_.path() + "/nothing-here";
  DatabricksCliToken by_path(options);
  EXPECT_THAT(failure(by_path), HasSubstr("nothing-here') was not found: install it"));
  // Not executable: not a CLI.
  options.executable = dir_.write("not-executable", "#!/bin/sh\n", 0644);
  DatabricksCliToken plain(options);
  EXPECT_THAT(failure(plain), HasSubstr("was not found"));
}

TEST(CliTokenOptions, AreCheckedWhenConstructed) {
  DatabricksCliToken::Options options;
  options.workspace_url = "http://evil.example.com";
  EXPECT_THROW(DatabricksCliToken{options}, pgobo::ConfigError);
  options.workspace_url = "https://x.example.com";
  options.timeout = 0ms;
  EXPECT_THROW(DatabricksCliToken{options}, pgobo::ConfigError);
  options.timeout = 1s;
  options.executable.clear();
  EXPECT_THROW(DatabricksCliToken{options}, pgobo::ConfigError);
}

TEST(FindExecutable, LooksInTheSearchPathOnlyForBareNames) {
  pgobo::test::TempDir dir;
  const std::string cli = dir.write("b/databricks", "#!/bin/sh\n", 0755);
  EXPECT_EQ(pgobo::databricks::find_executable("databricks", "relative/dir::" + dir.path() + "/b"),
            cli);
  EXPECT_EQ(pgobo::databricks::find_executable("databricks", ""), "");
  EXPECT_EQ(pgobo::databricks::find_executable(cli, ""), cli);
  EXPECT_EQ(pgobo::databricks::find_executable(dir.path() + "/b", dir.path()), "")
      << "a directory is not an executable";
}

// ---------------------------------------------------------------------------
// End to end: only a configuration file, LAKEBASE_ENDPOINT and PG*

class LocalDevelopmentTest : public pgobo::test::FakeWorkspaceTest {
 protected:
  LocalDevelopmentTest() {
    env_["PGHOST"] = "127.0.0.1";
    env_["PGDATABASE"] = "databricks_postgres";
    env_["LAKEBASE_ENDPOINT"] = workspace.options().endpoint;
    env_["HOME"] = home_.path();
  }

  [[nodiscard]] AppConfig read() const {
    return AppConfig::from_env([this](std::string_view name) -> std::optional<std::string> {
      const auto found = env_.find(std::string(name));
      if (found == env_.end()) return std::nullopt;
      return found->second;
    });
  }

  // The service principal's pool options, then one database credential.
  std::string database_user_of(const AppConfig& config) {
    const pgobo::PoolOptions options = config.make_service_pool_options();
    const pgobo::Credential credential = options.credentials->get();
    EXPECT_EQ(credential.secret.reveal(), workspace.database_tokens().back());
    return options.connection.user;
  }

  pgobo::test::TempDir home_;
  std::map<std::string, std::string> env_;
};

TEST_F(LocalDevelopmentTest, APatProfile) {
  const std::string pat = workspace.add_token_for("dev@example.com");
  home_.write(".databrickscfg", "[DEFAULT]\nhost = " + workspace.url() + "\ntoken = " + pat + "\n");
  EXPECT_EQ(database_user_of(read()), "dev@example.com") << "SCIM Me with the PAT";
  EXPECT_THAT(workspace.database_credential_users(), ElementsAre("dev@example.com"));
}

TEST_F(LocalDevelopmentTest, AnM2mProfile) {
  home_.write(".databrickscfg",
              "[sp]\nhost = " + workspace.url() + "\nclient_id = " + workspace.options().client_id +
                  "\nclient_secret = " + workspace.options().client_secret + "\n");
  env_["DATABRICKS_CONFIG_PROFILE"] = "sp";
  EXPECT_EQ(database_user_of(read()), workspace.options().client_id);
  EXPECT_EQ(workspace.calls(FakeWorkspace::Endpoint::oauth_token), 1);
  EXPECT_THAT(workspace.database_credential_users(),
              ElementsAre(workspace.options().service_principal_user));
}

TEST_F(LocalDevelopmentTest, ACliProfile) {
  const std::string user_token = workspace.add_token_for("cli-user@example.com");
  const std::string config = home_.write(
      "work/databricks.cfg", "[dev]\nhost = " + workspace.url() + "\nauth_type = databricks-cli\n");
  home_.write("bin/databricks",
              fake_cli(json_answer(user_token, std::chrono::system_clock::now() + 1h)), 0755);
  env_["DATABRICKS_CONFIG_FILE"] = config;
  env_["DATABRICKS_CONFIG_PROFILE"] = "dev";
  env_["PATH"] = home_.path() + "/bin";

  const AppConfig app = read();
  EXPECT_EQ(app.lakebase.databricks_cli_path, home_.path() + "/bin/databricks");
  EXPECT_EQ(database_user_of(app), "cli-user@example.com");
  EXPECT_THAT(workspace.database_credential_users(), ElementsAre("cli-user@example.com"));
  EXPECT_THAT(lines_of(home_.path() + "/bin/argv.txt"),
              ElementsAre("auth", "token", "--host", workspace.url(), "--profile", "dev"));
  EXPECT_EQ(read_text(home_.path() + "/bin/config_file.txt"), config)
      << "the CLI reads the file pgobo read";
  EXPECT_EQ(lines_of(home_.path() + "/bin/runs.txt").size(), 1U)
      << "one run for SCIM Me and the credential: cached";
}

TEST_F(LocalDevelopmentTest, AHostOnlyDefaultProfileFallsBackToTheCliInPath) {
  const std::string user_token = workspace.add_token_for("login@example.com");
  home_.write(".databrickscfg", "[DEFAULT]\nhost = " + workspace.url() + "\n");
  home_.write("bin/databricks",
              fake_cli(json_answer(user_token, std::chrono::system_clock::now() + 1h)), 0755);
  env_["PATH"] = home_.path() + "/bin";
  EXPECT_EQ(database_user_of(read()), "login@example.com");
  EXPECT_THAT(lines_of(home_.path() + "/bin/argv.txt"),
              ElementsAre("auth", "token", "--host", workspace.url(), "--profile", "DEFAULT"));
}

}  // namespace
