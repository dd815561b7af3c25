// Profiles of the Databricks configuration file (~/.databrickscfg): the INI
// reader, choosing the file and profile, and AppConfig::from_env's order
// (environment over file; PAT, then OAuth M2M, then the Databricks CLI;
// DATABRICKS_AUTH_TYPE forcing one). HOME and PATH come from an injected
// EnvLookup; files live in a TempDir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app_env.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/profile.hpp"
#include "pgobo/errors.hpp"
#include "secret_guard.hpp"
#include "temp_dir.hpp"

namespace {

using pgobo::ConfigError;
using pgobo::databricks::AppConfig;
using pgobo::databricks::DatabricksCliToken;
using pgobo::databricks::DatabricksProfile;
using pgobo::databricks::load_databricks_profile;
using pgobo::databricks::parse_databricks_profile;
using pgobo::databricks::PersonalAccessToken;
using pgobo::databricks::ProfileRequest;
using pgobo::databricks::ServicePrincipalOAuth;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "dapi-profile-token-5f1e0c9a";
constexpr const char* kSecret = "profile-client-secret-7d2b";
constexpr const char* kEnvToken = "dapi-env-token-81c2aa40";

struct RegisterSecrets {
  RegisterSecrets() {
    for (const char* s : {kToken, kSecret, kEnvToken}) pgobo::test::register_secret(s);
  }
};
const RegisterSecrets kRegistered;

// The ConfigError message of `f`; fails the test if none is thrown.
template <class F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

DatabricksProfile parse(std::string_view text, std::string_view name) {
  auto profile = parse_databricks_profile(text, name, "/home/u/.databrickscfg");
  if (!profile) throw std::runtime_error("no such profile in the test's text");
  return *profile;
}

// ---------------------------------------------------------------------------
// The INI reader

TEST(DatabricksProfileIni, ReadsTheKeysOfTheNamedSection) {
  const auto p =
      parse(std::string("[DEFAULT]\nhost = https://other.example.com\n\n[dev]\n") +
                "host = https://dev.cloud.databricks.com\ntoken = " + kToken +
                "\nclient_id = 6f2c-client\nclient_secret: " + kSecret + "\nauth_type = pat\n",
            "dev");
  EXPECT_EQ(p.name, "dev");
  EXPECT_EQ(p.file, "/home/u/.databrickscfg");
  EXPECT_EQ(p.host, "https://dev.cloud.databricks.com");
  EXPECT_EQ(p.token.reveal(), kToken);
  EXPECT_EQ(p.client_id, "6f2c-client");
  EXPECT_EQ(p.client_secret.reveal(), kSecret) << "':' is a delimiter too";
  EXPECT_EQ(p.auth_type, "pat");
  EXPECT_TRUE(p.unsupported_auth_keys.empty());
}

TEST(DatabricksProfileIni, CommentsAndWhitespace) {
  const auto p = parse(
      "# a comment\n; another\n   [ dev ]   ; the dev workspace\n"
      "\thost\t=\thttps://dev.example.com   # inline comment after whitespace\n"
      "  client_id = abc#def ; comment\n"
      "client_secret = \"quoted ; # kept\"\n"
      "token = 'single quoted'\n"
      "  # indented comment\n",
      "dev");
  EXPECT_EQ(p.host, "https://dev.example.com");
  EXPECT_EQ(p.client_id, "abc#def") << "'#' without whitespace before it is part of the value";
  EXPECT_EQ(p.client_secret.reveal(), "quoted ; # kept");
  EXPECT_EQ(p.token.reveal(), "single quoted");
}

TEST(DatabricksProfileIni, KeysBeforeAnySectionAreDefaultsAndDefaultIsNotMerged) {
  const std::string text =
      "host = https://default.example.com\n[DEFAULT]\nclient_id = default-client\n"
      "[dev]\nauth_type = databricks-cli\n";
  const auto defaults = parse(text, "DEFAULT");
  EXPECT_EQ(defaults.host, "https://default.example.com");
  EXPECT_EQ(defaults.client_id, "default-client");
  const auto dev = parse(text, "dev");
  EXPECT_EQ(dev.host, "") << "DEFAULT's keys are not inherited (as in the Go and Python SDKs)";
  EXPECT_EQ(dev.client_id, "");
  EXPECT_EQ(dev.auth_type, "databricks-cli");
}

TEST(DatabricksProfileIni, SectionNamesAreCaseSensitive) {
  EXPECT_FALSE(parse_databricks_profile("[Dev]\nhost = x\n", "dev", "f").has_value());
  EXPECT_FALSE(parse_databricks_profile("[dev]\nhost = x\n", "staging", "f").has_value());
  EXPECT_TRUE(parse_databricks_profile("[dev]\n", "dev", "f").has_value())
      << "a section without keys exists";
}

TEST(DatabricksProfileIni, AKnownKeyInAnotherCaseIsRefusedWithTheSpelling) {
  const std::string message = config_error(
      [] { (void)parse_databricks_profile("[dev]\n\nHost = https://x\n", "dev", "/cfg"); });
  EXPECT_THAT(message, AllOf(HasSubstr("/cfg"), HasSubstr("profile 'dev'"), HasSubstr("line 3"),
                             HasSubstr("'Host'"), HasSubstr("write 'host'")));
  // In a profile not read, it is not looked at.
  EXPECT_NO_THROW((void)parse_databricks_profile("[a]\nHost = x\n[dev]\n", "dev", "/cfg"));
}

TEST(DatabricksProfileIni, AKeyGivenTwiceInTheProfileIsRefusedWithoutItsValues) {
  const std::string message = config_error([] {
    (void)parse_databricks_profile(
        std::string("[dev]\ntoken = ") + kToken + "\n[other]\n[dev]\ntoken = " + kEnvToken + "\n",
        "dev", "/cfg");
  });
  EXPECT_THAT(message,
              AllOf(HasSubstr("'token' is given twice"), HasSubstr("line 5"), HasSubstr("line 2"),
                    Not(HasSubstr(kToken)), Not(HasSubstr(kEnvToken))));
  // Twice in another profile: not this profile's concern.
  EXPECT_EQ(parse("[a]\nhost = 1\nhost = 2\n[dev]\nhost = 3\n", "dev").host, "3");
}

TEST(DatabricksProfileIni, UnknownKeysAreIgnoredAndOtherAuthMethodsListed) {
  const auto p = parse(
      "[azure]\nhost = https://adb-1.azuredatabricks.net\naccount_id = abc\ncluster_id = 0101\n"
      "jobs-api-version = 2.1\nazure_client_id = a\nazure_client_secret = b\n"
      "azure_tenant_id = c\nusername = \n",
      "azure");
  EXPECT_EQ(p.host, "https://adb-1.azuredatabricks.net");
  EXPECT_THAT(p.unsupported_auth_keys,
              ElementsAre("azure_client_id", "azure_client_secret", "azure_tenant_id"))
      << "an empty value counts as unset";
}

TEST(DatabricksProfileIni, AProfileWithNoHostHasAnEmptyHost) {
  const auto p = parse(std::string("[dev]\ntoken = ") + kToken + "\n", "dev");
  EXPECT_EQ(p.host, "");
  EXPECT_EQ(p.token.reveal(), kToken);
}

TEST(DatabricksProfileIni, ByteOrderMarkAndCrlfLineEnds) {
  const auto p =
      parse("\xEF\xBB\xBF[dev]\r\nhost = https://x.example.com\r\nclient_id = id\r\n", "dev");
  EXPECT_EQ(p.host, "https://x.example.com");
  EXPECT_EQ(p.client_id, "id");
}

TEST(DatabricksProfileIni, HostileBytesGiveErrorsThatNameTheLineNeverTheValue) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string secret = kSecret;
  const std::vector<Case> cases{
      {"[dev]\nclient_secret = " + secret + std::string("\0tail\n", 6),
       "line 2 contains a NUL byte"},
      {"[dev]\ntoken = " + secret + "\x01\n", "line 2: the token contains a control character"},
      {"[dev]\n" + secret + "\n", "line 2 is not `key = value`"},
      {"[dev\nhost = x\n", "line 1 starts a section but is not `[name]`"},
      {"[dev] " + secret + "\n", "line 1 starts a section but is not `[name]`"},
      {"[  ]\n", "line 1 has an empty section name"},
      {"[dev]\n = " + secret + "\n", "line 2 has no key before '='"},
  };
  for (const auto& c : cases) {
    const std::string message =
        config_error([&] { (void)parse_databricks_profile(c.text, "dev", "/cfg"); });
    EXPECT_THAT(message, AllOf(HasSubstr(c.expected), HasSubstr("/cfg"), Not(HasSubstr(secret))))
        << "for " << ::testing::PrintToString(c.text);
  }
  // Bytes that are not UTF-8 in names and values are kept, and shown as '?'.
  const auto p = parse_databricks_profile("[d\xff]\nhost = h\xfe\n", "d\xff", "/cfg");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->host, "h\xfe");
  const std::string missing = config_error([] {
    ProfileRequest request;
    request.profile = "caf\xc3\xa9\nX";
    pgobo::test::TempDir dir;
    request.config_file = dir.write("cfg", "[dev]\n");
    (void)load_databricks_profile(request);
  });
  EXPECT_THAT(missing, AllOf(HasSubstr("profile 'caf???X'"), HasSubstr("its profiles: dev")));
}

