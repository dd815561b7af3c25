// How the notes service answers when something fails: which HTTP status,
// which error code, and what the client may be told.
//
//   try { ... } catch (...) {
//     const HttpError error = http_error_of(std::current_exception(), acting_for_user);
//     res.status = error.status;                       // 401, 503 + Retry-After, ...
//   }
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace notes {

// A request the service refuses before any database work (bad JSON, missing
// field): 400 with this message.
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpError {
  int status = 500;
  std::string code;     // stable, for clients: "unauthenticated", "pool_exhausted"…
  std::string message;  // for people; never a secret, never server internals on a 5xx
  std::optional<std::chrono::seconds> retry_after;  // 503s that are worth retrying
  std::string detail;  // for the service's log only (the exception's text)
};

// Maps a pgobo, libpqxx or other exception to its HTTP answer.
// `acting_for_user`: the request ran as a user (a refused login is then that
// user's problem, 401), not as the service principal (a refused login is the
// service's, 503).
[[nodiscard]] HttpError http_error_of(const std::exception_ptr& error, bool acting_for_user);

// {"error": {"code": "...", "message": "..."}}
[[nodiscard]] std::string to_json_body(const HttpError& error);

}  // namespace notes
