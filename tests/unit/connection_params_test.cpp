// ConnectionParams::to_conninfo(): every value survives libpq's own parser
// (PQconninfoParse), whatever bytes it holds, and server settings survive the
// server's split of `options`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "pgobo/connection_params.hpp"
#include "pgobo/errors.hpp"

namespace {

using pgobo::ConnectionParams;
using pgobo::Secret;
using pgobo::SslMode;
using ::testing::HasSubstr;
using ::testing::Not;

// What libpq makes of a conninfo string: keyword → value, for the keywords it
// was given. Fails the test if libpq refuses the string.
std::map<std::string, std::string> parse_with_libpq(const std::string& conninfo) {
  std::map<std::string, std::string> values;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  std::unique_ptr<char, decltype(&PQfreemem)> error_guard(error, &PQfreemem);
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> guard(options, &PQconninfoFree);
  if (options == nullptr) {
    ADD_FAILURE() << "libpq refused the conninfo: " << (error ? error : "out of memory");
    return values;
  }
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) values[option->keyword] = option->val;
  }
  return values;
}

// The server's split of the `options` value into arguments (pg_split_opts
// in postinit.c): whitespace separates, a backslash escapes the next byte.
std::vector<std::string> split_like_the_server(const std::string& options) {
  std::vector<std::string> args;
  std::size_t i = 0;
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  while (i < options.size()) {
    while (i < options.size() && is_space(options[i])) ++i;
    if (i == options.size()) break;
    std::string arg;
    bool escaped = false;
    for (; i < options.size(); ++i) {
      if (is_space(options[i]) && !escaped) break;
      if (!escaped && options[i] == '\\') {
        escaped = true;
      } else {
        escaped = false;
        arg += options[i];
      }
    }
    args.push_back(arg);
  }
  return args;
}

ConnectionParams sample_params() {
  ConnectionParams params;
  params.host = "db.example.com";
  params.port = 6543;
  params.dbname = "app";
  params.user = "alice@example.com";
  params.sslmode = SslMode::verify_full;
  params.application_name = "notes service";
  params.connect_timeout = std::chrono::seconds{7};
  return params;
}

std::string random_bytes(std::mt19937& generator, std::size_t max_length) {
  std::uniform_int_distribution<std::size_t> length(0, max_length);
  std::uniform_int_distribution<int> byte(1, 255);  // no NUL: libpq cannot carry it
  std::string out(length(generator), ' ');
  for (char& c : out) c = static_cast<char>(byte(generator));
  return out;
}

TEST(ConnectionParams, EveryFieldRoundTripsThroughLibpq) {
  const auto values = parse_with_libpq(sample_params().to_conninfo());

  EXPECT_EQ(values.at("host"), "db.example.com");
  EXPECT_EQ(values.at("port"), "6543");
  EXPECT_EQ(values.at("dbname"), "app");
  EXPECT_EQ(values.at("user"), "alice@example.com");
  EXPECT_EQ(values.at("sslmode"), "verify-full");
  EXPECT_EQ(values.at("application_name"), "notes service");
  EXPECT_EQ(values.at("connect_timeout"), "7");
}

TEST(ConnectionParams, WithoutPasswordHasNoPasswordKeyword) {
  const auto values = parse_with_libpq(sample_params().to_conninfo());
  EXPECT_EQ(values.count("password"), 0u);
}

TEST(ConnectionParams, EmptyUserAndApplicationNameAreLeftToLibpqDefaults) {
  ConnectionParams params;
  const auto values = parse_with_libpq(params.to_conninfo());
  EXPECT_EQ(values.count("user"), 0u);
  EXPECT_EQ(values.count("application_name"), 0u);
}

TEST(ConnectionParams, UnsetSslModeIsRequireAndNoRootCertificateIsSent) {
  ConnectionParams params;
  EXPECT_FALSE(params.sslmode.has_value());
  EXPECT_EQ(params.effective_sslmode(), SslMode::require);
  const auto values = parse_with_libpq(params.to_conninfo());
  EXPECT_EQ(values.at("sslmode"), "require");
  EXPECT_EQ(values.count("sslrootcert"), 0u) << "libpq's own default applies";
}

TEST(ConnectionParams, RootCertificateRoundTripsThroughLibpq) {
  for (const std::string path :
       {"/etc/ssl/certs/ca-certificates.crt", "system", "/srv/it's a dir/ca \\ bundle.pem"}) {
    auto params = sample_params();
    params.sslrootcert = path;
    EXPECT_EQ(parse_with_libpq(params.to_conninfo(Secret("pw"))).at("sslrootcert"), path);
  }
}

TEST(ConnectionParams, RootCertificateWithNulIsAConfigError) {
  auto params = sample_params();
  params.sslrootcert = std::string("/a\0b", 4);
  EXPECT_THROW((void)params.to_conninfo(), pgobo::ConfigError);
}

TEST(ConnectionParams, ZeroConnectTimeoutIsOmitted) {
  auto params = sample_params();
  params.connect_timeout = std::chrono::seconds{0};
  EXPECT_EQ(parse_with_libpq(params.to_conninfo()).count("connect_timeout"), 0u);
}

class PasswordRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(PasswordRoundTrip, SurvivesLibpqsParser) {
  const auto values = parse_with_libpq(sample_params().to_conninfo(Secret(GetParam())));
  EXPECT_EQ(values.at("password"), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Tricky, PasswordRoundTrip,
                         ::testing::Values("", "plain", "with spaces  inside ", "it's", "'quoted'",
                                           "\"double\"", R"(back\slash)", R"(\)", R"(\\')",
                                           "ends with backslash\\", "a=b c=d", "user=postgres",
                                           "tab\tnew\nline", "ünïcødé 密码 🔑", "x' host='evil"));

TEST(ConnectionParams, RandomBytesInEveryValueRoundTrip) {
  std::mt19937 generator(20261126);  // fixed: a failure is reproducible
  for (int i = 0; i < 500; ++i) {
    ConnectionParams params;
    params.host = random_bytes(generator, 40);
    params.dbname = random_bytes(generator, 40);
    params.user = random_bytes(generator, 40);
    params.application_name = random_bytes(generator, 40);
    const std::string password = random_bytes(generator, 60);

    const auto values = parse_with_libpq(params.to_conninfo(Secret(password)));
    ASSERT_EQ(values.at("host"), params.host) << "iteration " << i;
    ASSERT_EQ(values.at("dbname"), params.dbname) << "iteration " << i;
    ASSERT_EQ(values.at("password"), password) << "iteration " << i;
    if (!params.user.empty()) {
      ASSERT_EQ(values.at("user"), params.user) << "iteration " << i;
    }
    if (!params.application_name.empty()) {
      ASSERT_EQ(values.at("application_name"), params.application_name) << "iteration " << i;
    }
  }
}

TEST(ConnectionParams, SettingsBecomeDashCArgumentsTheServerSplitsBack) {
  auto params = sample_params();
  params.settings = {{"statement_timeout", "5s"}, {"search_path", "app, public"}};

  const auto values = parse_with_libpq(params.to_conninfo());
  EXPECT_THAT(
      split_like_the_server(values.at("options")),
      ::testing::ElementsAre("-c", "statement_timeout=5s", "-c", "search_path=app, public"));
}

TEST(ConnectionParams, RandomSettingValuesSurviveBothParsers) {
  std::mt19937 generator(42);
  for (int i = 0; i < 300; ++i) {
    auto params = sample_params();
    const std::string value = random_bytes(generator, 30);
    params.settings = {{"application_name", value}, {"my.setting", "x y\\z"}};

    const auto args = split_like_the_server(parse_with_libpq(params.to_conninfo()).at("options"));
    ASSERT_THAT(
        args, ::testing::ElementsAre("-c", "application_name=" + value, "-c", "my.setting=x y\\z"))
        << "iteration " << i;
  }
}

TEST(ConnectionParams, BadSettingNameIsAConfigError) {
  auto params = sample_params();
  params.settings = {{"statement_timeout=1; DROP", "x"}};
  EXPECT_THROW((void)params.to_conninfo(), pgobo::ConfigError);
}

TEST(ConnectionParams, NulInAPasswordIsAConfigErrorThatDoesNotQuoteIt) {
  const std::string password("abc\0def-secret", 14);
  try {
    (void)sample_params().to_conninfo(Secret(password));
    FAIL() << "accepted a NUL byte";
  } catch (const pgobo::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("password"));
    EXPECT_THAT(e.what(), Not(HasSubstr("def-secret")));
  }
}

TEST(ConnectionParams, NulInAnyOtherValueIsAConfigErrorNamingIt) {
  auto params = sample_params();
  params.user = std::string("al\0ice", 6);
  EXPECT_THAT([&] { (void)params.to_conninfo(); },
              ::testing::ThrowsMessage<pgobo::ConfigError>(HasSubstr("user")));

  params = sample_params();
  params.settings = {{"search_path", std::string("a\0b", 3)}};
  EXPECT_THAT([&] { (void)params.to_conninfo(); },
              ::testing::ThrowsMessage<pgobo::ConfigError>(HasSubstr("search_path")));
}

TEST(SslMode, EveryModeRoundTripsThroughItsLibpqSpelling) {
  for (SslMode mode : {SslMode::disable, SslMode::allow, SslMode::prefer, SslMode::require,
                       SslMode::verify_ca, SslMode::verify_full}) {
    EXPECT_EQ(pgobo::parse_ssl_mode(pgobo::to_string(mode)), mode);
  }
  EXPECT_EQ(pgobo::to_string(SslMode::verify_ca), "verify-ca");
}

TEST(SslMode, UnknownModeIsAConfigErrorNamingTheSourceAndTheChoices) {
  EXPECT_THAT([] { (void)pgobo::parse_ssl_mode("verify_full", "PGSSLMODE"); },
              ::testing::ThrowsMessage<pgobo::ConfigError>(
                  AllOf(HasSubstr("PGSSLMODE"), HasSubstr("verify-full"))));
}

}  // namespace
