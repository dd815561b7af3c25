#include "pgobo/observer.hpp"

#include <algorithm>
#include <utility>

#include <pqxx/except>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace pgobo {

std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::idle_timeout:
      return "idle_timeout";
    case CloseReason::max_lifetime:
      return "max_lifetime";
    case CloseReason::broken:
      return "broken";
    case CloseReason::rollback_failed:
      return "rollback_failed";
    case CloseReason::reset_failed:
      return "reset_failed";
    case CloseReason::validation_failed:
      return "validation_failed";
    case CloseReason::discarded:
      return "discarded";
    case CloseReason::evicted:
      return "evicted";
    case CloseReason::pool_ended:
      return "pool_ended";
  }
  return "unknown";
}

std::string_view to_string(AcquireOutcome outcome) noexcept {
  switch (outcome) {
    case AcquireOutcome::acquired:
      return "acquired";
    case AcquireOutcome::timed_out:
      return "timed_out";
    case AcquireOutcome::closed:
      return "closed";
    case AcquireOutcome::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(PoolLifecycle change) noexcept {
  switch (change) {
    case PoolLifecycle::created:
      return "created";
    case PoolLifecycle::rebuilt:
      return "rebuilt";
    case PoolLifecycle::removed:
      return "removed";
    case PoolLifecycle::evicted:
      return "evicted";
  }
  return "unknown";
}

ObserverList::ObserverList(std::initializer_list<std::shared_ptr<PoolObserver>> observers)
    : ObserverList(std::vector<std::shared_ptr<PoolObserver>>(observers)) {}

ObserverList::ObserverList(std::vector<std::shared_ptr<PoolObserver>> observers)
    : observers_(std::move(observers)) {
  std::erase(observers_, nullptr);
}

void ObserverList::on_connection_opening(const ConnectionOpening& e) noexcept {
  each(&PoolObserver::on_connection_opening, e);
}
void ObserverList::on_connection_opened(const ConnectionOpened& e) noexcept {
  each(&PoolObserver::on_connection_opened, e);
}
void ObserverList::on_connection_open_failed(const ConnectionOpenFailed& e) noexcept {
  each(&PoolObserver::on_connection_open_failed, e);
}
void ObserverList::on_backoff_started(const BackoffStarted& e) noexcept {
  each(&PoolObserver::on_backoff_started, e);
}
void ObserverList::on_backoff_ended(const BackoffEnded& e) noexcept {
  each(&PoolObserver::on_backoff_ended, e);
}
void ObserverList::on_connection_closed(const ConnectionClosed& e) noexcept {
  each(&PoolObserver::on_connection_closed, e);
}
void ObserverList::on_close_gave_up(const CloseGaveUp& e) noexcept {
  each(&PoolObserver::on_close_gave_up, e);
}
void ObserverList::on_acquire_started(const AcquireStarted& e) noexcept {
  each(&PoolObserver::on_acquire_started, e);
}
void ObserverList::on_acquire_ended(const AcquireEnded& e) noexcept {
  each(&PoolObserver::on_acquire_ended, e);
}
void ObserverList::on_lease_returned(const LeaseReturned& e) noexcept {
  each(&PoolObserver::on_lease_returned, e);
}
void ObserverList::on_lease_leak_suspected(const LeaseLeakSuspected& e) noexcept {
  each(&PoolObserver::on_lease_leak_suspected, e);
}
void ObserverList::on_credential_fetch_started(const CredentialFetchStarted& e) noexcept {
  each(&PoolObserver::on_credential_fetch_started, e);
}
void ObserverList::on_credential_fetch_ended(const CredentialFetchEnded& e) noexcept {
  each(&PoolObserver::on_credential_fetch_ended, e);
}
void ObserverList::on_pool_changed(const PoolChanged& e) noexcept {
  each(&PoolObserver::on_pool_changed, e);
}
void ObserverList::on_query_started(const QueryStarted& e) noexcept {
  each(&PoolObserver::on_query_started, e);
}
void ObserverList::on_query_ended(const QueryEnded& e) noexcept {
  each(&PoolObserver::on_query_ended, e);
}
void ObserverList::on_connection_limit_changed(const ConnectionLimitChanged& e) noexcept {
  each(&PoolObserver::on_connection_limit_changed, e);
}

namespace {

// libpqxx 6.4 throws some of its sql_error subclasses without the SQLSTATE
// the server sent (insufficient_privilege, for one); each of these classes
// stands for exactly one SQLSTATE, so the class says it. Most derived first.
std::string sqlstate_of_class(const pqxx::sql_error& e) {
  const auto is = [&e](const auto* type) { return dynamic_cast<decltype(type)>(&e) != nullptr; };
  if (is(static_cast<const pqxx::undefined_column*>(nullptr))) return "42703";
  if (is(static_cast<const pqxx::undefined_function*>(nullptr))) return "42883";
  if (is(static_cast<const pqxx::undefined_table*>(nullptr))) return "42P01";
  if (is(static_cast<const pqxx::syntax_error*>(nullptr))) return "42601";
  if (is(static_cast<const pqxx::insufficient_privilege*>(nullptr))) return "42501";
  if (is(static_cast<const pqxx::unique_violation*>(nullptr))) return "23505";
  if (is(static_cast<const pqxx::foreign_key_violation*>(nullptr))) return "23503";
  if (is(static_cast<const pqxx::not_null_violation*>(nullptr))) return "23502";
  if (is(static_cast<const pqxx::check_violation*>(nullptr))) return "23514";
  if (is(static_cast<const pqxx::restrict_violation*>(nullptr))) return "23001";
  if (is(static_cast<const pqxx::invalid_cursor_state*>(nullptr))) return "24000";
  if (is(static_cast<const pqxx::invalid_sql_statement_name*>(nullptr))) return "26000";
  if (is(static_cast<const pqxx::invalid_cursor_name*>(nullptr))) return "34000";
  if (is(static_cast<const pqxx::disk_full*>(nullptr))) return "53100";
  if (is(static_cast<const pqxx::out_of_memory*>(nullptr))) return "53200";
  if (is(static_cast<const pqxx::feature_not_supported*>(nullptr))) return "0A000";
  return {};
}

// The SQLSTATE of a transaction rollback libpqxx 6.4 threw without one.
std::string rollback_sqlstate(const pqxx::transaction_rollback& e) {
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) return "40003";
  return "40000";
}

}  // namespace

ErrorDescription describe_current_exception() noexcept {
  try {
    try {
      throw;
    } catch (const pqxx::transaction_rollback& e) {
      // Before sql_error: libpqxx 7 and 8 derive it from sql_error (with the
      // SQLSTATE), 6.4 from failure (without one).
      std::string state;
      if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) state = sql->sqlstate();
      if (state.empty()) state = rollback_sqlstate(e);
      return {state, state};
    } catch (const pqxx::sql_error& e) {
      std::string state{e.sqlstate()};
      if (state.empty()) state = sqlstate_of_class(e);
      if (state.empty()) return {"pqxx::sql_error", {}};
      return {state, state};
    } catch (const pqxx::broken_connection&) {
      return {"pqxx::broken_connection", {}};

    } catch (const pqxx::usage_error&) {  // before failure: libpqxx 8 derives it from failure
      return {"pqxx::usage_error", {}};
    } catch (const pqxx::conversion_error&) {
      return {"pqxx::conversion_error", {}};
    } catch (const pqxx::failure&) {
      return {"pqxx::failure", {}};
    } catch (const AcquireTimeout&) {
      return {"pgobo::AcquireTimeout", {}};
    } catch (const PoolClosed&) {
      return {"pgobo::PoolClosed", {}};
    } catch (const UnsafeRole&) {
      return {"pgobo::UnsafeRole", {}};
    } catch (const AuthenticationFailed&) {
      return {"pgobo::AuthenticationFailed", {}};
    } catch (const ServerUnavailable&) {
      return {"pgobo::ServerUnavailable", {}};
    } catch (const TlsVerificationFailed&) {
      return {"pgobo::TlsVerificationFailed", {}};
    } catch (const TooManyConnections&) {
      return {"pgobo::TooManyConnections", {}};
    } catch (const UnclassifiedConnectError&) {
      return {"pgobo::UnclassifiedConnectError", {}};
    } catch (const ConnectError&) {
      return {"pgobo::ConnectError", {}};
    } catch (const CredentialError&) {
      return {"pgobo::CredentialError", {}};
    } catch (const SqlPolicyError&) {
      return {"pgobo::SqlPolicyError", {}};
    } catch (const IdentityConflict&) {
      return {"pgobo::IdentityConflict", {}};
    } catch (const AuthenticationError&) {
      return {"pgobo::AuthenticationError", {}};
    } catch (const ConfigError&) {
      return {"pgobo::ConfigError", {}};
    } catch (const Error&) {
      return {"pgobo::Error", {}};
    } catch (const std::exception&) {
      return {"std::exception", {}};
    } catch (...) {
      return {"unknown", {}};
    }
  } catch (...) {  // copying a string threw (out of memory)
    return {};
  }
}

