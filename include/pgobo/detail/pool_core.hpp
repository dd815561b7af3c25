// pgobo/detail/pool_core.hpp — the state of one pool: its connections,
// waiters, backoff and counters, under one mutex.
//
// Include pgobo/pool.hpp, not this header. BasicPool is the public face of a
// PoolCore; every Lease shares ownership of it, so a lease that outlives its
// pool gives its connection back into live memory.
//
// Longer than pgobo's other headers on purpose: PoolCore is one state
// machine (open, draining, closed) whose every transition holds the same
// mutex and keeps the same counts (idle, leased, opening, closing) in step;
// cut into several classes, each would need the others' private state. What
// does not need that state lives beside it: the lease (pool_lease.hpp), the
// connect backoff (connect_backoff.hpp), the counters and close reasons
// (pool_counters.hpp), the intrusive lists (pool_list.hpp) and the wait
// histogram (pool_wait_histogram.hpp). What it does is told to observers
// (observer.hpp): pgobo's log lines are one of them (log_observer()), the
// user's PoolOptions::observer the other, always outside the lock.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "pgobo/source_location.hpp"

#include "pgobo/detail/budget.hpp"
#include "pgobo/detail/caller_deadline.hpp"
#include "pgobo/detail/connect_backoff.hpp"
#include "pgobo/detail/pool_counters.hpp"
#include "pgobo/detail/pool_errors.hpp"
#include "pgobo/detail/pool_lease.hpp"
#include "pgobo/detail/pool_list.hpp"
#include "pgobo/driver.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pool_options.hpp"
#include "pgobo/stats.hpp"

namespace pgobo::detail {

// Everything a pool is: its connections, waiters, counters and driver.
// BasicPool owns it through a shared_ptr, and so does every Lease, so a
// lease that outlives its BasicPool (or the RoutingPool around it) still
// gives its connection back into live memory: that connection then closes
// (the pool has ended), and the core goes with the last lease.
template <PoolDriver Driver, class Clock>
class PoolCore {
 public:
  using Connection = typename Driver::Connection;
  using time_point = typename Clock::time_point;
  using Lease = PoolLease<PoolCore>;
  // The driver can tell, locally, that the server closed an idle connection.
  static constexpr bool kSeesClosed = DriverSeesClosedConnections<Driver>;

  // Throws ConfigError if options.validate() does. `budget`: a limit shared
  // with other pools (PoolManager's max_total_connections), or null.
  PoolCore(PoolOptions options, Driver driver, std::shared_ptr<Budget> budget)
      : options_(std::move(options)),
        driver_(std::move(driver)),
        budget_(std::move(budget)),
        observer_(options_.observer),
        watches_leases_(options_.leak_detection_threshold.count() > 0),
        last_used_(Clock::now()),
        backoff_(options_.connect_backoff_max) {
    options_.validate();
  }
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  // Only once no lease, opening or closing connection is left (each holds
  // or waits for the core): closes what is still idle.
  ~PoolCore() {
    std::vector<PooledConnection*> to_close;
    {
      std::lock_guard lock(mutex_);
      state_ = State::closed;
      take_idle_locked(to_close, CloseReason::pool_ended);
    }
    for (PooledConnection* pooled : to_close) close_pooled(pooled, CloseReason::pool_ended);
  }

  // The public operations are BasicPool's, documented there. `self` is this
  // core's owner, for the lease to keep; `exposed`: the caller gets the
  // connection itself, so its session is reset on return; `where`: the
  // caller's call, for leak reports (line 0: not watched).
  [[nodiscard]] Lease connect(std::shared_ptr<PoolCore> self,
                              std::optional<std::chrono::steady_clock::time_point> deadline,
                              bool exposed, const SourceLocation& where) {
    // Without an observer, one branch: the observed path is apart.
    if (observer_ != nullptr) [[unlikely]] {
      return connect_observed(std::move(self), deadline, exposed, where);
    }
    Lease lease = acquire(std::move(self), deadline);
    lent(*lease.pooled_, exposed);
    if (watches_leases_ && where.line() != 0) watch(*lease.pooled_, where);
    return lease;
  }

  template <class... Params>
  auto query(std::shared_ptr<PoolCore> self, std::string_view sql, const Params&... params) {
    // Not watched for leaks (an unknown location): the lease ends with the
    // statement, and a statement past the threshold is a slow query, for
    // statement_timeout, not a leak to point at pgobo's own line.
    Lease lease = connect(std::move(self), std::nullopt, /*exposed=*/false, SourceLocation{});
    return driver_.query(*lease, sql, params...);
  }

