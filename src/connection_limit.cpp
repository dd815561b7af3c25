#include "pgobo/connection_limit.hpp"

#include <fmt/format.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {
namespace {

bool is_identifier(std::string_view part) noexcept {
  if (part.empty() || part.size() > 63) return false;
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
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
  if (dead_replica_timeout < 2 * interval) {
    throw ConfigError(fmt::format(
        "connection_limit: dead_replica_timeout ({} ms, PGOBO_CONNECTION_LIMIT_DEAD_AFTER_MS) must "
        "be at least two heartbeat intervals ({} ms), or a live replica whose heartbeat is late "
        "would stop counting and the others would take its share",
        dead_replica_timeout.count(), 2 * interval.count()));
  }
  if (!is_table_name(table)) {
    throw ConfigError(
        "connection_limit: the heartbeat table (PGOBO_CONNECTION_LIMIT_TABLE) must be 'name' or "
        "'schema.name', each part letters, digits and _ (not starting with a digit), at most 63 "
        "bytes");
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
                       {"changes", s.changes}};
}

ConnectionLimitCoordinator::ConnectionLimitCoordinator(ConnectionLimitOptions options,
                                                       std::size_t service_pool_size,
                                                       std::size_t cap,
                                                       std::unique_ptr<ReplicaDirectory> directory,
                                                       Target target,
                                                       std::shared_ptr<PoolObserver> observer)
    : options_(std::move(options)),
      service_pool_size_(service_pool_size),
      cap_(cap),
      directory_(std::move(directory)),
      target_(std::move(target)),
      observer_(std::move(observer)),
      last_success_(SteadyClock::now()) {
  options_.validate();
  if (!directory_ || !target_.set_limit || !target_.in_use) {
    throw ConfigError(
        "ConnectionLimitCoordinator: a directory and both target functions are needed");
  }
  stats_.automatic = true;
  // Nothing for the user pools until the first heartbeat has shown what the
  // others hold: a replica joins conservatively.
  target_.set_limit(0);
}

void ConnectionLimitCoordinator::start() {
  thread_.emplace(
      options_.interval, [this] { heartbeat(); }, "connection limit: heartbeat",
      detail::PeriodicTask::FirstRun::at_once);
}

void ConnectionLimitCoordinator::stop() noexcept {
  if (thread_) thread_->stop();
  {
    const std::lock_guard run(run_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  directory_->leave();
}

void ConnectionLimitCoordinator::heartbeat() noexcept {
  const std::lock_guard run(run_mutex_);
  if (stopped_) return;
  std::optional<detail::Share> decided;
  bool lowered = false;
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
      if (share.user_limit < current_user_limit()) {
        apply(share, "heartbeat");
        lowered = true;
      }
      decided = share;
      return detail::claim_of(service_pool_size_, share.user_limit, target_.in_use());
    });
  } catch (const std::exception& e) {
    failed(e.what());
    return;
  } catch (...) {
    failed("a non-standard exception");
    return;
  }
  last_success_ = SteadyClock::now();
  {
    const std::lock_guard lock(mutex_);
    ++stats_.heartbeats;
  }
  // Raised only now that the claim is committed: the others see it before
  // this replica opens anything under it.
  if (decided && !lowered) apply(*decided, "heartbeat");
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
  // The others stop counting this replica after dead_replica_timeout and
  // may take its share: hold nothing more than leases already out.
  if (SteadyClock::now() - last_success_ >= options_.dead_replica_timeout &&
      current_user_limit() > 0) {
    detail::Share none;
    apply(none, "heartbeats failing");
  }
}

std::size_t ConnectionLimitCoordinator::current_user_limit() const {
  const std::lock_guard lock(mutex_);
  return stats_.user_limit;
}

void ConnectionLimitCoordinator::apply(const detail::Share& share, const char* why) noexcept {
  std::size_t previous = 0;
  {
    const std::lock_guard lock(mutex_);
    previous = stats_.user_limit;
    const bool moved = previous != share.user_limit;
    stats_.share = share.share;
    stats_.user_limit = share.user_limit;
    stats_.replicas = share.replicas;
    stats_.capacity = share.capacity;
    if (!moved) return;
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
  const ConnectionLimitChanged event{share.share,    share.user_limit, previous,
                                     share.replicas, share.capacity,   why};
  log_observer().on_connection_limit_changed(event);
  if (observer_) observer_->on_connection_limit_changed(event);
}

ConnectionLimitStats ConnectionLimitCoordinator::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace pgobo
