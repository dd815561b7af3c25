// pgobo/credentials.hpp — where a new connection's password comes from.
//
// A pool stores no password. Each time it opens a connection it asks its
// CredentialProvider, so a rotated password or a refreshed OAuth database
// token is used by the next connection without rebuilding anything:
//
//   pgobo::PoolOptions options;
//   options.credentials = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{"s3cret"});
//   // given: std::string read_from_vault(const char* name)
//   options.credentials = pgobo::make_credential_function([] {
//     return pgobo::Credential{pgobo::Secret{read_from_vault("db")}};
//   });
//
// A provider that fetches short-lived credentials over the network (Lakebase
// OAuth database tokens, databricks/lakebase.hpp) is wrapped in CachedCredentials, which
// serves the cached value until it is about to expire and lets concurrent
// callers share one fetch:
//
//   // given: std::shared_ptr<pgobo::CredentialProvider> lakebase_provider
//   auto cached = std::make_shared<pgobo::CachedCredentials>(lakebase_provider);
//   pgobo::Credential c = cached->get();   // one HTTP call per ~hour, not per connection
//
// Providers are called from any thread, possibly concurrently: they must be
// thread-safe. A provider that cannot produce a credential throws
// pgobo::CredentialError (anything else it throws is wrapped in one).
#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "pgobo/secret.hpp"

namespace pgobo {

// A password or token plus, when known, the moment it stops being valid.
struct Credential {
  Secret secret;
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // The credential for a connection about to open. May block (network).
  [[nodiscard]] virtual Credential get() = 0;
};

// The same password every time (plain PostgreSQL roles, tests).
class StaticPassword final : public CredentialProvider {
 public:
  explicit StaticPassword(Secret password) : password_(std::move(password)) {}
  [[nodiscard]] Credential get() override { return Credential{password_, std::nullopt}; }

 private:
  Secret password_;
};

// Any callable returning a Credential (or a Secret): a vault lookup, a
// rotating file, a test's counter.
template <class F>
class CredentialFunction final : public CredentialProvider {
 public:
  explicit CredentialFunction(F function) : function_(std::move(function)) {}

  [[nodiscard]] Credential get() override {
    if constexpr (std::same_as<std::invoke_result_t<F&>, Credential>) {
      return function_();
    } else {
      return Credential{Secret(function_()), std::nullopt};
    }
  }

 private:
  F function_;
};

template <class F>
requires std::same_as<std::invoke_result_t<F&>, Credential> ||
    std::constructible_from<Secret, std::invoke_result_t<F&>>
[[nodiscard]] std::shared_ptr<CredentialProvider> make_credential_function(F function) {
  return std::make_shared<CredentialFunction<F>>(std::move(function));
}

// Where CachedCredentials (and everything timed by expiry) reads the time.
// Tests inject a fake one; production uses system_clock::now.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

// Caches the credential of another provider until it is about to expire.
//
// - A cached credential is served while more than `refresh_ahead` of its
//   validity remains; one without an expiry is served until invalidate().
// - Otherwise one caller fetches a new one from the source while every other
//   caller waits for that fetch and gets its outcome (single flight): success
//   for all, or the fetch's CredentialError thrown to each of them.
// - While a refresh is running and the cached credential has not expired yet,
//   callers are served the cached one without waiting; if the refresh fails,
//   the still valid credential keeps being served (with a warning logged) and
//   the next call tries again.
// - After a failure the next call retries at once. After two or more
//   consecutive failures, calls within a backoff window (doubling from
//   `failure_backoff` up to `max_failure_backoff`) fail fast with the last
//   error instead of calling the source again.
// - An expired credential is never served: a source that returns one is an
//   error.
class CachedCredentials final : public CredentialProvider {
 public:
  struct Options {
    // Refetch when less than this much validity remains (AppKit: 2 min).
    std::chrono::milliseconds refresh_ahead{std::chrono::minutes{2}};
    // First backoff after two consecutive failures; doubles per further failure.
    std::chrono::milliseconds failure_backoff{250};
    std::chrono::milliseconds max_failure_backoff{std::chrono::seconds{10}};
    // Shown in log lines ("lakebase", "sp-oauth"...); never a secret.
    std::string name = "credentials";
    // Null: std::chrono::system_clock::now.
    WallClock clock;
    // Called, with the cache's lock held, each time a caller starts waiting
    // for another caller's fetch. For tests and metrics; must not block or
    // call back into this provider.
    std::function<void()> on_wait_for_fetch;
  };

  explicit CachedCredentials(std::shared_ptr<CredentialProvider> source);
  CachedCredentials(std::shared_ptr<CredentialProvider> source, Options options);
  ~CachedCredentials() override;

  CachedCredentials(const CachedCredentials&) = delete;
  CachedCredentials& operator=(const CachedCredentials&) = delete;

  [[nodiscard]] Credential get() override;

  // Drops the cached credential (e.g. after the server rejected it): the next
  // get() fetches. A fetch already running is not affected.
  void invalidate();

  // Fetches from the source so far (successful or not).
  [[nodiscard]] std::size_t fetch_count() const;

 private:
  struct Flight;

  [[nodiscard]] std::chrono::system_clock::time_point now() const;
  [[nodiscard]] bool fresh(const Credential& credential,
                           std::chrono::system_clock::time_point at) const;
  [[nodiscard]] static bool unexpired(const Credential& credential,
                                      std::chrono::system_clock::time_point at);
  [[nodiscard]] Credential fetch_as_leader(std::unique_lock<std::mutex>& lock,
                                           const std::shared_ptr<Flight>& flight);

  std::shared_ptr<CredentialProvider> source_;
  Options options_;

  mutable std::mutex mutex_;
  std::condition_variable fetched_;
  std::optional<Credential> cached_;
  std::shared_ptr<Flight> flight_;  // the fetch in progress, if any
  std::size_t fetch_count_ = 0;
  int consecutive_failures_ = 0;
  std::chrono::system_clock::time_point retry_not_before_{};
  std::string last_error_;
};

}  // namespace pgobo
