// The automatic connection limit without a server: the share arithmetic
// (detail/connection_share.hpp), the coordinator over a fake directory that
// plays the other replicas, and its settings.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pgobo/connection_limit.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/routing_pool.hpp"
#include "wait.hpp"

namespace pgobo {
namespace {

using namespace std::chrono_literals;
using detail::claim_of;
using detail::compute_share;
using detail::ShareInputs;

ShareInputs inputs(std::size_t others, std::size_t others_claimed) {
  ShareInputs in;
  in.server = {/*max_connections=*/30, /*superuser_reserved=*/3, /*reserved=*/0};
  in.reserve = 3;  // capacity 24
  in.service_pool_size = 2;
  in.others = others;
  in.others_claimed = others_claimed;
  return in;
}

TEST(ConnectionShare, AloneAReplicaHasTheWholeCapacityLessItsServicePool) {
  const auto s = compute_share(inputs(0, 0));
  EXPECT_EQ(s.capacity, 24U);
  EXPECT_EQ(s.replicas, 1U);
  EXPECT_EQ(s.share, 24U);
  EXPECT_EQ(s.user_limit, 22U);
}

TEST(ConnectionShare, ANewcomerGetsOnlyWhatTheOthersClaimsLeave) {
  // One replica alone claimed everything: the newcomer gets nothing yet,
  // not its fair 12.
  const auto s = compute_share(inputs(1, 24));
  EXPECT_EQ(s.fair, 12U);
  EXPECT_EQ(s.share, 0U);
  EXPECT_EQ(s.user_limit, 0U);
  // Once the other has shrunk to 2 + 10 it grows to its fair share.
  EXPECT_EQ(compute_share(inputs(1, 12)).share, 12U);
  // Partly shrunk (leases still out): what is left.
  EXPECT_EQ(compute_share(inputs(1, 16)).share, 8U);
}

TEST(ConnectionShare, LiveReplicasDivideTheCapacityAndTheRemainderIsLeft) {
  const auto s = compute_share(inputs(2, 16));
  EXPECT_EQ(s.fair, 8U);
  EXPECT_EQ(s.share, 8U);
  EXPECT_EQ(s.user_limit, 6U);
  ShareInputs odd = inputs(3, 0);  // 24 / 4
  odd.reserve = 4;                 // 23 / 4 = 5, 3 left over
  EXPECT_EQ(compute_share(odd).share, 5U);
}

TEST(ConnectionShare, ReservedSlotsAndReserveAreSubtractedAndNothingUnderflows) {
  ShareInputs in = inputs(0, 0);
  in.server = {100, 3, 2};
  in.reserve = 10;
  EXPECT_EQ(compute_share(in).capacity, 85U);
  in.reserve = 1000;
  EXPECT_EQ(compute_share(in).capacity, 0U);
  EXPECT_EQ(compute_share(in).user_limit, 0U);
  // A service pool larger than the share leaves the user pools nothing.
  ShareInputs big = inputs(2, 16);
  big.service_pool_size = 10;
  EXPECT_EQ(compute_share(big).user_limit, 0U);
  // Others claiming more than the capacity (the server's limit was lowered).
  EXPECT_EQ(compute_share(inputs(1, 1000)).share, 0U);
}

TEST(ConnectionShare, MaxTotalConnectionsCapsTheUserLimit) {
  ShareInputs in = inputs(0, 0);
  in.cap = 5;
  EXPECT_EQ(compute_share(in).user_limit, 5U);
  EXPECT_EQ(compute_share(in).share, 24U);
}

TEST(ConnectionShare, AClaimCoversLeasesStillOutOverALoweredLimit) {
  EXPECT_EQ(claim_of(2, 6, 0), 8U);
  EXPECT_EQ(claim_of(2, 6, 9), 11U);
}

// Records the share changes it is told of.
class LimitObserver final : public PoolObserver {
 public:
  struct Change {
    std::size_t user_limit, previous_user_limit, replicas;
    std::string reason;
  };
  void on_connection_limit_changed(const ConnectionLimitChanged& e) noexcept override {
    changes.push_back({e.user_limit, e.previous_user_limit, e.replicas, std::string(e.reason)});
  }
  std::vector<Change> changes;  // written by the heartbeat's thread; read after it
};

// The others, as the server's table would show them; records the claims.
class FakeDirectory final : public ReplicaDirectory {
 public:
  struct State {
    View view;
    bool fail = false;
    std::vector<std::size_t> claims;
    // When decide has returned and the claim is about to be published (the
    // table still locked): the target's user limit, and how many changes
    // the observer had been told of.
    std::vector<std::size_t> limit_during_decide;
    std::vector<std::size_t> told_during_decide;
    std::function<std::size_t()> current_limit;
    std::function<std::size_t()> changes_told;
    // Runs inside the heartbeat before anything else: a gate, a clock step.
    std::function<void()> during;
    int leaves = 0;
  };
  explicit FakeDirectory(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void heartbeat(const Decide& decide) override {
    if (state_->during) state_->during();
    if (state_->fail) throw std::runtime_error("server unreachable");
    const std::size_t claim = decide(state_->view);
    if (state_->current_limit) state_->limit_during_decide.push_back(state_->current_limit());
    if (state_->changes_told) state_->told_during_decide.push_back(state_->changes_told());
    state_->claims.push_back(claim);
  }
  void leave() noexcept override { ++state_->leaves; }

 private:
  std::shared_ptr<State> state_;
};

class Coordinator : public ::testing::Test {
 protected:
  Coordinator() {
    directory->view.server = {30, 3, 0};
    directory->current_limit = [this] { return limits.back(); };
    directory->changes_told = [this] { return observer->changes.size(); };
    options.automatic = true;
    options.reserve = 3;
    options.interval = 100ms;
    options.dead_replica_timeout = 300ms;  // fenced 200 ms after a heartbeat began
  }

