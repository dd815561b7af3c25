#include "pgobo/connection_limit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {
namespace {

bool is_identifier(std::string_view part) noexcept {
  if (part.empty() || part.size() > 63) return false;
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  if (!letter(part.front())) return false;
  for (const char c : part) {
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace

bool ConnectionLimitOptions::is_table_name(std::string_view name) noexcept {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return is_identifier(name);
  return is_identifier(name.substr(0, dot)) && is_identifier(name.substr(dot + 1));
}

void ConnectionLimitOptions::validate() const {
  if (interval.count() <= 0) {
    throw ConfigError(
        "connection_limit: the heartbeat interval (PGOBO_CONNECTION_LIMIT_INTERVAL_MS) must be "
        "positive");
  }
  if (dead_replica_timeout < 3 * interval) {
    throw ConfigError(fmt::format(
        "connection_limit: dead_replica_timeout ({} ms, PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS) must "
        "be at least three heartbeat intervals ({} ms): a replica gives up its share once its "
        "last heartbeat began dead_replica_timeout - interval ago, and one late heartbeat must "
        "not do that",
        dead_replica_timeout.count(), 3 * interval.count()));
  }
  if (!is_table_name(table)) {
    const bool upper =
        std::any_of(table.begin(), table.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    throw ConfigError(std::string("connection_limit: the heartbeat table "
                                  "(PGOBO_CONNECTION_LIMIT_TABLE) must be 'name' or "
                                  "'schema.name', each part lower-case letters, digits and _ (not "
                                  "starting with a digit), "
                                  "at most 63 bytes") +
                      (upper ? "; upper case is refused: PostgreSQL folds an unquoted CREATE "
                               "TABLE Ops.Replicas to ops.replicas, so write it in lower case"
                             : ""));
  }
}

void to_json(nlohmann::json& out, const ConnectionLimitStats& s) {
  out = nlohmann::json{{"automatic", s.automatic},
                       {"share", s.share},
                       {"user_limit", s.user_limit},
                       {"replicas", s.replicas},
                       {"capacity", s.capacity},
                       {"heartbeats", s.heartbeats},
                       {"heartbeat_errors", s.heartbeat_errors},
                       {"changes", s.changes},
                       {"share_below_service_pool", s.share_below_service_pool},
                       {"fenced", s.fenced}};
}

ConnectionLimitCoordinator::ConnectionLimitCoordinator(
    ConnectionLimitOptions options, std::size_t service_pool_size, std::size_t cap,
    std::unique_ptr<ReplicaDirectory> directory, Target target,
    std::shared_ptr<PoolObserver> observer, std::function<SteadyClock::time_point()> clock)
    : options_(std::move(options)),
      service_pool_size_(service_pool_size),
      cap_(cap),
      directory_(std::move(directory)),
      target_(std::move(target)),
      observer_(std::move(observer)),
      clock_(clock ? std::move(clock) : [] { return SteadyClock::now(); }) {
  options_.validate();
  if (!directory_ || !target_.set_limit || !target_.in_use) {
    throw ConfigError(
        "ConnectionLimitCoordinator: a directory and both target functions are needed");
  }
  last_success_start_ = clock_();
  stats_.automatic = true;
  // Nothing for the user pools until the first heartbeat has shown what the
  // others hold: a replica joins conservatively.
  target_.set_limit(0);
}

void ConnectionLimitCoordinator::start() {
  thread_.emplace(
      options_.interval, [this] { heartbeat(); }, "connection limit: heartbeat",
      detail::PeriodicTask::FirstRun::at_once);
  // Its own thread: a heartbeat stuck in I/O must not keep the share.
  watchdog_.emplace(
      std::max(options_.interval / 2, std::chrono::milliseconds{1}),
      [this] { (void)fence_if_late(); }, "connection limit: watchdog");
}

void ConnectionLimitCoordinator::stop_heartbeats() noexcept {
  if (thread_) thread_->stop();
  if (watchdog_) watchdog_->stop();
  const std::lock_guard run(run_mutex_);
  stopped_ = true;
}

void ConnectionLimitCoordinator::leave() noexcept {
  stop_heartbeats();
  {
    const std::lock_guard run(run_mutex_);
    if (left_) return;
    left_ = true;
  }
  directory_->leave();
}

bool ConnectionLimitCoordinator::fence_due_locked(SteadyClock::time_point now) const noexcept {
  // The others forget this replica once its row is dead_replica_timeout
  // old; the row is at least as young as the heartbeat's start. One
  // interval of margin: the fence is checked about that often.
  return now - last_success_start_ >= options_.dead_replica_timeout - options_.interval;
}

ConnectionLimitCoordinator::Event ConnectionLimitCoordinator::fence_locked() noexcept {
  if (current_user_limit() == 0) return std::nullopt;
  {
    const std::lock_guard lock(mutex_);
    ++stats_.fenced;
  }
  const detail::Share none;
  return apply_locked(none, "heartbeats late");
}

bool ConnectionLimitCoordinator::fence_if_late() noexcept {
  Event event;
  {
    const std::lock_guard limit(limit_mutex_);
    if (!fence_due_locked(clock_())) return false;
    event = fence_locked();
  }
  notify(event);
  return true;
}

void ConnectionLimitCoordinator::heartbeat() noexcept {
  const std::lock_guard run(run_mutex_);
  if (stopped_) return;
  (void)fence_if_late();
  const SteadyClock::time_point started = clock_();
  std::optional<detail::Share> decided;
  Event lowered;
  bool was_lowered = false;
  try {
    directory_->heartbeat([&](const ReplicaDirectory::View& view) {
      detail::ShareInputs in;
      in.server = view.server;
      in.reserve = options_.reserve;
      in.service_pool_size = service_pool_size_;
      in.others = view.others;
      in.others_claimed = view.others_claimed;
      in.cap = cap_;
      const detail::Share share = detail::compute_share(in);
      // Lower before publishing: the claim must cover all this replica may
      // still open, and a lowered limit grants nothing more from now on.
      // Only that runs here (the table is locked against every other
      // replica); the observers hear of it after the heartbeat.
      {
        const std::lock_guard limit(limit_mutex_);
        if (share.user_limit < current_user_limit()) {
          lowered = apply_locked(share, "heartbeat");
          was_lowered = true;
        }
      }
      decided = share;
      return detail::claim_of(service_pool_size_, share.user_limit, target_.in_use());
    });
  } catch (const std::exception& e) {
    notify(lowered);
    failed(e.what());
    return;
  } catch (...) {
    notify(lowered);
    failed("a non-standard exception");
    return;
  }
  notify(lowered);
  Event raised;
  {
    const std::lock_guard limit(limit_mutex_);
    // The row's age counts from no earlier than this heartbeat's start.
    last_success_start_ = std::max(last_success_start_, started);
    {
      const std::lock_guard lock(mutex_);
      ++stats_.heartbeats;
      if (decided && decided->fair < service_pool_size_) ++stats_.share_below_service_pool;
    }
    // Raised only now that the claim is committed: the others see it before
    // this replica opens anything under it. Not if this heartbeat took so
    // long that the fence is due: fenced, and the next one, started afresh,
    // raises.
    if (fence_due_locked(clock_())) {
      raised = fence_locked();
    } else if (decided && !was_lowered) {
      raised = apply_locked(*decided, "heartbeat");
    }
  }
  notify(raised);
  if (decided) warn_if_short(*decided);
}

void ConnectionLimitCoordinator::warn_if_short(const detail::Share& share) noexcept {
  // The fair share, not what the others leave now: a newcomer's share is 0
  // for a heartbeat or two, which is how it joins, not a misconfiguration.
  const bool is_short = share.fair < service_pool_size_;
  if (is_short == short_share_warned_) return;
  short_share_warned_ = is_short;
  try {
    if (is_short) {
      logger()->warn(
          "connection limit: this replica's fair share ({} of {} for {} replicas) is below its "
          "service "
          "pool's size ({}): the user pools get 0 and the service pool may hold more than the "
          "share (the reserve absorbs it). Lower PGOBO_MAX_SIZE, run fewer replicas or raise "
          "max_connections",
          share.fair, share.capacity, share.replicas, service_pool_size_);
    } else {
      logger()->info("connection limit: the fair share ({}) covers the service pool ({}) again",
                     share.fair, service_pool_size_);
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is not worth the heartbeat
  }
}

void ConnectionLimitCoordinator::failed(const char* what) noexcept {
  {
    const std::lock_guard lock(mutex_);
    ++stats_.heartbeat_errors;
  }
  try {
    logger()->warn("connection limit: heartbeat into {} failed: {}", options_.table, what);
  } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is not worth the heartbeat
  }
  (void)fence_if_late();
}

std::size_t ConnectionLimitCoordinator::current_user_limit() const {
  const std::lock_guard lock(mutex_);
  return stats_.user_limit;
}

ConnectionLimitCoordinator::Event ConnectionLimitCoordinator::apply_locked(
    const detail::Share& share, const char* why) noexcept {
  std::size_t previous = 0;
  {
    const std::lock_guard lock(mutex_);
    previous = stats_.user_limit;
    const bool moved = previous != share.user_limit;
    stats_.share = share.share;
    stats_.user_limit = share.user_limit;
    stats_.replicas = share.replicas;
    stats_.capacity = share.capacity;
    if (!moved) return std::nullopt;
    ++stats_.changes;
  }
  try {
    target_.set_limit(share.user_limit);
  } catch (const std::exception& e) {
    try {
      logger()->warn("connection limit: applying a limit of {} failed: {}", share.user_limit,
                     e.what());
    } catch (...) {  // NOLINT(bugprone-empty-catch)
    }
  }
  return ConnectionLimitChanged{share.share,    share.user_limit, previous,
                                share.replicas, share.capacity,   why};
}

void ConnectionLimitCoordinator::notify(const Event& event) noexcept {
  if (!event) return;
  log_observer().on_connection_limit_changed(*event);
  if (observer_) observer_->on_connection_limit_changed(*event);
}

ConnectionLimitStats ConnectionLimitCoordinator::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace pgobo
