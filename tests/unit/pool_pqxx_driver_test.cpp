// PqxxDriver turns libpq's connect failures into typed errors and never lets
// the password through. No server needed: the texts are libpq's own, and a
// refused port is refused locally.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pgobo