// ---------------------------------------------------------------------------
// Which file, which profile

TEST(DatabricksProfileFile, AMissingDefaultFileIsNoProfile) {
  pgobo::test::TempDir home;
  ProfileRequest request;
  request.home = home.path();
  EXPECT_FALSE(load_databricks_profile(request).has_value());
  request.home.clear();
  EXPECT_FALSE(load_databricks_profile(request).has_value()) << "no HOME: no default file";
}

TEST(DatabricksProfileFile, TheDefaultFileAndProfile) {
  pgobo::test::TempDir home;
  home.write(".databrickscfg", "[DEFAULT]\nhost = https://d.example.com\n[dev]\nhost = x\n");
  ProfileRequest request;
  request.home = home.path();
  const auto p = load_databricks_profile(request);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->name, "DEFAULT");
  EXPECT_EQ(p->file, home.path() + "/.databrickscfg");
  EXPECT_EQ(p->host, "https://d.example.com");

  home.write(".databrickscfg", "[dev]\nhost = x\n");
  EXPECT_FALSE(load_databricks_profile(request).has_value())
      << "no profile named and no DEFAULT: no profile";
}

TEST(DatabricksProfileFile, TheCliSettingsDefaultProfileIsUsedWhenNoneIsNamed) {
  pgobo::test::TempDir home;
  home.write(".databrickscfg",
             "[__settings__]\ndefault_profile = dev\n[DEFAULT]\nhost = d\n[dev]\nhost = x\n");
  ProfileRequest request;
  request.home = home.path();
  EXPECT_EQ(load_databricks_profile(request)->name, "dev");
  request.profile = "DEFAULT";
  EXPECT_EQ(load_databricks_profile(request)->name, "DEFAULT") << "a named profile wins";
  request.profile = "__settings__";
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              HasSubstr("not a profile"));
  home.write(".databrickscfg", "[__settings__]\ndefault_profile = gone\n[dev]\n");
  request.profile.clear();
  EXPECT_THAT(
      config_error([&] { (void)load_databricks_profile(request); }),
      AllOf(HasSubstr("default_profile"), HasSubstr("'gone'"), HasSubstr("its profiles: dev")));
}

