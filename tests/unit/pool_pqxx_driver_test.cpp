// PqxxDriver turns libpq's connect failures into typed errors and never lets
// the password through. No server needed: the texts are libpq's own, and a
// refused port is refused locally.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "pgobo/errors.hpp"
#include "pgobo/pqxx_driver.hpp"

namespace pgobo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ConnectionParams alice() {
  ConnectionParams params;
  params.host = "127.0.0.1";
  params.port = 5432;
  params.dbname = "app";
  params.user = "alice@example.com";
  return params;
}

TEST(PoolPqxxDriver, PasswordAuthenticationFailureIsAuthenticationFailed) {
  EXPECT_THROW(throw_connect_error("connection to server at \"127.0.0.1\", port 5432 failed: "
                                   "FATAL:  password authentication failed for user \"alice\"\n",
                                   alice(), Secret{"pw"}),
               AuthenticationFailed);
}

TEST(PoolPqxxDriver, UnknownRoleIsAuthenticationFailed) {
  EXPECT_THROW(throw_connect_error("FATAL:  role \"mallory\" does not exist", alice(), Secret{}),
               AuthenticationFailed);
}

TEST(PoolPqxxDriver, MissingHbaEntryIsAuthenticationFailed) {
  EXPECT_THROW(
      throw_connect_error("FATAL:  no pg_hba.conf entry for host \"10.0.0.1\"", alice(), Secret{}),
      AuthenticationFailed);
}

TEST(PoolPqxxDriver, TooManyClientsIsTooManyConnections) {
  EXPECT_THROW(throw_connect_error("FATAL:  sorry, too many clients already", alice(), Secret{}),
               TooManyConnections);
}

TEST(PoolPqxxDriver, ReservedSlotsIsTooManyConnections) {
  EXPECT_THROW(throw_connect_error("FATAL:  remaining connection slots are reserved for "
                                   "non-replication superuser connections",
                                   alice(), Secret{}),
               TooManyConnections);
}

TEST(PoolPqxxDriver, RefusedConnectionIsServerUnavailable) {
  EXPECT_THROW(throw_connect_error("connection to server at \"127.0.0.1\", port 5432 failed: "
                                   "Connection refused",
                                   alice(), Secret{}),
               ServerUnavailable);
}

TEST(PoolPqxxDriver, MessageNamesWhereAndAsWhomWithoutTheTrailingNewline) {
  try {
    throw_connect_error("FATAL:  the database system is shutting down\n", alice(), Secret{});
  } catch (const ServerUnavailable& e) {
    EXPECT_EQ(std::string(e.what()),
              "could not connect to 127.0.0.1:5432 database 'app' as 'alice@example.com': "
              "FATAL:  the database system is shutting down");
  }
}

TEST(PoolPqxxDriver, PasswordInLibpqTextIsMasked) {
  const Secret password{"s3cr3t-'quoted'"};
  try {
    throw_connect_error("odd failure mentioning s3cr3t-'quoted' and 's3cr3t-\\'quoted\\''", alice(),
                        password);
  } catch (const ConnectError& e) {
    EXPECT_THAT(e.what(), Not(HasSubstr("s3cr3t")));
    EXPECT_THAT(e.what(), HasSubstr("***"));
  }
}

TEST(PoolPqxxDriver, OpeningARefusedPortThrowsServerUnavailableWithoutThePassword) {
  ConnectionParams params = alice();
  params.port = 1;  // nothing listens there
  params.sslmode = SslMode::disable;
  const Secret password{"never-print-me-42"};

  try {
    (void)PqxxDriver{}.open(params, password);
    FAIL() << "connected to port 1";
  } catch (const ServerUnavailable& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:1"));
    EXPECT_THAT(e.what(), Not(HasSubstr("never-print-me-42")));
  }
}

// --- Servers and clients in other languages -----------------------------------
//
// A German server (lc_messages = de_DE.UTF-8) sends its startup errors in
// German. Before the diagnosis by SQLSTATE these all became ServerUnavailable.

constexpr const char* kGermanWrongPassword =
    "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
    "Passwort-Authentifizierung f\xc3\xbcr Benutzer \xc2\xbb"
    "alice\xc2\xab fehlgeschlagen\n";

std::function<ConnectDiagnosis()> diagnosed_as(std::string sqlstate, bool needs_password = false,
                                               int* calls = nullptr) {
  return [=] {
    if (calls != nullptr) ++*calls;
    ConnectDiagnosis d;
    d.sqlstate = sqlstate;
    d.needs_password = needs_password;
    return d;
  };
}

TEST(PoolPqxxDriverLocale, GermanWrongPasswordIsAuthenticationFailedBySqlstate) {
  const Secret password{"pw-never-shown"};
  try {
    throw_connect_error(kGermanWrongPassword, alice(), password, diagnosed_as("28P01"));
    FAIL() << "no exception";
  } catch (const AuthenticationFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("Passwort-Authentifizierung"));
    EXPECT_THAT(e.what(), HasSubstr("(SQLSTATE 28P01)"));
    EXPECT_THAT(e.what(), Not(HasSubstr("pw-never-shown")));
  }
}