  void close() {
    std::vector<PooledConnection*> to_close;
    std::unique_lock lock(mutex_);
    state_ = State::closed;
    while (Waiter* waiter = waiters_.pop_front()) {
      waiter->outcome = Waiter::Outcome::closed;
      waiter->wake.notify_one();
    }
    take_idle_locked(to_close, CloseReason::pool_ended);
    lock.unlock();
    close_each(to_close, CloseReason::pool_ended);
    lock.lock();
    const auto deadline = std::chrono::steady_clock::now() + options_.close_timeout;
    if (!quiescent_.wait_until(lock, deadline, [this] { return quiescent_locked(); })) {
      const std::size_t still_out = leased_ + opening_ + closing_;
      lock.unlock();
      emit(&PoolObserver::on_close_gave_up,
           CloseGaveUp{options_.name, options_.close_timeout, still_out});
    }
  }

  void begin_drain() {
    std::vector<PooledConnection*> to_close;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::open) return;
      state_ = State::draining;
      take_idle_locked(to_close, CloseReason::pool_ended);
    }
    close_each(to_close, CloseReason::pool_ended);
  }

  [[nodiscard]] bool is_drained() const {
    std::lock_guard lock(mutex_);
    return state_ != State::open && total_locked() == 0 && closing_ == 0 && waiters_.empty();
  }

  std::size_t reap() {
    std::vector<PooledConnection*> expired_idle;
    std::vector<PooledConnection*> expired_life;
    std::vector<LeakSeen> leaks;
    {
      std::lock_guard lock(mutex_);
      const time_point now = Clock::now();
      if (watches_leases_) find_leaks_locked(now, leaks);
      std::size_t keep = idle_.size();
      // Least recently returned first, so those kept for min_idle are the
      // freshest.
      idle_.for_each_from_back([&](PooledConnection& pooled) {
        const auto reason = expiry_of(pooled, now, keep);
        if (!reason) return;
        idle_.erase(pooled);
        --keep;
        start_close_locked(*reason);
        (*reason == CloseReason::idle_timeout ? expired_idle : expired_life).push_back(&pooled);
      });
      serve_waiters_locked(now);
    }
    for (const LeakSeen& leak : leaks) report_leak(leak, /*still_out=*/true);
    close_each(expired_idle, CloseReason::idle_timeout);
    close_each(expired_life, CloseReason::max_lifetime);
    fill_min_idle();
    return expired_idle.size() + expired_life.size();
  }

  std::size_t close_idle_connections() {
    std::vector<PooledConnection*> to_close;
    {
      std::lock_guard lock(mutex_);
      take_idle_locked(to_close, CloseReason::evicted);
    }
    close_each(to_close, CloseReason::evicted);
    return to_close.size();
  }

  bool close_one_idle() {
    PooledConnection* pooled = nullptr;
    {
      std::lock_guard lock(mutex_);
      pooled = idle_.pop_back();
      if (pooled == nullptr) return false;
      start_close_locked(CloseReason::evicted);
    }
    close_pooled(pooled, CloseReason::evicted);
    return true;
  }

  [[nodiscard]] time_point last_used() const {
    std::lock_guard lock(mutex_);
    return last_used_;
  }

  [[nodiscard]] bool login_failing() const {
    std::lock_guard lock(mutex_);
    return backoff_.login_failing();
  }

  [[nodiscard]] bool is_idle_and_empty() const {
    std::lock_guard lock(mutex_);
    return total_locked() == 0 && closing_ == 0 && waiters_.empty();
  }

  [[nodiscard]] std::size_t total_count() const {
    std::lock_guard lock(mutex_);
    return total_locked();
  }
  [[nodiscard]] std::size_t idle_count() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
  }
  [[nodiscard]] std::size_t waiting_count() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
  }

  [[nodiscard]] PoolStats stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s;
    s.name = options_.name;
    s.max_size = options_.max_size;
    s.min_idle = options_.min_idle;
    s.total = total_locked();
    s.idle = idle_.size();
    s.leased = leased_;
    s.opening = opening_;
    s.waiting = waiters_.size();
    counters_.fill(s);
    return s;
  }

  [[nodiscard]] const PoolOptions& options() const noexcept { return options_; }

 private:
  friend Lease;

  // One open connection and the times the pool ages it by. Allocated when the
  // connection opens; while lent, the Lease points at it; while idle, it sits
  // in idle_ (most recently returned first).
  struct PooledConnection : ListHook {
    std::unique_ptr<Connection> connection;
    time_point retire_at;    // created + max_lifetime, less jitter
    time_point returned_at;  // last time it went idle
    // The borrower could change session state (settings, advisory locks,
    // LISTEN, temp tables): reset the session before lending it again.
    bool needs_reset = false;
    // Set by Lease::finish_with(): the statement that ends a transaction still
    // open on return (instead of ROLLBACK), and a session reset whatever
    // needs_reset and the pool's option say. For a lease whose session acts
    // for someone (RoutingPool's set_role mode).
    const char* finish_sql = nullptr;
    time_point lent_at{};  // when it was last lent (PoolStats::use_time)
    // With leak_detection_threshold: while lent, in watched_ (the hook is
    // free: a lent connection is in no other list), with where connect()
    // was called and whether it was reported already.
    bool watched = false;
    bool leak_reported = false;
    SourceLocation acquired_at;
  };

  // A lease found out past leak_detection_threshold, reported once the
  // lock is released.
  struct LeakSeen {
    std::chrono::nanoseconds held;
    SourceLocation acquired_at;
  };

  enum class State { open, draining, closed };

  using SteadyTime = std::chrono::steady_clock::time_point;

  // When a caller stops waiting: its own deadline, or acquire_timeout after
  // it started to wait or open (read from the clock only then: an idle
  // connection is lent without a clock read).
  struct Deadline {
    SteadyTime started;
    SteadyTime until;
  };
  [[nodiscard]] Deadline deadline_from(std::optional<SteadyTime> explicit_deadline) const {
    const SteadyTime now = std::chrono::steady_clock::now();
    return {now, explicit_deadline ? *explicit_deadline : now + options_.acquire_timeout};
  }

  Lease acquire(std::shared_ptr<PoolCore> self, std::optional<SteadyTime> explicit_deadline) {
    std::optional<Deadline> deadline;  // set once we wait or open
    std::unique_lock lock(mutex_);
    for (;;) {
      throw_if_not_accepting_locked();
      if (waiters_.empty()) {  // nobody queued before us: no barging
        if (PooledConnection* pooled = idle_.pop_front()) {
          const time_point now = Clock::now();
          last_used_ = now;
          if (const auto reason = expiry_of(*pooled, now, idle_.size() + 1)) {
            close_and_unlock(lock, pooled, *reason, now);
            lock.lock();
            continue;
          }
          ++leased_;
          // Ours alone now (counted as leased): checked without the lock. A
          // connection the server closed while it sat idle (a shutdown, a
          // failover) is seen locally and replaced, never lent to fail.
          const bool validate = needs_validation(*pooled, now);
          if (validate || kSeesClosed) {
            lock.unlock();
            std::optional<CloseReason> dead;
            if constexpr (kSeesClosed) {
              if (driver_.closed_by_server(*pooled->connection)) dead = CloseReason::broken;
            }
            if (!dead && validate && !driver_.ping(*pooled->connection)) {
              dead = CloseReason::validation_failed;
            }
            lock.lock();
            if (dead) {
              --leased_;
              close_and_unlock(lock, pooled, *dead, now);
              lock.lock();
              continue;
            }
          }
          counters_.record_acquired(deadline ? std::optional(deadline->started) : std::nullopt);
          pooled->lent_at = now;
          return Lease(std::move(self), pooled);
        }
        if (may_open_locked(Clock::now())) {
          ++opening_;
          if (!deadline) deadline = deadline_from(explicit_deadline);
          lock.unlock();
          return open_for_caller(std::move(self), *deadline);
        }
        if (total_locked() == 0) throw_backing_off_locked();
      } else {
        // A backoff may have ended since the queue last moved.
        serve_waiters_locked(Clock::now());
        // If that let everyone queued open, look again for ourselves rather
        // than queue behind nobody while the pool still has room.
        if (waiters_.empty()) continue;
      }
      if (!deadline) deadline = deadline_from(explicit_deadline);
      return wait_in_line(std::move(self), lock, *deadline);
    }
  }

  // A connect() call queued for a connection. Lives on the waiting thread's
  // stack; whoever frees a connection or room under max_size pops the first waiter and
  // hands it over directly, so a later caller can never take it first.
  struct Waiter : ListHook {
    enum class Outcome { waiting, handed, may_open, closed, failed };
    std::condition_variable wake;
    Outcome outcome = Outcome::waiting;
    PooledConnection* pooled = nullptr;  // when handed
  };

  [[nodiscard]] std::size_t total_locked() const noexcept {
    return idle_.size() + leased_ + opening_;
  }

  void throw_if_not_accepting_locked() const {
    if (state_ == State::closed) {
      throw PoolClosed("pool '" + options_.name + "' is closed (close() was called)");
    }
    if (state_ == State::draining) {
      throw PoolClosed("pool '" + options_.name +
                       "' is draining (replaced by a newer pool) and accepts no new connect()");
    }
  }

  [[nodiscard]] bool backing_off_locked(time_point now) const noexcept {
    return backoff_.backing_off(now);
  }

  [[nodiscard]] bool may_open_locked(time_point now) const noexcept {
    return total_locked() < options_.max_size && !backing_off_locked(now);
  }

  // While backing off with no connection to wait for, fail fast with what
  // the last attempt said, in that attempt's exception type.
  [[noreturn]] void throw_backing_off_locked() const { backoff_.throw_last_failure(options_.name); }

  // Why an idle connection should close now, if it should. `idle` is how
  // many are idle counting this one: min_idle of them outlive idle_timeout.
  [[nodiscard]] std::optional<CloseReason> expiry_of(const PooledConnection& pooled, time_point now,
                                                     std::size_t idle) const {
    if (options_.max_lifetime.count() > 0 && now >= pooled.retire_at) {
      return CloseReason::max_lifetime;
    }
    if (options_.idle_timeout.count() > 0 && now - pooled.returned_at >= options_.idle_timeout &&
        idle > options_.min_idle) {
      return CloseReason::idle_timeout;
    }
    return std::nullopt;
  }

  [[nodiscard]] bool needs_validation(const PooledConnection& pooled, time_point now) const {
    // >=: validate_idle_after = 0 checks every idle connection, even one
    // returned in the same clock tick.
    return options_.validate_idle_after &&
           now - pooled.returned_at >= *options_.validate_idle_after;
  }

  // When a waiter should next look up: at its deadline, or sooner when the
  // pool has room but is backing off, since the backoff's end frees that
  // room without any release or close to announce it. (The backoff runs on
  // Clock, the wait on steady_clock: the remaining backoff is carried over
  // as a duration, at least 1 ms so a test clock cannot make this spin.)
  [[nodiscard]] SteadyTime wake_time_locked(const Deadline& deadline) const {
    const time_point now = Clock::now();
    if (total_locked() >= options_.max_size || !backing_off_locked(now)) return deadline.until;
    const auto remaining = std::max<std::chrono::nanoseconds>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(backoff_.until() - now),
        std::chrono::milliseconds{1});
    return std::min(deadline.until, std::chrono::steady_clock::now() + remaining);
  }

  // Queues the caller and blocks until a connection is handed over, it may
  // open one, the pool closes, or the deadline passes.
  Lease wait_in_line(std::shared_ptr<PoolCore> self, std::unique_lock<std::mutex>& lock,
                     const Deadline& deadline) {
    Waiter waiter;
    waiters_.push_back(waiter);
    while (waiter.outcome == Waiter::Outcome::waiting) {
      waiter.wake.wait_until(lock, wake_time_locked(deadline));
      if (waiter.outcome != Waiter::Outcome::waiting) break;
      if (std::chrono::steady_clock::now() < deadline.until) {
        // Woken at the end of a backoff (or told one began, or spuriously):
        // nothing else would tell the queue that opening is allowed again
        // while every connection is out. Serving is a no-op otherwise.
        serve_waiters_locked(Clock::now());
        continue;
      }
      waiters_.erase(waiter);
      ++counters_.timeouts;
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::max(deadline.until - deadline.started, std::chrono::nanoseconds{0}));
      throw AcquireTimeout(
          "pool '" + options_.name + "': no connection available within " +
          std::to_string(waited.count()) + " ms (max_size " + std::to_string(options_.max_size) +
          ", " + std::to_string(leased_) + " leased, " + std::to_string(opening_) + " opening, " +
          std::to_string(waiters_.size() + 1) +
          " waiting including this one); raise max_size or acquire_timeout, or hold "
          "connections for less time");
    }
    switch (waiter.outcome) {
      case Waiter::Outcome::handed:
        counters_.record_acquired(deadline.started);
        waiter.pooled->lent_at = Clock::now();
        return Lease(std::move(self), waiter.pooled);
      case Waiter::Outcome::may_open:  // room was reserved for us (opening_)
        if (state_ == State::closed) {
          --opening_;
          quiescent_.notify_all();
          break;
        }
        lock.unlock();
        return open_for_caller(std::move(self), deadline);
      case Waiter::Outcome::failed:
        throw_backing_off_locked();
      case Waiter::Outcome::closed:
      case Waiter::Outcome::waiting:
        break;
    }
    throw PoolClosed("pool '" + options_.name + "' was closed while waiting for a connection");
  }

  // Opens a connection in the room already reserved in opening_ and lends it.
  Lease open_for_caller(std::shared_ptr<PoolCore> self, const Deadline& deadline) {
    PooledConnection* pooled = open_reserved(deadline.until);
    std::unique_lock lock(mutex_);
    --opening_;
    if (state_ == State::closed) {
      start_close_locked(CloseReason::pool_ended);
      lock.unlock();
      close_pooled(pooled, CloseReason::pool_ended);
      throw PoolClosed("pool '" + options_.name + "' was closed while opening a connection");
    }
    ++leased_;
    last_used_ = pooled->returned_at;
    pooled->lent_at = pooled->returned_at;
    counters_.record_acquired(deadline.started);
    return Lease(std::move(self), pooled);
  }

  // Takes a permit of the shared budget (if any), fetches a credential and
  // opens a connection, all outside the lock, in the room the caller already
  // reserved in opening_. On failure gives both back, starts or extends the
  // backoff (not for a budget timeout) and rethrows with the pool's name.
  // `budget_deadline` nullopt: take a permit only if one is free now.
  PooledConnection* open_reserved(
      std::optional<std::chrono::steady_clock::time_point> budget_deadline) {
    if (budget_ && !take_budget_permit_or_unreserve(budget_deadline)) {
      // Refused because the budget's owner is shutting down (PoolManager's
      // close() closes it first), or at the deadline. Built before
      // taking our lock: the budget has a lock of its own.
      const bool shut_down = budget_->is_closed();
      std::string message =
          shut_down
              ? "pool '" + options_.name +
                    "' was closed while waiting for room under the global connection limit"
              : "pool '" + options_.name + "': the global connection limit (" +
                    std::to_string(budget_->max_total()) +
                    ") is reached and no idle connection could be closed in time (" +
                    std::to_string(budget_->waiting()) + " other callers waiting for the limit)";
      std::lock_guard lock(mutex_);
      --opening_;
      if (budget_deadline && !shut_down) ++counters_.timeouts;
      serve_waiters_locked(Clock::now());
      quiescent_.notify_all();
      if (shut_down) throw PoolClosed(message);
      throw AcquireTimeout(message);
    }
    const SteadyTime started = std::chrono::steady_clock::now();
    emit(&PoolObserver::on_connection_opening,
         ConnectionOpening{options_.name, options_.connection});
    try {
      auto pooled = std::make_unique<PooledConnection>();
      pooled->connection = driver_.open(options_.connection, fetch_password(budget_deadline));
      const time_point now = Clock::now();
      const auto took = std::chrono::steady_clock::now() - started;
      std::size_t total = 0;
      unsigned failures_before = 0;
      {
        std::lock_guard lock(mutex_);
        pooled->returned_at = now;
        pooled->retire_at = now + lifetime_with_jitter_locked();
        ++counters_.created;
        counters_.create_time.record(took);
        failures_before = backoff_.record_success();
        total = total_locked();
      }
      emit(&PoolObserver::on_connection_opened,
           ConnectionOpened{options_.name, options_.connection, took, total, options_.max_size});
      if (failures_before > 0) {
        emit(&PoolObserver::on_backoff_ended, BackoffEnded{options_.name, failures_before});
      }
      return pooled.release();
    } catch (...) {
      if (budget_) budget_->release();
      std::string message;
      const auto kind = classify_current_exception(message);
      if (message.rfind("pool '", 0) != 0) message = "pool '" + options_.name + "': " + message;
      unsigned failures = 0;
      std::chrono::milliseconds backoff{};
      {
        std::lock_guard lock(mutex_);
        --opening_;
        ++counters_.connect_errors;
        const time_point now = Clock::now();
        failures = backoff_.record_failure(kind, message, now);
        backoff = backoff_.current();
        serve_waiters_locked(now);
        // A caller already queued set its wake-up before this backoff began:
        // have it set one for the backoff's end (wake_time_locked).
        if (Waiter* first = waiters_.front()) first->wake.notify_one();
        quiescent_.notify_all();
      }
      emit(&PoolObserver::on_connection_open_failed,
           ConnectionOpenFailed{options_.name, options_.connection,
                                std::chrono::steady_clock::now() - started, type_name(kind),
                                message, failures, backoff});
      if (failures == 1) {
        emit(&PoolObserver::on_backoff_started,
             BackoffStarted{options_.name, type_name(kind), backoff});
      }
      throw_connect_failure(kind, message);
    }
  }

  // A permit of the shared budget. If taking one throws (the budget's evictor
  // did), the reservation in opening_ is given back before the exception
  // goes on, or close() would wait for an open that never happens.
  [[nodiscard]] bool take_budget_permit_or_unreserve(
      std::optional<std::chrono::steady_clock::time_point> deadline) {
    try {
      return deadline ? budget_->acquire(*deadline) : budget_->try_acquire();
    } catch (...) {
      std::lock_guard lock(mutex_);
      --opening_;
      serve_waiters_locked(Clock::now());
      quiescent_.notify_all();
      throw;
    }
  }

  // The password for one new connection; the provider's failures become
  // CredentialError (pgobo's own errors pass through). `deadline`: the
  // caller's, for a provider that retries (caller_deadline.hpp); nullopt
  // when no caller waits (min_idle).
  [[nodiscard]] Secret fetch_password(std::optional<SteadyTime> deadline) {
    if (!options_.credentials) return Secret{};
    const CallerDeadlineScope scope(deadline);
    const SteadyTime started = std::chrono::steady_clock::now();
    emit(&PoolObserver::on_credential_fetch_started, CredentialFetchStarted{options_.name});
    const auto ended = [&](std::string_view error_type) {
      emit(&PoolObserver::on_credential_fetch_ended,
           CredentialFetchEnded{options_.name, std::chrono::steady_clock::now() - started,
                                error_type});
    };
    try {
      Secret secret = options_.credentials->get().secret;
      ended({});
      return secret;
    } catch (const Error&) {
      std::string ignored;
      ended(type_name(classify_current_exception(ignored)));
      throw;
    } catch (const std::exception& e) {
      ended(type_name(ConnectFailure::credential));
      throw CredentialError("pool '" + options_.name +
                            "': the credential provider failed: " + e.what());
    } catch (...) {
      ended(type_name(ConnectFailure::credential));
      throw CredentialError("pool '" + options_.name +
                            "': the credential provider threw a non-standard exception");
    }
  }

  [[nodiscard]] typename Clock::duration lifetime_with_jitter_locked() {
    using duration = typename Clock::duration;
    if (options_.max_lifetime.count() == 0) return duration::max() / 2;  // never: no overflow
    std::uniform_real_distribution<double> fraction(0.0, options_.max_lifetime_jitter);
    const double shortened = options_.max_lifetime_jitter > 0.0 ? fraction(random_) : 0.0;
    const auto lifetime = std::chrono::duration_cast<duration>(options_.max_lifetime);
    return std::chrono::duration_cast<duration>(lifetime * (1.0 - shortened));
  }

  // Opens connections (one at a time, outside the lock) until min_idle are
  // idle. Stops at the first failure: the next reap() tries again.
  void fill_min_idle() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (state_ != State::open || idle_.size() >= options_.min_idle || !waiters_.empty() ||
            !may_open_locked(Clock::now())) {
          return;
        }
        ++opening_;
      }
      PooledConnection* pooled = nullptr;
      try {
        pooled = open_reserved(std::nullopt);  // never wait for the budget here
      } catch (const std::exception&) {
        return;  // counted and logged by open_reserved
      }
      std::unique_lock lock(mutex_);
      --opening_;
      // A pool that began draining or ended while this login was in flight
      // keeps no idle connection: it would outlive idle_timeout as one of
      // min_idle, holding the old credential and a permit of the budget until
      // max_lifetime. A caller still queued in a draining pool may take it.
      if (state_ != State::open && waiters_.empty()) {
        start_close_locked(CloseReason::pool_ended);
        lock.unlock();
        close_pooled(pooled, CloseReason::pool_ended);
        return;
      }
      give_back_locked(pooled);
    }
  }

  // A healthy connection comes back: to the first waiter, else to the front
  // of idle_ (most recently used first, so surplus connections age out at
  // the back).
  void give_back_locked(PooledConnection* pooled) {
    if (Waiter* waiter = waiters_.pop_front()) {
      ++leased_;
      waiter->pooled = pooled;
      waiter->outcome = Waiter::Outcome::handed;
      waiter->wake.notify_one();
      return;
    }
    idle_.push_front(*pooled);
  }

  // Capacity was freed: let waiters open connections in FIFO order. While
  // backing off they keep waiting for a returned connection, unless none is
  // left to return; then they fail with the last connect error.
  void serve_waiters_locked(time_point now) {
    while (!waiters_.empty() && total_locked() < options_.max_size) {
      if (backing_off_locked(now)) {
        if (total_locked() == 0) {
          while (Waiter* waiter = waiters_.pop_front()) {
            waiter->outcome = Waiter::Outcome::failed;
            waiter->wake.notify_one();
          }
        }
        return;
      }
      Waiter* waiter = waiters_.pop_front();
      ++opening_;
      waiter->outcome = Waiter::Outcome::may_open;
      waiter->wake.notify_one();
    }
  }

  // The lease's way back. I/O on the connection (rollback, reset query)
  // happens before taking the lock: the connection is still ours alone.
  void release(PooledConnection* pooled, bool discard) noexcept {
    std::optional<CloseReason> reason;
    if (discard) {
      reason = CloseReason::discarded;
    } else {
      const char* finish_sql = std::exchange(pooled->finish_sql, nullptr);
      bool reset = finish_sql != nullptr || resets_after(*pooled);
      switch (driver_.state(*pooled->connection)) {
        case ConnectionState::idle:
          break;
        case ConnectionState::in_transaction:
          // The lease's own statement first (it commits); whatever it leaves
          // open is rolled back; a transaction that still will not end closes
          // the connection.
          if (finish_sql != nullptr) {
            try {
              (void)driver_.execute(*pooled->connection, std::string(finish_sql));
            } catch (...) {  // no memory for the text: the ROLLBACK below ends it
            }
          }
          if (driver_.state(*pooled->connection) == ConnectionState::in_transaction &&
              !driver_.rollback(*pooled->connection)) {
            reason = CloseReason::rollback_failed;
          } else if (driver_.state(*pooled->connection) != ConnectionState::idle) {
            reason = CloseReason::rollback_failed;
          }
          // Whoever left a transaction open ran statements the pool did not
          // see to the end.
          reset = finish_sql != nullptr || options_.session_reset != SessionReset::never;
          break;
        case ConnectionState::broken:
          reason = CloseReason::broken;
          break;
      }
      if (!reason && reset && !driver_.reset_session(*pooled->connection)) {
        reason = CloseReason::reset_failed;
      }
      if (!reason && !options_.reset_query.empty() &&
          !driver_.execute(*pooled->connection, options_.reset_query)) {
        reason = CloseReason::reset_failed;
      }
    }
    const time_point now = Clock::now();
    // Declared before the lock, so it tells observers after the lock is gone.
    ReturnReport report(
        *this, std::chrono::duration_cast<std::chrono::nanoseconds>(now - pooled->lent_at));
    std::unique_lock lock(mutex_);
    --leased_;
    last_used_ = now;
    counters_.use_time.record(report.held);
    if (pooled->watched) unwatch_locked(*pooled, report);
    if (!reason) {
      // A draining pool still hands connections to the callers it queued.
      const bool closing =
          state_ == State::closed || (state_ == State::draining && waiters_.empty());
      if (options_.max_lifetime.count() > 0 && now >= pooled->retire_at) {
        reason = CloseReason::max_lifetime;
      } else if (closing) {
        reason = CloseReason::pool_ended;
      } else if (budget_ && budget_->over_limit()) {
        // The shared limit was lowered under what is open (a smaller share
        // of the server): the server must see connections close, so this
        // one does even if a caller here waits; that caller opens again
        // once the budget has room, first come first served with every
        // pool's (a lock-free check).
        reason = CloseReason::evicted;
      } else if (waiters_.empty() && budget_ && budget_->has_waiters()) {
        // Another pool is waiting for the shared limit and nobody here wants
        // this connection: closing it hands its permit over (a lock-free check).
        reason = CloseReason::evicted;
      } else {
        pooled->returned_at = now;
        give_back_locked(pooled);
        // Without a sweeper, a standalone pool still sheds stale connections
        // as it is used: one look at the least recently used end per release.
        PooledConnection* stale = idle_.back();
        if (stale == nullptr || stale == pooled) return;
        reason = expiry_of(*stale, now, idle_.size());
        if (!reason) return;
        idle_.erase(*stale);
        pooled = stale;
      }
    }
    close_and_unlock(lock, pooled, *reason, now);
  }

  [[nodiscard]] bool resets_after(const PooledConnection& pooled) const noexcept {
    switch (options_.session_reset) {
      case SessionReset::when_exposed:
        return pooled.needs_reset;
      case SessionReset::always:
        return true;
      case SessionReset::never:
        break;
    }
    return false;
  }

  // `pooled` is no longer counted anywhere: record why it closes, let waiters
  // use the freed capacity, and close it with the lock released.
  void close_and_unlock(std::unique_lock<std::mutex>& lock, PooledConnection* pooled,
                        CloseReason reason, time_point now) noexcept {
    start_close_locked(reason);
    serve_waiters_locked(now);
    lock.unlock();
    close_pooled(pooled, reason);
  }

  void take_idle_locked(std::vector<PooledConnection*>& out, CloseReason reason) {
    while (PooledConnection* pooled = idle_.pop_front()) {
      start_close_locked(reason);
      out.push_back(pooled);
    }
  }

  // A connection leaves the pool's accounting (idle, leased, opening) to be
  // closed by close_pooled(), which every call is paired with. Until then it
  // counts in closing_, so close() does not return while a connection it
  // should have waited for is still closing on another thread.
  void start_close_locked(CloseReason reason) noexcept {
    counters_.record_close(reason);
    ++closing_;
  }

  // Destroying the connection closes it (network I/O): never under the lock.
  // Its budget permit is given back once it is closed, so the server never
  // sees more than the budget's connections at once.
  void close_pooled(PooledConnection* pooled, CloseReason reason) noexcept {
    std::unique_ptr<PooledConnection> owned(pooled);
    emit(&PoolObserver::on_connection_closed,
         ConnectionClosed{options_.name, reason, info(reason).description, info(reason).warn});
    owned.reset();
    if (budget_) budget_->release();
    std::lock_guard lock(mutex_);
    --closing_;
    if (quiescent_locked()) quiescent_.notify_all();
  }

  // Nothing is lent, opening or closing: close() may return.
  [[nodiscard]] bool quiescent_locked() const noexcept {
    return leased_ + opening_ + closing_ == 0;
  }

  void close_each(const std::vector<PooledConnection*>& connections, CloseReason reason) noexcept {
    for (PooledConnection* pooled : connections) close_pooled(pooled, reason);
  }

  // Lease tracking (leak_detection_threshold): whoever took a lease, and
  // since when. Only with a threshold: one more lock per connect().
  void watch(PooledConnection& pooled, const SourceLocation& where) {
    std::lock_guard lock(mutex_);
    pooled.acquired_at = where;
    pooled.leak_reported = false;
    pooled.watched = true;
    watched_.push_back(pooled);
  }

  // What release() tells observers: the return at once (before the lock,
  // so before the connection is lent again or closed), a late leak once the
  // lock is released.
  struct ReturnReport {
    ReturnReport(PoolCore& core, std::chrono::nanoseconds held_for) noexcept
        : pool(core), held(held_for) {
      if (pool.observer_) {
        pool.observer_->on_lease_returned(LeaseReturned{pool.options_.name, held});
      }
    }
    ReturnReport(const ReturnReport&) = delete;
    ReturnReport& operator=(const ReturnReport&) = delete;
    ~ReturnReport() {
      if (late_leak) pool.report_leak(leak, /*still_out=*/false);
    }
    PoolCore& pool;
    std::chrono::nanoseconds held;
    // Came back past the threshold, not reported while out. (Not an
    // optional: g++ 12 at -O1 and above warns it "may be used uninitialized".)
    bool late_leak = false;
    LeakSeen leak{};
  };

  void unwatch_locked(PooledConnection& pooled, ReturnReport& report) noexcept {
    watched_.erase(pooled);
    pooled.watched = false;
    if (!pooled.leak_reported && report.held >= options_.leak_detection_threshold) {
      ++counters_.leaks_suspected;
      report.leak = LeakSeen{report.held, pooled.acquired_at};
      report.late_leak = true;
    }
  }

  void find_leaks_locked(time_point now, std::vector<LeakSeen>& out) {
    watched_.for_each_from_back([&](PooledConnection& pooled) {
      const auto held = std::chrono::duration_cast<std::chrono::nanoseconds>(now - pooled.lent_at);
      if (pooled.leak_reported || held < options_.leak_detection_threshold) return;
      pooled.leak_reported = true;
      ++counters_.leaks_suspected;
      out.push_back(LeakSeen{held, pooled.acquired_at});
    });
  }

  void report_leak(const LeakSeen& leak, bool still_out) noexcept {
    emit(&PoolObserver::on_lease_leak_suspected,
         LeaseLeakSuspected{options_.name, leak.held, options_.leak_detection_threshold,
                            leak.acquired_at, still_out});
  }

  // What each lend starts from: the caller's exposure, no finishing statement.
  static void lent(PooledConnection& pooled, bool exposed) noexcept {
    pooled.needs_reset = exposed;
    pooled.finish_sql = nullptr;
  }

  // connect() with an observer: told when it starts and how it ended.
  Lease connect_observed(std::shared_ptr<PoolCore> self, std::optional<SteadyTime> deadline,
                         bool exposed, const SourceLocation& where) {
    const SteadyTime started = acquire_started();
    try {
      Lease lease = acquire(std::move(self), deadline);
      lent(*lease.pooled_, exposed);
      acquire_ended(started, AcquireOutcome::acquired, {});
      if (watches_leases_ && where.line() != 0) watch(*lease.pooled_, where);
      return lease;
    } catch (...) {
      acquire_failed(started);
      throw;
    }
  }
  [[nodiscard]] SteadyTime acquire_started() const noexcept {
    observer_->on_acquire_started(AcquireStarted{options_.name});
    return std::chrono::steady_clock::now();
  }
  void acquire_ended(SteadyTime started, AcquireOutcome outcome,
                     std::string_view error_type) const noexcept {
    observer_->on_acquire_ended(AcquireEnded{
        options_.name, outcome, std::chrono::steady_clock::now() - started, error_type});
  }
  // Inside the catch block of a failed acquire.
  void acquire_failed(SteadyTime started) const noexcept {
    try {
      throw;
    } catch (const AcquireTimeout&) {
      acquire_ended(started, AcquireOutcome::timed_out, "pgobo::AcquireTimeout");
    } catch (const PoolClosed&) {
      acquire_ended(started, AcquireOutcome::closed, "pgobo::PoolClosed");
    } catch (...) {
      std::string ignored;
      acquire_ended(started, AcquireOutcome::failed,
                    type_name(classify_current_exception(ignored)));
    }
  }

  // A rare event: to pgobo's log lines, then to the user's observer.
  template <class Event>
  void emit(void (PoolObserver::*hook)(const Event&) noexcept, const Event& event) const noexcept {
    (log_observer().*hook)(event);
    if (observer_) ((*observer_).*hook)(event);
  }

  PoolOptions options_;
  Driver driver_;
  // A permit is taken before each open, waiting up to the caller's deadline,
  // and given back when the connection closes. Null = no shared limit.
  const std::shared_ptr<Budget> budget_;
  // PoolOptions::observer; null: only pgobo's log lines hear of events.
  const std::shared_ptr<PoolObserver> observer_;
  const bool watches_leases_;  // leak_detection_threshold is set

  mutable std::mutex mutex_;
  std::condition_variable quiescent_;  // quiescent_locked() may have become true
  State state_ = State::open;
  IntrusiveList<PooledConnection> idle_;     // most recently returned at the front
  IntrusiveList<Waiter> waiters_;            // first come at the front
  IntrusiveList<PooledConnection> watched_;  // lent, with leak detection on
  std::size_t leased_ = 0;
  std::size_t opening_ = 0;  // reserved room whose connection is being opened
  std::size_t closing_ = 0;  // taken out of the pool, being closed (start_close_locked)
  time_point last_used_;

  ConnectBackoff<time_point> backoff_;

  std::minstd_rand random_{std::random_device{}()};

  PoolCounters counters_;
};

}  // namespace pgobo::detail