TEST(DatabricksProfileFile, NamedButMissingIsAnError) {
  pgobo::test::TempDir home;
  ProfileRequest request;
  request.home = home.path();
  request.profile = "dev";
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              AllOf(HasSubstr("DATABRICKS_CONFIG_PROFILE names profile 'dev'"),
                    HasSubstr("does not exist")));
  request.config_file = home.path() + "/nope.cfg";
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              AllOf(HasSubstr("DATABRICKS_CONFIG_FILE"), HasSubstr("nope.cfg does not exist")));
  home.write("nope.cfg", "[prod]\n[staging]\n");
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              AllOf(HasSubstr("'dev'"), HasSubstr("its profiles: prod, staging")));
  request.home.clear();
  request.config_file.clear();
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              HasSubstr("HOME is not set"));
}

TEST(DatabricksProfileFile, TildeIsTheHomeDirectory) {
  pgobo::test::TempDir home;
  home.write("cfg/work.cfg", "[w]\nhost = https://w.example.com\n");
  ProfileRequest request;
  request.home = home.path();
  request.config_file = "~/cfg/work.cfg";
  request.profile = "w";
  EXPECT_EQ(load_databricks_profile(request)->host, "https://w.example.com");
  request.home.clear();
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              HasSubstr("starts with '~' but HOME is not set"));
}

