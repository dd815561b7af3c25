// Fault: the server (and the client) speak another language. A server with
// lc_messages = de_DE.UTF-8 or fr_FR.UTF-8 sends its login errors translated,
// and libpq translates its own by the client's LC_MESSAGES. pgobo used to
// classify by English text, so a wrong password became ServerUnavailable:
// login_failing() and the older-token fallback stopped working. Now the kind
// comes from the SQLSTATE (pqxx_driver.hpp, "Why a login failed").
//
// Each test runs on a private server (private_pg.hpp) started with the
// locale; each first checks that the server really answers in that language,
// so a test cannot pass because the locale was silently not applied.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <clocale>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "pg_fixture.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/pqxx_driver.hpp"
#include "private_pg.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

struct Language {
  const char* locale;
  const char* wrong_password_word;  // in the server's text for a wrong password
};

void PrintTo(const Language& l, std::ostream* out) { *out << l.locale; }

// Runs under the shared fixture only for its rule on a missing server (skip,
// or fail under PGOBO_REQUIRE_PG); everything happens on a private server.
class FaultServerLocale : public PgTest, public ::testing::WithParamInterface<Language> {
 protected:
  static std::string options(const std::string& more = "") {
    return std::string("-c lc_messages=") + GetParam().locale + " " + more;
  }

  static ConnectionParams params_for(const PrivatePg& pg, const std::string& role) {
    ConnectionParams p;
    p.host = pg.server().host;
    p.port = static_cast<std::uint16_t>(pg.server().port);
    p.dbname = pg.server().database;
    p.user = role;
    p.sslmode = SslMode::disable;
    p.connect_timeout = 5s;
    return p;
  }

  // The exception PqxxDriver::open() throws, as its type's name and message.
  template <class Expected>
  static std::string open_fails_with(const ConnectionParams& params, const Secret& password) {
    try {
      (void)PqxxDriver{}.open(params, password);
    } catch (const Expected& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wrong kind of error: " << e.what();
      return {};
    }
    ADD_FAILURE() << "connected";
    return {};
  }
};

// libpq's own messages in the client's language, for the scope's duration.
class ClientMessagesIn {
 public:
  explicit ClientMessagesIn(const char* locale) {
    const char* before = std::setlocale(LC_MESSAGES, nullptr);
    before_ = before != nullptr ? before : "C";
    if (std::setlocale(LC_MESSAGES, locale) == nullptr) {
      ADD_FAILURE() << "locale " << locale << " is not installed (scripts/install-deps)";
    }
  }
  ~ClientMessagesIn() { std::setlocale(LC_MESSAGES, before_.c_str()); }
  ClientMessagesIn(const ClientMessagesIn&) = delete;
  ClientMessagesIn& operator=(const ClientMessagesIn&) = delete;

 private:
  std::string before_;
};

TEST_P(FaultServerLocale, WrongPasswordIsAuthenticationFailed) {
  PrivatePg pg(options());
  pg.create_login_role("alice@example.com");
  const Secret wrong{"wrong-password-never-shown"};

  const std::string message =
      open_fails_with<AuthenticationFailed>(params_for(pg, "alice@example.com"), wrong);

  EXPECT_THAT(message, HasSubstr(GetParam().wrong_password_word)) << "the server spoke English";
  EXPECT_THAT(message, Not(HasSubstr("password authentication failed")));
  EXPECT_THAT(message, HasSubstr("(SQLSTATE 28P01)"));
  EXPECT_THAT(message, Not(HasSubstr("wrong-password-never-shown")));
}

TEST_P(FaultServerLocale, WrongPasswordWithTheClientInThatLanguageToo) {
  PrivatePg pg(options());
  pg.create_login_role("alice@example.com");
  const ClientMessagesIn client(GetParam().locale);

  const std::string message = open_fails_with<AuthenticationFailed>(
      params_for(pg, "alice@example.com"), Secret{"wrong-password-never-shown"});

  EXPECT_THAT(message, Not(HasSubstr("connection to server at")));  // libpq spoke it too
  EXPECT_THAT(message, HasSubstr("(SQLSTATE 28P01)"));
}

TEST_P(FaultServerLocale, MissingDatabaseIsAuthenticationFailedWithItsCode) {
  PrivatePg pg(options());
  pg.create_login_role("alice@example.com");
  ConnectionParams params = params_for(pg, "alice@example.com");
  params.dbname = "no_such_database";

  const std::string message =
      open_fails_with<AuthenticationFailed>(params, Secret{password_for("alice@example.com")});

  EXPECT_THAT(message, Not(HasSubstr("does not exist")));
  EXPECT_THAT(message, HasSubstr("(SQLSTATE 3D000)"));
}

TEST_P(FaultServerLocale, NoFreeSlotIsTooManyConnections) {
  // 5 - 3 reserved for superusers = 2 slots, both taken by another client.
  PrivatePg pg(options("-c max_connections=5 -c superuser_reserved_connections=3"));
  pg.create_login_role("hog");
  pg.create_login_role("alice@example.com");
  std::vector<std::unique_ptr<pqxx::connection>> hog;
  for (int i = 0; i < 2; ++i) {
    hog.push_back(
        std::make_unique<pqxx::connection>(pg.server().tcp_conninfo("hog", password_for("hog"))));
  }

  const std::string message = open_fails_with<TooManyConnections>(
      params_for(pg, "alice@example.com"), Secret{password_for("alice@example.com")});

  EXPECT_THAT(message, Not(HasSubstr("remaining connection slots")));
  EXPECT_THAT(message, HasSubstr("(SQLSTATE 53300)"));
}

TEST_P(FaultServerLocale, ServerDownIsServerUnavailable) {
  PrivatePg pg(options());
  pg.create_login_role("alice@example.com");
  const ConnectionParams params = params_for(pg, "alice@example.com");
  pg.stop();
  const ClientMessagesIn client(GetParam().locale);  // "Connection refused", translated

  const std::string message =
      open_fails_with<ServerUnavailable>(params, Secret{password_for("alice@example.com")});

  EXPECT_THAT(message, Not(HasSubstr("Connection refused")));
  EXPECT_THAT(message, HasSubstr("(no error from the server)"));
}

INSTANTIATE_TEST_SUITE_P(Languages, FaultServerLocale,
                         ::testing::Values(Language{"de_DE.UTF-8", "Passwort-Authentifizierung"},
                                           Language{"fr_FR.UTF-8", "authentification"}),
                         [](const ::testing::TestParamInfo<Language>& row) {
                           return std::string(row.param.locale).substr(0, 2);
                         });

}  // namespace
}  // namespace pgobo::test