namespace {

// The lines pgobo has always logged about its pools, now one observer among
// others. spdlog formats lazily: a line below the logger's level costs a
// level check. A failing sink must not reach the pool (hooks are noexcept).
class LogObserver final : public PoolObserver {
 public:
  void on_connection_opened(const ConnectionOpened& e) noexcept override {
    log(spdlog::level::debug, "pool '{}': opened a connection ({} of max {})", e.pool, e.total,
        e.max_size);
  }
  void on_connection_open_failed(const ConnectionOpenFailed& e) noexcept override {
    log(spdlog::level::warn, "{} ({} consecutive failure(s), backing off {} ms)", e.message,
        e.consecutive_failures, e.backoff.count());
  }
  void on_backoff_ended(const BackoffEnded& e) noexcept override {
    log(spdlog::level::info, "pool '{}': opened a connection again after {} failure(s)", e.pool,
        e.failures);
  }
  void on_connection_closed(const ConnectionClosed& e) noexcept override {
    log(e.abnormal ? spdlog::level::warn : spdlog::level::debug,
        "pool '{}': closing a connection: {}", e.pool, e.description);
  }
  void on_close_gave_up(const CloseGaveUp& e) noexcept override {
    log(spdlog::level::warn,
        "pool '{}': close() gave up after {} ms with {} lease(s) still out; they close when "
        "returned",
        e.pool, e.close_timeout.count(), e.still_out);
  }
  void on_lease_leak_suspected(const LeaseLeakSuspected& e) noexcept override {
    const auto held_ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.held).count();
    log(spdlog::level::warn,
        "pool '{}': a lease {} {} ms (leak_detection_threshold {} ms); acquired at {}:{} in {}",
        e.pool, e.still_out ? "has been out for" : "came back after", held_ms, e.threshold.count(),
        e.acquired_at.file_name(), e.acquired_at.line(), e.acquired_at.function_name());
  }
  void on_pool_changed(const PoolChanged& e) noexcept override {
    if (e.change == PoolLifecycle::rebuilt) {
      log(spdlog::level::info,
          "user pool '{}': a new token arrived; pool rebuilt, the old one drains", e.pool);
    } else {
      log(spdlog::level::debug, "user pool '{}': {}", e.pool, to_string(e.change));
    }
  }
  void on_connection_limit_changed(const ConnectionLimitChanged& e) noexcept override {
    log(e.reason == "heartbeat" ? spdlog::level::info : spdlog::level::warn,
        "connection limit ({}): this replica's share is {} connections, {} of them for user "
        "pools (was {}); {} live replicas divide {}",
        e.reason, e.share, e.user_limit, e.previous_user_limit, e.replicas, e.capacity);
  }

 private:
  template <class... Args>
  static void log(spdlog::level::level_enum level, spdlog::format_string_t<Args...> format,
                  Args&&... args) noexcept {
    try {
      logger()->log(level, format, std::forward<Args>(args)...);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is not worth a pool
    }
  }
};

}  // namespace

PoolObserver& log_observer() noexcept {
  static LogObserver instance;
  return instance;
}

}  // namespace pgobo
