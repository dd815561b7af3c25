// Fault: one failed open puts a pool into its connect backoff while some of
// its connections are leased. Against the real server so the timings are those
// of real logins.
//
// A connect() that arrives during the backoff, in a pool that still has
// capacity but whose connections are all leased, queues as a waiter. Nothing
// else happens in the pool (no release, no close, no other connect()), so
// the waiter must wake by itself when the backoff ends and open a
// connection (BasicPool::wake_time_locked), not wait for its deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "fault_support.hpp"
#include "pg_fixture.hpp"
#include "pgobo/pqxx_pool.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;

class FaultPoolBackoff : public PgTest {};

TEST_F(FaultPoolBackoff, ALoneWaiterOpensWhenTheBackoffEnds) {
  constexpr auto kAcquireTimeout = 2s;
  auto fail = std::make_shared<std::atomic<bool>>(false);
  PoolOptions options;
  options.name = "backoff";
  options.connection.host = server().pool_host;
  options.connection.port = static_cast<std::uint16_t>(server().pool_port);
  options.connection.dbname = server().database;
  options.connection.user = kAlice;
  options.connection.sslmode = SslMode::disable;
  options.max_size = 3;
  options.acquire_timeout = kAcquireTimeout;
  options.connect_backoff_max = 2s;
  options.credentials = make_credential_function([fail]() -> Secret {
    if (*fail) throw CredentialError("the credential service is down (simulated)");
    return Secret(password_for(kAlice));
  });
  Pool pool(options);
  Lease first = pool.connect();
  Lease second = pool.connect();

  fail->store(true);
  EXPECT_THROW((void)pool.connect(), CredentialError);  // backoff: 50 ms from now
  fail->store(false);

  const auto asked = FaultClock::now();
  std::string error;
  try {
    Lease third = pool.connect();
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto waited = FaultClock::now() - asked;

  EXPECT_EQ(error, "") << "the pool had room and its backoff ended after 50 ms";
  EXPECT_LT(waited, 1s) << "waited for the acquire deadline instead of the backoff's end";
  report("third connect() after a failed open took " +
         std::to_string(ms_between(asked, asked + waited)) + " ms" +
         (error.empty() ? "" : ": " + error));
}

}  // namespace
}  // namespace pgobo::test