TEST(DatabricksProfileFile, ADirectoryOrAHugeFileIsRefused) {
  pgobo::test::TempDir dir;
  ProfileRequest request;
  request.config_file = dir.path();
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              HasSubstr("is not a regular file"));
  request.config_file = dir.write("big.cfg", std::string(2 << 20, '#'));
  EXPECT_THAT(config_error([&] { (void)load_databricks_profile(request); }),
              HasSubstr("larger than 1 MiB"));
}

// ---------------------------------------------------------------------------
// AppConfig::from_env: environment over file; PAT, M2M, CLI

class ProfileEnv : public pgobo::test::AppEnvTest {
 protected:
  void SetUp() override {
    set("PGHOST", "db.internal");
    set("PGDATABASE", "app");
    set("LAKEBASE_ENDPOINT", "projects/app/branches/main/endpoints/primary");
    set("HOME", home_.path());
  }

  void write_config(const std::string& text) { home_.write(".databrickscfg", text); }
  // A `databricks` executable in a directory that the environment's PATH lists.
  std::string install_cli() {
    const std::string cli = home_.write("bin/databricks", "#!/bin/sh\nexit 3\n", 0755);
    set("PATH", "/nonexistent-dir:" + home_.path() + "/bin");
    return cli;
  }

  pgobo::test::TempDir home_;
};

TEST_F(ProfileEnv, TheDefaultProfileSuppliesTheWorkspace) {
  write_config(std::string("[DEFAULT]\nhost = dev.cloud.databricks.com\ntoken = ") + kToken + "\n");
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.workspace_url, "https://dev.cloud.databricks.com");
  EXPECT_EQ(c.lakebase.workspace_token.reveal(), kToken);
  EXPECT_EQ(c.lakebase.config_profile, "DEFAULT");
  EXPECT_EQ(c.lakebase.config_file, home_.path() + "/.databrickscfg");
  EXPECT_NE(dynamic_cast<PersonalAccessToken*>(c.make_workspace_token().get()), nullptr);
}

TEST_F(ProfileEnv, EnvironmentWinsKeyByKeyOverANamedProfile) {
  write_config(std::string("[dev]\nhost = https://dev.example.com\ntoken = ") + kToken +
               "\nclient_id = profile-client\n");
  set("DATABRICKS_CONFIG_PROFILE", "dev");
  set("DATABRICKS_TOKEN", kEnvToken);
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.workspace_url, "https://dev.example.com") << "not in the environment";
  EXPECT_EQ(c.lakebase.workspace_token.reveal(), kEnvToken);
  EXPECT_EQ(c.lakebase.client_id, "profile-client");
  EXPECT_EQ(c.lakebase.config_profile, "dev");
}

TEST_F(ProfileEnv, WithoutANamedProfileAConfiguredEnvironmentSkipsTheFile) {
  // The SDKs' rule: DEFAULT's token must not go to the environment's host.
  write_config(std::string("[DEFAULT]\nhost = https://a.example.com\ntoken = ") + kToken + "\n");
  set("DATABRICKS_HOST", "https://b.example.com");
  EXPECT_THAT(error(), AllOf(HasSubstr("no workspace credential"), HasSubstr("DATABRICKS_TOKEN"),
                             HasSubstr("DATABRICKS_CONFIG_PROFILE"),
                             HasSubstr("databricks auth login"), Not(HasSubstr(kToken))));
  // Named, it is read, environment first; but its token belongs to its own
  // host and is not sent to another one.
  set("DATABRICKS_CONFIG_PROFILE", "DEFAULT");
  EXPECT_THAT(error(), AllOf(HasSubstr("profile 'DEFAULT'"), HasSubstr("https://a.example.com"),
                             HasSubstr("https://b.example.com"),
                             HasSubstr("not sent to another workspace"), Not(HasSubstr(kToken))));
  set("DATABRICKS_HOST", "a.example.com/?o=1");  // the same workspace, as pasted
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.workspace_url, "https://a.example.com");
  EXPECT_EQ(c.lakebase.workspace_token.reveal(), kToken);
}

