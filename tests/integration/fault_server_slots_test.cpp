// Fault: the server runs out of connection slots (max_connections), because
// something else holds them. On a private server with a small
// max_connections (private_pg.hpp), so the shared one keeps its room.
//
// Proves that pools that cannot get the connections they want report it as
// TooManyConnections with libpq's reason and the pool's name (no password),
// keep serving what they can, and recover by themselves when slots free up.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.hpp"
#include "pg_fixture.hpp"
#include "pgobo/routing_pool.hpp"
#include "private_pg.hpp"
#include "wait.hpp"

namespace pgobo::test {
namespace {

using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using UserPtr = std::shared_ptr<const UserContext>;

// Runs under the shared fixture only for its rule on a missing server (skip,
// or fail under PGOBO_REQUIRE_PG); everything happens on a private server.
class FaultServerSlots : public PgTest {};

constexpr const char* kHog = "slothog";

TEST_F(FaultServerSlots, PoolsShortOfSlotsGetTooManyConnectionsAndRecoverWhenSlotsFree) {
  constexpr int kThreads = 8;
  constexpr int kUsers = 6;
  constexpr int kIdentities = kUsers + 1;
  constexpr std::size_t kPoolSize = 3;
  constexpr int kFreedForTheLoad = 4;
  // 25 - 3 reserved for superusers = 22 slots: room for every pool at full
  // size (7 × 3 = 21) once the hog lets go, and the test's superuser
  // monitoring always finds a reserved slot.
  PrivatePg pg("-c max_connections=25");
  pg.create_login_role(kServiceRole);
  pg.create_login_role(kHog);
  std::vector<UserPtr> users;
  for (int i = 0; i < kUsers; ++i) {
    const std::string email = "slots" + std::to_string(i) + "@example.com";
    pg.create_login_role(email);
    users.push_back(std::make_shared<const UserContext>(
        make_user_context("id-" + email, email, "token-of-" + email)));
  }
  auto setup = make_counted_router(pg.server(), "pgobo-fault-slots", [&](PoolOptions& p) {
    p.max_size = kPoolSize;
    p.acquire_timeout = 1s;
    p.connect_backoff_max = 500ms;
  });
  RoutingPool& db = *setup.router;
  const auto query_as = [&](int who) {
    return (who == kUsers ? db.query("SELECT current_user")
                          : db.as_user(users[static_cast<std::size_t>(who)])
                                .query("SELECT current_user"))[0][0]
        .as<std::string>();
  };

  // Another client takes every slot there is: open until the server refuses.
  std::vector<std::unique_ptr<pqxx::connection>> hog;
  std::string hog_refusal;
  for (int i = 0; i < 100 && hog_refusal.empty(); ++i) {
    try {
      hog.push_back(
          std::make_unique<pqxx::connection>(pg.server().tcp_conninfo(kHog, password_for(kHog))));
    } catch (const pqxx::broken_connection& e) {
      hog_refusal = e.what();
    }
  }
  ASSERT_THAT(hog_refusal, AnyOf(HasSubstr("remaining connection slots are reserved"),
                                 HasSubstr("too many clients")));
  ASSERT_GE(hog.size(), 21U);

  // 1. No slot at all: every identity's first request fails, as
  //    TooManyConnections, with libpq's reason, and so does the next one
  //    (failing fast during the backoff, still the same type).
  for (int who = 0; who < kIdentities; ++who) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        (void)query_as(who);
        ADD_FAILURE() << "identity " << who << " got a connection with no slot free";
      } catch (const TooManyConnections& e) {
        EXPECT_THAT(e.what(), AnyOf(HasSubstr("remaining connection slots are reserved"),
                                    HasSubstr("too many clients")));
        EXPECT_THAT(e.what(), HasSubstr(who == kUsers ? "pool 'sp'" : "pool 'user:slots"));
        EXPECT_THAT(e.what(), Not(HasSubstr(password_for(kServiceRole))));
        EXPECT_THAT(e.what(), Not(HasSubstr("password=")));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "identity " << who << ": not TooManyConnections: " << e.what();
      }
    }
  }

  // 2. A few slots free under load: pools get what there is; the rest is
  //    TooManyConnections (or, for a pool that holds connections and is
  //    backing off, AcquireTimeout while waiting for one of them).
  for (int i = 0; i < kFreedForTheLoad; ++i) hog.pop_back();
  const int hog_left = static_cast<int>(hog.size());
  ASSERT_TRUE(eventually([&] { return pg.backends_like(kHog) == hog_left; }));

  std::atomic<bool> stopping{false};
  std::atomic<int> phase{0};  // 0: short of slots, 1: slots freed, 2: recovered
  Tally scarce;
  Tally recovered;
  std::array<std::atomic<bool>, kIdentities> served_after_release{};
  std::latch start(kThreads);
  LoadThreads threads(stopping);
  for (int t = 0; t < kThreads; ++t) {
    threads.spawn([&, t] {
      std::mt19937 random(static_cast<std::mt19937::result_type>(t));
      std::uniform_int_distribution<int> pick(0, kIdentities - 1);
      start.arrive_and_wait();
      while (!stopping) {
        const int who = pick(random);
        const int began_in = phase;
        const auto began = FaultClock::now();
        Outcome outcome = Outcome::ok;
        std::string message;
        try {
          const std::string role = query_as(who);
          if (role != (who == kUsers ? std::string(kServiceRole)
                                     : users[static_cast<std::size_t>(who)]->key())) {
            outcome = Outcome::other;
            message = "ran as " + role;
          }
        } catch (...) {
          outcome = classify_current(message);
        }
        if (began_in == 0) scarce.add(outcome, message, FaultClock::now() - began);
        if (began_in == 2) recovered.add(outcome, message, FaultClock::now() - began);
        if (began_in >= 1 && outcome == Outcome::ok) {
          served_after_release[static_cast<std::size_t>(who)] = true;
        }
        // A caller that got an error comes back a little later.
        if (outcome != Outcome::ok) std::this_thread::sleep_for(5ms);
      }
    });
  }
  ASSERT_TRUE(eventually([&] {
    return scarce.count(Outcome::ok) >= 100 && scarce.count(Outcome::too_many_connections) >= 5;
  })) << scarce.describe();
  const int pool_backends_while_scarce =
      pg.backends_like("slots%") + pg.backends_like(kServiceRole);

  // 3. The hog lets go: every pool serves again by itself, then nothing fails.
  hog.clear();
  ASSERT_TRUE(eventually([&] { return pg.backends_like(kHog) == 0; }));
  const auto freed = FaultClock::now();
  phase = 1;
  const bool all_served = poll_until(
      [&] {
        return std::all_of(served_after_release.begin(), served_after_release.end(),
                           [](const auto& s) { return s.load(); });
      },
      10s);
  const auto recovery = FaultClock::now() - freed;
  phase = 2;
  EXPECT_TRUE(eventually([&] { return recovered.total() >= 300; }));
  threads.stop();

  EXPECT_EQ(
      scarce.count_except({Outcome::ok, Outcome::too_many_connections, Outcome::acquire_timeout}),
      0)
      << scarce.describe();
  EXPECT_LE(pool_backends_while_scarce, kFreedForTheLoad) << "the server held its limit";
  EXPECT_TRUE(all_served) << "some pool did not recover after the slots were freed";
  EXPECT_EQ(recovered.count_except({Outcome::ok}), 0) << recovered.describe();
  const auto stats = db.stats();
  EXPECT_GT(stats.users.connect_errors + stats.service.connect_errors, 0U);
  for (const auto& pool : db.manager().pool_stats()) EXPECT_LE(pool.total, kPoolSize) << pool.name;

  report("hog held " + std::to_string(hog_left + kFreedForTheLoad) +
         " slots; short of slots: " + scarce.describe() + "; all pools served again " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(recovery).count()) +
         " ms after the slots were freed; then: " + recovered.describe() +
         "; login attempts: " + std::to_string(setup.attempts->load()));
}

}  // namespace
}  // namespace pgobo::test