  std::unique_ptr<ConnectionLimitCoordinator> make(std::size_t cap = 0) {
    ConnectionLimitCoordinator::Target target{[this](std::size_t n) { limits.push_back(n); },
                                              [this] { return in_use; }};
    return std::make_unique<ConnectionLimitCoordinator>(
        options, /*service_pool_size=*/2, cap, std::make_unique<FakeDirectory>(directory),
        std::move(target), observer,
        [this] { return base + std::chrono::milliseconds(now_ms.load()); });
  }

  std::shared_ptr<FakeDirectory::State> directory = std::make_shared<FakeDirectory::State>();
  ConnectionLimitOptions options;
  std::vector<std::size_t> limits;  // every limit applied, in order
  std::size_t in_use = 0;
  std::shared_ptr<LimitObserver> observer = std::make_shared<LimitObserver>();
  // The coordinator's clock: base + now_ms.
  const std::chrono::steady_clock::time_point base = std::chrono::steady_clock::now();
  std::atomic<long long> now_ms{0};
};

TEST_F(Coordinator, StartsWithNothingAndJoinsWithWhatTheOthersLeave) {
  directory->view.others = 1;
  directory->view.others_claimed = 24;  // the first replica holds everything
  auto c = make();
  EXPECT_EQ(limits, (std::vector<std::size_t>{0}));  // before any heartbeat

  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(directory->claims.back(), 2U);  // only its service pool

  directory->view.others_claimed = 12;  // the other has shrunk to its fair 12
  c->heartbeat();

  EXPECT_EQ(c->stats().user_limit, 10U);
  EXPECT_EQ(c->stats().share, 12U);
  EXPECT_EQ(c->stats().replicas, 2U);
  EXPECT_EQ(c->stats().capacity, 24U);
  EXPECT_EQ(c->stats().heartbeats, 2U);
  EXPECT_EQ(c->stats().changes, 1U);
  EXPECT_EQ(c->stats().share_below_service_pool, 0U);  // its first 0 was joining, fair 12
  EXPECT_EQ(limits, (std::vector<std::size_t>{0, 10}));
  EXPECT_EQ(directory->claims.back(), 12U);
}

TEST_F(Coordinator, ShrinksWhenAReplicaJoinsAndClaimsWhatLeasesStillHold) {
  auto c = make();
  c->heartbeat();
  ASSERT_EQ(c->stats().user_limit, 22U);
  in_use = 15;  // leases out

  directory->view.others = 2;
  directory->view.others_claimed = 4;  // two newcomers, service pools only
  c->heartbeat();

  EXPECT_EQ(c->stats().user_limit, 6U);
  EXPECT_EQ(limits.back(), 6U);
  // The claim published covers the 15 still out, not just the new limit.
  EXPECT_EQ(directory->claims.back(), 2U + 15U);
  // The lowered limit was in force before the claim was published, and the
  // observers heard of it only after the heartbeat (the table's lock held
  // no longer than needed).
  EXPECT_EQ(directory->limit_during_decide.back(), 6U);
  EXPECT_EQ(directory->told_during_decide.back(), 1U);  // only the first change, to 22
  ASSERT_EQ(observer->changes.size(), 2U);
  EXPECT_EQ(observer->changes.back().user_limit, 6U);
}

TEST_F(Coordinator, ARaisedLimitComesOnlyAfterTheClaimIsPublished) {
  directory->view.others = 1;
  directory->view.others_claimed = 24;
  auto c = make();
  c->heartbeat();
  directory->view.others_claimed = 12;
  c->heartbeat();
  EXPECT_EQ(directory->limit_during_decide.back(), 0U);  // still 0 while the claim of 12 is written
  EXPECT_EQ(directory->claims.back(), 12U);
  EXPECT_EQ(limits.back(), 10U);
}

TEST_F(Coordinator, GrowsIntoADeadReplicasShare) {
  directory->view.others = 2;
  directory->view.others_claimed = 16;
  auto c = make();
  c->heartbeat();
  ASSERT_EQ(c->stats().user_limit, 6U);

  directory->view.others = 1;  // one stopped heartbeating: the table forgot it
  directory->view.others_claimed = 8;
  c->heartbeat();

  EXPECT_EQ(c->stats().share, 12U);
  EXPECT_EQ(c->stats().user_limit, 10U);
  ASSERT_EQ(observer->changes.size(), 2U);
  EXPECT_EQ(observer->changes.back().previous_user_limit, 6U);
  EXPECT_EQ(observer->changes.back().user_limit, 10U);
  EXPECT_EQ(observer->changes.back().replicas, 2U);
}

TEST_F(Coordinator, MaxTotalConnectionsCapsTheShare) {
  auto c = make(/*cap=*/4);
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 4U);
  EXPECT_EQ(directory->claims.back(), 6U);
}

TEST_F(Coordinator, AFailedHeartbeatKeepsTheShareUntilTheFenceThenDropsToNothing) {
  auto c = make();
  c->heartbeat();  // began at 0
  ASSERT_EQ(c->stats().user_limit, 22U);
  directory->fail = true;

  now_ms = 100;
  c->heartbeat();
  EXPECT_EQ(c->stats().heartbeat_errors, 1U);
  EXPECT_EQ(c->stats().user_limit, 22U);  // within the margin: kept
  now_ms = 199;
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 22U);

