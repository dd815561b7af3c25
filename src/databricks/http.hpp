// src/databricks/http.hpp (private) — the one HTTP call pgobo makes: to a Databricks
// workspace, through libcurl, for tokens and credentials.
//
//   pgobo::detail::HttpRequest request;
//   request.call = "Lakebase database credential request";
//   request.method = "POST";
//   request.url = workspace_url + "/api/2.0/postgres/credentials";
//   request.bearer = &workspace_token;
//   request.json_body = R"({"endpoint":"projects/p/branches/b/endpoints/e"})";
//   auto body = pgobo::detail::send_for_json(request, options);   // nlohmann::json object
//
// HTTP 429 and 503 and failed connections are retried (send(): jittered
// exponential backoff, Retry-After honoured) within HttpOptions::retry_timeout
// and the deadline of the pool caller the call runs for
// (pgobo/detail/caller_deadline.hpp).
//
// Every failure is a CredentialError whose message names the call, the method
// and URL, and the HTTP status with the API's own error text (and, after
// retries, how many attempts were made and why they stopped). The bearer token,
// the basic-auth password and the Authorization header never appear in a
// message: any occurrence of a secret in an error text, in any encoding
// (detail/scrub.hpp: base64 of the Basic pair, percent, JSON...), is
// replaced by ***. A URL with a user name or password, or http:// to a host
// that is not loopback, is refused before connecting.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/databricks/workspace.hpp"
#include "pgobo/secret.hpp"

namespace pgobo::databricks::detail {

struct HttpRequest {
  // What the call is for, first in every error message.
  std::string call;
  std::string method = "GET";
  std::string url;
  // Sent as "Authorization: Bearer <token>" when set.
  const Secret* bearer = nullptr;
  // Sent as HTTP basic authentication when basic_password is set.
  std::string basic_user;
  const Secret* basic_password = nullptr;
  // With content type application/json when not empty.
  std::string json_body;
  // With content type application/x-www-form-urlencoded when not empty
  // (json_body wins if both are set).
  std::vector<std::pair<std::string, std::string>> form;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  // The answer's Retry-After header as sent (at most 64 bytes); empty if none.
  std::string retry_after;
  // For a message about an error status: after retries, how many attempts
  // were made and why they stopped (" (after 3 attempts in 1200 ms; ...)");
  // for a retryable status that was not retried, why not. Else empty.
  std::string retry_note;
};

// Sends the request, and again after HTTP 429 or 503, a refused or reset
// connection, or a host name that did not resolve, while time is left:
// jittered exponential backoff (kFirstRetryBackoff doubling up to
// kMaxRetryBackoff, each delay drawn from its upper half), or the answer's
// Retry-After if longer. A new attempt starts only before the earlier of
// options.retry_timeout after the first attempt began and caller_deadline();
// a backoff or Retry-After that ends later stops the retries at once. A
// timed-out attempt is retried only if a whole further attempt
// (options.timeout) fits before that end. TLS failures and other statuses
// are never retried. Returns the last answer (HTTP error statuses are
// returned, not thrown); throws CredentialError when the last attempt got
// none (refused, DNS, TLS, timeout, body over the size cap), saying how many
// attempts were made.
[[nodiscard]] HttpResponse send(const HttpRequest& request, const HttpOptions& options);

inline constexpr std::chrono::milliseconds kFirstRetryBackoff{100};
inline constexpr std::chrono::milliseconds kMaxRetryBackoff{2'000};

// send(), then: a status outside 2xx throws CredentialError with the status
// and the API's error text ({"error_code","message"} or OAuth's
// {"error","error_description"}); a body that is not a JSON object throws
// CredentialError saying so.
[[nodiscard]] nlohmann::json send_for_json(const HttpRequest& request, const HttpOptions& options);

// How long a Retry-After value asks to wait: delta-seconds, or an HTTP-date
// (any form libcurl's curl_getdate reads) relative to `now` (0 if past).
// nullopt for an empty or unreadable value (then the backoff applies).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// Why `path` cannot serve as a CA bundle ("it does not exist", "it is a
// directory", "it cannot be read: ..."), or nullopt if it can be read.
// Whether it holds PEM certificates is left to the TLS library.
[[nodiscard]] std::optional<std::string> ca_file_problem(const std::string& path);

// How send() reads the time, sleeps and draws its jitter. A test hook:
// ScopedRetryTiming replaces it process-wide, so tests count attempts and
// check each delay asked for without sleeping.
struct RetryTiming {
  std::function<std::chrono::steady_clock::time_point()> now;
  // Only for Retry-After given as an HTTP-date.
  std::function<std::chrono::system_clock::time_point()> wall_now;
  std::function<void(std::chrono::milliseconds)> sleep;
  // Uniform in [0, 1).
  std::function<double()> jitter;
};

class ScopedRetryTiming {
 public:
  // Members left empty keep the real ones.
  explicit ScopedRetryTiming(RetryTiming timing);
  ~ScopedRetryTiming();
  ScopedRetryTiming(const ScopedRetryTiming&) = delete;
  ScopedRetryTiming& operator=(const ScopedRetryTiming&) = delete;

 private:
  std::shared_ptr<const RetryTiming> previous_;
};

// The error text an API put in `body`, secrets of `request` replaced by ***.
// For bodies that are not Databricks or OAuth error JSON, a bounded excerpt.
[[nodiscard]] std::string describe_error_body(const HttpRequest& request, std::string_view body);

// The text an answer of `request` must hold under `key`: a non-empty string
// without control characters (it becomes a password, a PostgreSQL role or a
// header). Otherwise CredentialError naming the call and the key.
[[nodiscard]] std::string required_text(const HttpRequest& request, const nlohmann::json& body,
                                        std::string_view key);

// "<call> (<METHOD> <url>)": the prefix of every message about `request`.
[[nodiscard]] std::string describe_call(const HttpRequest& request);

// `text` with every occurrence of the request's secrets (bearer token,
// basic password, "<basic_user>:<basic password>") in every encoding of
// detail/scrub.hpp replaced by ***.
[[nodiscard]] std::string scrub(const HttpRequest& request, std::string text);

// At most the first `max_bytes` of `text`, scrubbed, for a message that
// quotes a part of it: never a secret's encoding, not even the part of one
// that the cut at `max_bytes` went through (a margin before the cut is
// dropped when `text` is longer). Bounds the work on a large hostile body.
[[nodiscard]] std::string scrubbed_prefix(const HttpRequest& request, std::string_view text,
                                          std::size_t max_bytes);

// application/x-www-form-urlencoded encoding of one value.
[[nodiscard]] std::string form_encode(std::string_view value);

}  // namespace pgobo::databricks::detail