TEST_F(ProfileEnv, PatWinsOverM2mWhichWinsOverTheCli) {
  install_cli();
  write_config(std::string("[both]\nhost = https://x.example.com\ntoken = ") + kToken +
               "\nclient_id = c\nclient_secret = " + kSecret +
               "\n[m2m]\nhost = https://x.example.com\nclient_id = c\nclient_secret = " + kSecret +
               "\n[cli]\nhost = https://x.example.com\n");
  set("DATABRICKS_CONFIG_PROFILE", "both");
  EXPECT_NE(dynamic_cast<PersonalAccessToken*>(read().make_workspace_token().get()), nullptr);
  set("DATABRICKS_CONFIG_PROFILE", "m2m");
  EXPECT_NE(dynamic_cast<ServicePrincipalOAuth*>(read().make_workspace_token().get()), nullptr);
  set("DATABRICKS_CONFIG_PROFILE", "cli");
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.databricks_cli_path, home_.path() + "/bin/databricks")
      << "found with the environment's PATH";
  EXPECT_NE(dynamic_cast<DatabricksCliToken*>(c.make_workspace_token().get()), nullptr);
}

TEST_F(ProfileEnv, WithoutTheCliAHostOnlyProfileSaysWhatToDo) {
  write_config("[cli]\nhost = https://x.example.com\n");
  set("DATABRICKS_CONFIG_PROFILE", "cli");
  EXPECT_THAT(error(), AllOf(HasSubstr("no workspace credential"),
                             HasSubstr("nor does profile 'cli' of " + home_.path()),
                             HasSubstr("databricks auth login")));
}

TEST_F(ProfileEnv, DatabricksCliPathNamesTheExecutable) {
  write_config("[DEFAULT]\nhost = https://x.example.com\n");
  const std::string cli = home_.write("tools/my-databricks", "#!/bin/sh\nexit 3\n", 0755);
  set("DATABRICKS_CLI_PATH", cli);
  const AppConfig c = read();
  EXPECT_EQ(c.lakebase.databricks_cli_path, cli);
  EXPECT_NE(dynamic_cast<DatabricksCliToken*>(c.make_workspace_token().get()), nullptr);
  set("DATABRICKS_CLI_PATH", home_.path() + "/tools/missing");
  EXPECT_THAT(error(), HasSubstr("no workspace credential"));
}

TEST_F(ProfileEnv, AuthTypeForcesOneMethod) {
  write_config(std::string("[DEFAULT]\nhost = https://x.example.com\ntoken = ") + kToken +
               "\nclient_id = c\nclient_secret = " + kSecret + "\n");
  set("DATABRICKS_AUTH_TYPE", "oauth-m2m");
  EXPECT_NE(dynamic_cast<ServicePrincipalOAuth*>(read().make_workspace_token().get()), nullptr);
  set("DATABRICKS_AUTH_TYPE", "databricks-cli");  // even where the CLI is not found yet
  const AppConfig cli = read();
  EXPECT_NE(dynamic_cast<DatabricksCliToken*>(cli.make_workspace_token().get()), nullptr);
  set("DATABRICKS_AUTH_TYPE", "pat");
  EXPECT_NE(dynamic_cast<PersonalAccessToken*>(read().make_workspace_token().get()), nullptr);

  write_config("[DEFAULT]\nhost = https://x.example.com\nclient_id = c\n");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_TOKEN is not set"),
                             HasSubstr("DATABRICKS_AUTH_TYPE is pat")));
  set("DATABRICKS_AUTH_TYPE", "oauth-m2m");
  EXPECT_THAT(error(), HasSubstr("DATABRICKS_CLIENT_SECRET is not set"));
  set("DATABRICKS_AUTH_TYPE", "azure-cli");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_AUTH_TYPE"), HasSubstr("'azure-cli'"),
                             HasSubstr("pat, oauth-m2m or databricks-cli")));
}