  // dead_replica_timeout - interval after the last successful heartbeat
  // began: the others may stop counting this replica before its next tick.
  now_ms = 200;
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(c->stats().fenced, 1U);
  EXPECT_EQ(limits.back(), 0U);
  EXPECT_EQ(observer->changes.back().reason, "heartbeats late");

  directory->fail = false;
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 22U);
}

TEST_F(Coordinator, ATickPastTheMarginFencesBeforeItsAttemptNotOnlyAfterAFailure) {
  auto c = make();
  c->heartbeat();  // began at 0
  ASSERT_EQ(c->stats().user_limit, 22U);
  std::vector<std::size_t> at_attempt;
  directory->during = [&] { at_attempt.push_back(limits.back()); };
  now_ms = 200;  // the thread was late (a slow earlier attempt)
  c->heartbeat();
  ASSERT_EQ(at_attempt.size(), 1U);
  EXPECT_EQ(at_attempt.front(), 0U);      // fenced while the attempt ran
  EXPECT_EQ(c->stats().user_limit, 22U);  // it succeeded, begun now: raised again
  EXPECT_EQ(c->stats().fenced, 1U);
  EXPECT_EQ(limits, (std::vector<std::size_t>{0, 22, 0, 22}));
}

TEST_F(Coordinator, AHeartbeatStuckInIoDoesNotKeepTheShare) {
  auto c = make();
  c->heartbeat();  // began at 0
  ASSERT_EQ(c->stats().user_limit, 22U);
  std::latch entered(1);
  std::latch release(1);
  directory->during = [&] {
    entered.count_down();
    release.wait();  // a blackholed socket, an acquire timeout
  };
  now_ms = 50;
  std::thread stuck([&] { c->heartbeat(); });  // begins at 50 and hangs
  entered.wait();

  now_ms = 199;
  EXPECT_FALSE(c->fence_if_late());
  EXPECT_EQ(c->stats().user_limit, 22U);
  now_ms = 200;  // what the watchdog does, while the heartbeat still hangs
  EXPECT_TRUE(c->fence_if_late());
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(c->stats().fenced, 1U);

  // It comes back 250 ms after it began: its claim went in, but the others
  // may have dropped this replica meanwhile; no raise on it.
  now_ms = 300;
  release.count_down();
  stuck.join();
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(c->stats().heartbeats, 2U);

  directory->during = nullptr;
  c->heartbeat();  // begins at 300, in time
  EXPECT_EQ(c->stats().user_limit, 22U);
  EXPECT_EQ(limits, (std::vector<std::size_t>{0, 22, 0, 22}));
  EXPECT_EQ(observer->changes[1].reason, "heartbeats late");
}

