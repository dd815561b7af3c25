#include "pgobo/credentials.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "rfc3339.hpp"

namespace pgobo {

// One fetch and everyone waiting for it. Waiters keep it alive, so the cache
// can start the next flight while late waiters still read this one's outcome.
// A failure is kept as its message: each waiter throws its own
// CredentialError, so no exception object is shared between threads.
struct CachedCredentials::Flight {
  bool done = false;
  std::optional<Credential> result;
  std::optional<std::string> error;
};

CachedCredentials::CachedCredentials(std::shared_ptr<CredentialProvider> source)
    : CachedCredentials(std::move(source), Options{}) {}

CachedCredentials::CachedCredentials(std::shared_ptr<CredentialProvider> source, Options options)
    : source_(std::move(source)), options_(std::move(options)) {
  if (!source_) throw ConfigError("CachedCredentials '" + options_.name + "': source is null");
  if (options_.refresh_ahead.count() < 0 || options_.failure_backoff.count() < 0 ||
      options_.max_failure_backoff.count() < 0) {
    throw ConfigError("CachedCredentials '" + options_.name +
                      "': refresh_ahead and the failure backoffs must not be negative");
  }
}

CachedCredentials::~CachedCredentials() = default;

std::chrono::system_clock::time_point CachedCredentials::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

bool CachedCredentials::fresh(const Credential& credential,
                              std::chrono::system_clock::time_point at) const {
  return !credential.expires_at || at + options_.refresh_ahead < *credential.expires_at;
}

bool CachedCredentials::unexpired(const Credential& credential,
                                  std::chrono::system_clock::time_point at) {
  return !credential.expires_at || at < *credential.expires_at;
}

Credential CachedCredentials::get() {
  std::unique_lock lock(mutex_);
  const auto at = now();
  if (cached_ && fresh(*cached_, at)) return *cached_;

  if (flight_) {
    // A refresh is running. A credential that is still valid is good enough
    // for this connection; only callers with nothing usable wait.
    if (cached_ && unexpired(*cached_, at)) return *cached_;
    const std::shared_ptr<Flight> flight = flight_;
    if (options_.on_wait_for_fetch) options_.on_wait_for_fetch();
    fetched_.wait(lock, [&flight] { return flight->done; });
    if (flight->error) throw CredentialError(*flight->error);
    return *flight->result;
  }

  if (consecutive_failures_ >= 2 && at < retry_not_before_) {
    if (cached_ && unexpired(*cached_, at)) return *cached_;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_not_before_ - at);
    throw CredentialError(
        fmt::format("{}: not asking again for {} ms after {} consecutive failures; last error: {}",
                    options_.name, wait.count(), consecutive_failures_, last_error_));
  }

  auto flight = std::make_shared<Flight>();
  flight_ = flight;
  return fetch_as_leader(lock, flight);
}

Credential CachedCredentials::fetch_as_leader(std::unique_lock<std::mutex>& lock,
                                              const std::shared_ptr<Flight>& flight) {
  ++fetch_count_;
  lock.unlock();

  std::optional<Credential> fetched;
  std::exception_ptr error;
  std::string error_text;
  try {
    Credential credential = source_->get();
    if (credential.expires_at && *credential.expires_at <= now()) {
      throw CredentialError(fmt::format("{}: the source returned a credential that expired at {}",
                                        options_.name,
                                        detail::format_rfc3339(*credential.expires_at)));
    }
    fetched = std::move(credential);
  } catch (const CredentialError& e) {
    error = std::current_exception();
    error_text = e.what();
  } catch (const std::exception& e) {
    error_text = fmt::format("{}: the credential source failed: {}", options_.name, e.what());
    error = std::make_exception_ptr(CredentialError(error_text));
  } catch (...) {
    error_text =
        fmt::format("{}: the credential source threw a non-standard exception", options_.name);
    error = std::make_exception_ptr(CredentialError(error_text));
  }

  lock.lock();
  const auto at = now();
  if (fetched) {
    if (fetched->expires_at) {
      logger()->debug("{}: fetched a credential valid until {}", options_.name,
                      detail::format_rfc3339(*fetched->expires_at));
    } else {
      logger()->debug("{}: fetched a credential without expiry", options_.name);
    }
    cached_ = fetched;
    consecutive_failures_ = 0;
    last_error_.clear();
    flight->result = std::move(fetched);
  } else {
    ++consecutive_failures_;
    last_error_ = error_text;
    if (consecutive_failures_ >= 2) {
      const int doublings = std::min(consecutive_failures_ - 2, 20);
      const auto backoff = std::min(options_.failure_backoff * (std::int64_t{1} << doublings),
                                    options_.max_failure_backoff);
      retry_not_before_ = at + backoff;
    }
    if (cached_ && unexpired(*cached_, at)) {
      logger()->warn("{}: refresh failed ({} in a row), still serving the current credential: {}",
                     options_.name, consecutive_failures_, error_text);
      flight->result = *cached_;
    } else {
      logger()->warn("{}: fetch failed ({} in a row): {}", options_.name, consecutive_failures_,
                     error_text);
      cached_.reset();
      flight->error = error_text;
    }
  }
  flight->done = true;
  flight_.reset();
  fetched_.notify_all();
  if (flight->error) std::rethrow_exception(error);
  return *flight->result;
}

void CachedCredentials::invalidate() {
  const std::lock_guard lock(mutex_);
  cached_.reset();
}

std::size_t CachedCredentials::fetch_count() const {
  const std::lock_guard lock(mutex_);
  return fetch_count_;
}

}  // namespace pgobo