TEST_F(ProfileEnv, AProfileWithOnlyAnUnsupportedMethodNamesTheProfileAndTheChoices) {
  install_cli();  // not a fallback for a profile that means another method
  write_config(std::string("[azure]\nhost = https://adb-1.azuredatabricks.net\n") +
               "azure_client_id = a\nazure_client_secret = " + kSecret + "\nazure_tenant_id = t\n" +
               "[basic]\nhost = https://x.example.com\nauth_type = basic\n");
  set("DATABRICKS_CONFIG_PROFILE", "azure");
  EXPECT_THAT(error(), AllOf(HasSubstr("profile 'azure'"),
                             HasSubstr("azure_client_id, azure_client_secret, azure_tenant_id"),
                             HasSubstr("personal access token"), HasSubstr("OAuth M2M"),
                             HasSubstr("Databricks CLI"), Not(HasSubstr(kSecret))));
  set("DATABRICKS_CONFIG_PROFILE", "basic");
  EXPECT_THAT(error(),
              AllOf(HasSubstr("profile 'basic'"), HasSubstr("auth_type 'basic'"), HasSubstr("pat"),
                    HasSubstr("oauth-m2m"), HasSubstr("databricks-cli")));
  set("DATABRICKS_TOKEN", kEnvToken);  // a supported credential: the azure keys are ignored
  set("DATABRICKS_CONFIG_PROFILE", "azure");
  EXPECT_EQ(read().lakebase.workspace_token.reveal(), kEnvToken);
}

TEST_F(ProfileEnv, NamedFilesAndProfilesMustExist) {
  set("DATABRICKS_CONFIG_FILE", home_.path() + "/missing.cfg");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_CONFIG_FILE"), HasSubstr("does not exist")));
  set("DATABRICKS_HOST", "https://x.example.com");  // not read, but still a mistake
  EXPECT_THAT(error(), HasSubstr("missing.cfg does not exist"));
  unset("DATABRICKS_HOST");
  unset("DATABRICKS_CONFIG_FILE");
  write_config("[prod]\nhost = https://p.example.com\n");
  set("DATABRICKS_CONFIG_PROFILE", "dev");
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_CONFIG_PROFILE names profile 'dev'"),
                             HasSubstr("its profiles: prod")));
}

TEST_F(ProfileEnv, AMissingHostMentionsTheProfileOption) {
  set("DATABRICKS_TOKEN", kEnvToken);
  EXPECT_THAT(error(), AllOf(HasSubstr("DATABRICKS_HOST is not set"),
                             HasSubstr("DATABRICKS_CONFIG_PROFILE")));
  write_config("[dev]\nclient_id = c\n");
  set("DATABRICKS_CONFIG_PROFILE", "dev");
  EXPECT_THAT(error(),
              AllOf(HasSubstr("DATABRICKS_HOST is not set"), HasSubstr("nor does profile 'dev'")));
}

TEST_F(ProfileEnv, NoProfileIsReadWithoutLakebase) {
  write_config("this is not an INI file\n");
  set("PGPASSWORD", "static-password-value");
  unset("LAKEBASE_ENDPOINT");
  EXPECT_NO_THROW((void)read()) << "a plain password configuration: the file is not read";
  // In the environment LAKEBASE_ENDPOINT wins over PGPASSWORD (as in
  // AppKit), so the workspace credential is looked for, in the file too.
  set("LAKEBASE_ENDPOINT", "projects/app/branches/main/endpoints/primary");
  EXPECT_THAT(error(), HasSubstr("line 1 is not `key = value`"));
  unset("PGPASSWORD");
  EXPECT_THAT(error(), HasSubstr("line 1 is not `key = value`"));
}

TEST(ProfileJson, ConfigFileAndProfileKeys) {
  pgobo::test::TempDir dir;
  const std::string file = dir.write(
      "db.cfg", std::string("[dev]\nhost = https://j.example.com\ntoken = ") + kToken + "\n");
  nlohmann::json json{{"host", "db"},
                      {"database", "app"},
                      {"lakebase_endpoint", "projects/app/branches/main/endpoints/primary"},
                      {"config_file", file},
                      {"config_profile", "dev"}};
  const AppConfig c = AppConfig::from_json(json);
  EXPECT_EQ(c.lakebase.workspace_url, "https://j.example.com");
  EXPECT_EQ(c.lakebase.workspace_token.reveal(), kToken);
  json.erase("config_file");
  EXPECT_THAT(config_error([&] { (void)AppConfig::from_json(json); }),
              AllOf(HasSubstr("'config_profile'"), HasSubstr("'config_file'")));
  json["auth_type"] = "external-browser";
  json["config_file"] = file;
  EXPECT_THAT(config_error([&] { (void)AppConfig::from_json(json); }),
              AllOf(HasSubstr("JSON key 'auth_type'"), HasSubstr("external-browser")));
}

}  // namespace