TEST_F(Coordinator, ASuccessfulButSlowHeartbeatFencesInsteadOfRaising) {
  directory->view.others = 1;
  directory->view.others_claimed = 24;
  auto c = make();
  c->heartbeat();
  directory->view.others_claimed = 12;
  directory->during = [&] { now_ms += 200; };  // began at 0, committed at 200
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(limits, (std::vector<std::size_t>{0}));
  directory->during = nullptr;
  c->heartbeat();
  EXPECT_EQ(c->stats().user_limit, 10U);
}

TEST_F(Coordinator, AShareBelowTheServicePoolIsCounted) {
  directory->view.others = 15;  // 24 / 16 = 1 < a service pool of 2
  directory->view.others_claimed = 15;
  auto c = make();
  c->heartbeat();
  EXPECT_EQ(c->stats().share, 1U);
  EXPECT_EQ(c->stats().user_limit, 0U);
  EXPECT_EQ(c->stats().share_below_service_pool, 1U);
  EXPECT_EQ(directory->claims.back(), 2U);  // the service pool, over the share of 1
  directory->view.others = 1;
  directory->view.others_claimed = 12;
  c->heartbeat();
  EXPECT_EQ(c->stats().share_below_service_pool, 1U);
  EXPECT_EQ(c->stats().user_limit, 10U);
  EXPECT_EQ(nlohmann::json(c->stats()).at("share_below_service_pool"), 1);
}

TEST_F(Coordinator, StoppingHeartbeatsKeepsTheClaimUntilLeave) {
  auto c = make();
  c->start();
  ASSERT_TRUE(test::eventually([&] { return c->stats().heartbeats >= 1U; }));
  c->stop_heartbeats();
  const auto beats = c->stats().heartbeats;
  c->heartbeat();  // after stop: nothing
  EXPECT_EQ(c->stats().heartbeats, beats);
  EXPECT_EQ(directory->leaves, 0);  // the user pools may still hold connections
  c->leave();
  c->leave();
  c->stop();
  EXPECT_EQ(directory->leaves, 1);
}

TEST_F(Coordinator, StopLeavesTheDirectoryOnceAndEndsHeartbeats) {
  auto c = make();
  c->start();
  ASSERT_TRUE(test::eventually([&] { return c->stats().heartbeats >= 1U; }));
  c->stop();
  c->stop();
  const auto beats = c->stats().heartbeats;
  c->heartbeat();  // after stop: nothing
  EXPECT_EQ(c->stats().heartbeats, beats);
  EXPECT_EQ(directory->leaves, 1);
}

