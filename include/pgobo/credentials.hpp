// pgobo/credentials.hpp — where a new connection's password comes from.
//
// A pool stores no password. Each time it opens a connection it asks its
// CredentialProvider, so a rotated password or a refreshed OAuth database
// token is used by the next connection without rebuilding anything:
//
//   pgobo::PoolOptions options;
//   options.credentials = std::make_shared<pgobo::StaticPassword>(pgobo::Secret{"s3cret"});
//   options.credentials = pgobo::make_credential_function([] {
//     return pgobo::Credential{pgobo::Secret{vault.read("db")}};
//   });
//
// Providers are called from any thread, possibly concurrently: they must be
// thread-safe. A provider that cannot produce a credential throws
// pgobo::CredentialError (anything else it throws is wrapped in one).
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
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

}  // namespace pgobo
