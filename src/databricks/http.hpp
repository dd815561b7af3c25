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
// Every failure is a CredentialError whose message names the call, the method
// and URL, and the HTTP status with the API's own error text. The bearer token,
// the basic-auth password and the Authorization header never appear in a
// message: any occurrence of a secret in an error text, in any encoding
// (detail/scrub.hpp: base64 of the Basic pair, percent, JSON...), is
// replaced by ***. A URL with a user name or password, or http:// to a host
// that is not loopback, is refused before connecting.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
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
};

// Sends the request. Throws CredentialError when no HTTP response arrives
// (refused, DNS, TLS, timeout, body over the size cap). HTTP error statuses
// are returned, not thrown.
[[nodiscard]] HttpResponse send(const HttpRequest& request, const HttpOptions& options);

// send(), then: a status outside 2xx throws CredentialError with the status
// and the API's error text ({"error_code","message"} or OAuth's
// {"error","error_description"}); a body that is not a JSON object throws
// CredentialError saying so.
[[nodiscard]] nlohmann::json send_for_json(const HttpRequest& request, const HttpOptions& options);

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