TEST(ConnectionLimitOptions, BadSettingsGiveAConfigErrorNamingThem) {
  ConnectionLimitOptions o;
  o.automatic = true;
  EXPECT_NO_THROW(o.validate());
  o.interval = 0ms;
  EXPECT_THROW(o.validate(), ConfigError);
  o.interval = 1000ms;
  o.dead_replica_timeout = 2999ms;
  try {
    o.validate();
    FAIL() << "a timeout under three intervals was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS"),
              std::string::npos);
  }
  o.dead_replica_timeout = 3000ms;
  for (const char* bad : {"", "a b", "1table", "x.y.z", "t;DROP", "\"t\"", "a."}) {
    o.table = bad;
    EXPECT_THROW(o.validate(), ConfigError) << bad;
  }
  for (const char* good : {"pgobo_replicas", "ops.pgobo_replicas", "_t1"}) {
    o.table = good;
    EXPECT_NO_THROW(o.validate()) << good;
  }
  // Upper case: the server folds an unquoted CREATE TABLE Ops.Replicas to
  // ops.replicas, while the replicas quote the name (case kept): refused,
  // saying so, rather than a table that is never found.
  for (const char* upper : {"Ops.Replicas", "ops.Replicas", "_T1"}) {
    o.table = upper;
    try {
      o.validate();
      ADD_FAILURE() << upper << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("lower case"), std::string::npos) << e.what();
    }
  }
}

TEST(ConnectionLimitConfig, ReadFromTheEnvironmentAndJson) {
  const auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "PGHOST") return "db.example.com";
    if (name == "PGDATABASE") return "app";
    if (name == "PGUSER") return "svc";
    if (name == "PGOBO_CONNECTION_LIMIT") return "AUTO";
    if (name == "PGOBO_CONNECTION_LIMIT_RESERVE") return "7";
    if (name == "PGOBO_CONNECTION_LIMIT_INTERVAL_MS") return "250";
    if (name == "PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS") return "1000";
    if (name == "PGOBO_CONNECTION_LIMIT_TABLE") return "ops.replicas";
    return std::nullopt;
  };
  const RoutingConfig c = RoutingConfig::from_env(env);
  EXPECT_TRUE(c.connection_limit.automatic);
  EXPECT_EQ(c.connection_limit.reserve, 7U);
  EXPECT_EQ(c.connection_limit.interval, 250ms);
  EXPECT_EQ(c.connection_limit.dead_replica_timeout, 1000ms);
  EXPECT_EQ(c.connection_limit.table, "ops.replicas");

  EXPECT_FALSE(RoutingConfig::from_env([](std::string_view name) -> std::optional<std::string> {
                 if (name == "PGHOST") return "db.example.com";
                 if (name == "PGDATABASE") return "app";
                 if (name == "PGUSER") return "svc";
                 return std::nullopt;
               }).connection_limit.automatic);
  const RoutingConfig j = RoutingConfig::from_json(nlohmann::json{{"host", "db.example.com"},
                                                                  {"database", "app"},
                                                                  {"user", "svc"},
                                                                  {"connection_limit", "auto"},
                                                                  {"connection_limit_reserve", 2}});
  EXPECT_TRUE(j.connection_limit.automatic);
  EXPECT_EQ(j.connection_limit.reserve, 2U);
  EXPECT_FALSE(RoutingConfig::from_json(nlohmann::json{{"host", "db.example.com"},
                                                       {"database", "app"},
                                                       {"user", "svc"},
                                                       {"connection_limit", "off"}})
                   .connection_limit.automatic);
}

TEST(ConnectionLimitConfig, ANumberPointsToMaxTotalConnections) {
  for (const nlohmann::json& value : {nlohmann::json(40), nlohmann::json("40")}) {
    try {
      (void)RoutingConfig::from_json(nlohmann::json{{"host", "db.example.com"},
                                                    {"database", "app"},
                                                    {"user", "svc"},
                                                    {"connection_limit", value}});
      FAIL() << "a number was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("connection_limit"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("max_total_connections"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW((void)RoutingConfig::from_json(nlohmann::json{{"host", "db.example.com"},
                                                             {"database", "app"},
                                                             {"user", "svc"},
                                                             {"connection_limit", "maybe"}}),
               ConfigError);
  const auto short_dead = [](std::string_view name) -> std::optional<std::string> {
    if (name == "PGHOST") return "db.example.com";
    if (name == "PGDATABASE") return "app";
    if (name == "PGUSER") return "svc";
    if (name == "PGOBO_CONNECTION_LIMIT_INTERVAL_MS") return "10001";  // > 20000 / 3
    return std::nullopt;
  };
  EXPECT_THROW((void)RoutingConfig::from_env(short_dead), ConfigError);
}

}  // namespace
}  // namespace pgobo