TEST(PoolPqxxDriverLocale, UnrecognizedTextWithoutADiagnosisIsUnclassifiedNotServerUnavailable) {
  try {
    throw_connect_error(kGermanWrongPassword, alice(), Secret{});
    FAIL() << "no exception";
  } catch (const ServerUnavailable& e) {
    FAIL() << "a translated failure passed for an unreachable server: " << e.what();
  } catch (const UnclassifiedConnectError& e) {
    EXPECT_THAT(e.what(), HasSubstr("fehlgeschlagen"));
  }
}

TEST(PoolPqxxDriverLocale, EachSqlstateGivesItsKind) {
  EXPECT_THROW(throw_connect_error("FATAL:  zu viele", alice(), Secret{}, diagnosed_as("53300")),
               TooManyConnections);
  EXPECT_THROW(throw_connect_error("FATAL:  Datenbank existiert nicht", alice(), Secret{},
                                   diagnosed_as("3D000")),
               AuthenticationFailed);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("28000")),
               AuthenticationFailed);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("42501")),
               AuthenticationFailed);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("57P03")),
               ServerUnavailable);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("08006")),
               ServerUnavailable);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("53200")),
               ServerUnavailable);
  EXPECT_THROW(throw_connect_error("FATAL:  x", alice(), Secret{}, diagnosed_as("XX000")),
               UnclassifiedConnectError);
  // No code: the server sent no error. libpq lacking a password is a login
  // problem; anything else happened on the way (network, TLS).
  EXPECT_THROW(throw_connect_error("keine Verbindung", alice(), Secret{}, diagnosed_as("", true)),
               AuthenticationFailed);
  EXPECT_THROW(throw_connect_error("keine Verbindung", alice(), Secret{}, diagnosed_as("")),
               ServerUnavailable);
}

// A failure that does not repeat was transient (a backend killed during the
// login): ServerUnavailable, which the pool's backoff and callers treat so.
TEST(PoolPqxxDriverLocale, AFailureThatDoesNotRepeatIsServerUnavailable) {
  try {
    throw_connect_error("etwas", alice(), Secret{}, [] {
      ConnectDiagnosis d;
      d.connected = true;
      return d;
    });
    FAIL() << "no exception";
  } catch (const ServerUnavailable& e) {
    EXPECT_THAT(e.what(), HasSubstr("did not repeat"));
  }
}

// libpqxx's own text when the backend is gone right after the login (found
// by FaultBackendsKilled): never translated, so no second attempt.
TEST(PoolPqxxDriverLocale, ConnectionLostAfterTheLoginIsServerUnavailableWithoutADiagnosis) {
  int calls = 0;
  EXPECT_THROW(throw_connect_error("Could not obtain client encoding: not connected.", alice(),
                                   Secret{}, diagnosed_as("XX000", false, &calls)),
               ServerUnavailable);
  EXPECT_EQ(calls, 0);
}

TEST(PoolPqxxDriverLocale, EnglishTextNeedsNoDiagnosis) {
  int calls = 0;
  EXPECT_THROW(throw_connect_error("FATAL:  password authentication failed for user \"a\"", alice(),
                                   Secret{}, diagnosed_as("53300", false, &calls)),
               AuthenticationFailed);
  EXPECT_THROW(throw_connect_error("connection to server at \"127.0.0.1\", port 1 failed: "
                                   "Connection refused",
                                   alice(), Secret{}, diagnosed_as("", false, &calls)),
               ServerUnavailable);
  EXPECT_EQ(calls, 0);
}

TEST(PoolPqxxDriverLocale, SqlstateIsReadFromATerseLibpqMessage) {
  EXPECT_EQ(sqlstate_in_libpq_message(
                "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01\n"),
            "28P01");
  // The severity word is translated (here Japanese); the code is not.
  EXPECT_EQ(sqlstate_in_libpq_message("\xe8\x87\xb4\xe5\x91\xbd:  53300\n"), "53300");
  // Two hosts tried: the last one's code.
  EXPECT_EQ(sqlstate_in_libpq_message("host a failed: FATAL:  57P03\nhost b failed: FATAL:  "
                                      "3D000\n"),
            "3D000");
  EXPECT_EQ(sqlstate_in_libpq_message("FATAL:  3D000"), "3D000");
  EXPECT_EQ(sqlstate_in_libpq_message(kGermanWrongPassword), "");
  EXPECT_EQ(sqlstate_in_libpq_message("FATAL:  ABCDEF\n"), "");
  EXPECT_EQ(sqlstate_in_libpq_message("failed: Connection refused\n\tIs the server running"), "");
  EXPECT_EQ(sqlstate_in_libpq_message(""), "");
}

TEST(PoolPqxxDriverLocale, UnclassifiedKeepsItsTypeThroughThePoolsBackoff) {
  std::string message;
  detail::ConnectFailure kind = detail::ConnectFailure::other;
  try {
    throw UnclassifiedConnectError("why not known");
  } catch (...) {
    kind = detail::classify_current_exception(message);
  }
  EXPECT_EQ(kind, detail::ConnectFailure::unclassified);
  EXPECT_THROW(detail::throw_connect_failure(kind, message), UnclassifiedConnectError);
}

}  // namespace
}  // namespace pgobo
