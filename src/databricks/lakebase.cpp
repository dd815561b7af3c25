#include "pgobo/databricks/lakebase.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>
#include <system_error>
#include <utility>

#include "databricks/http.hpp"
#include "pgobo/errors.hpp"
#include "rfc3339.hpp"
#include "text.hpp"

namespace pgobo::databricks {
namespace {

// The workspace token goes into an Authorization header line, the database
// token into a conninfo: neither may hold CR, LF, NUL or other controls.
using pgobo::detail::has_control_character;  // text.hpp

// The two credential APIs. Both take bearer auth with a workspace token and
// answer a JSON object with "token" and an RFC 3339 expiry; they differ in
// the path, the request body and the name of the expiry.
//
// Endpoints (Lakebase Autoscaling): POST /api/2.0/postgres/credentials
// {"endpoint": "projects/p/branches/b/endpoints/e"} → {"token", "expire_time"}
// (databricks-sdk-py w.postgres.generate_database_credential).
//
// Instances (Lakebase Provisioned): POST /api/2.0/database/credentials
// (docs.databricks.com/api/database/v1/generate-database-credential;
// databricks-sdk-py w.database.generate_database_credential, databricks-sdk-go
// service/database GenerateDatabaseCredentialRequest / DatabaseCredential):
//   request  {"instance_names": [string], "request_id": string,
//             "claims": [{"permission_set", "resources"}]}; every field is
//             optional, but "at least one of instance_names or claims must be
//             specified"; both SDKs fill an empty request_id with a fresh
//             UUID v4. pgobo sends instance_names and request_id, never
//             claims (extra UC grants in the token: not a pool's business).
//   answer   {"token": string, "expiration_time": string}. The reference
//             and both SDKs type the time as a plain string (the endpoints'
//             expire_time is a time.Time in the Go SDK: RFC 3339), and give
//             no format; callers read it as ISO 8601 with a "Z"
//             (Python's datetime.fromisoformat after "Z" → "+00:00"). It is
//             parsed as RFC 3339 like expire_time, and any other text is a
//             CredentialError: an unreadable expiry must not be cached as if
//             the token never expired.
struct CredentialApi {
  std::string_view path;
  std::string_view expiry_key;
};
constexpr CredentialApi kEndpointApi{"/api/2.0/postgres/credentials", "expire_time"};
constexpr CredentialApi kInstanceApi{"/api/2.0/database/credentials", "expiration_time"};

const CredentialApi& api_of(const LakebaseCredentials::Options& options) {
  return options.instance_name.empty() ? kEndpointApi : kInstanceApi;
}

// A random (version 4) UUID in its 36-character text form, for the instance
// API's request_id. That id is an idempotency key: a request sent again with
// the same id may be answered with the first one's credential, so each
// request needs its own. It has to be unique, not secret or unguessable: it
// travels next to the bearer token that alone authorises the call, and
// knowing someone's id lets nobody do anything with it. So <random> is good
// enough and the core needs no cryptographic generator (no OpenSSL):
// std::random_device draws from the kernel's generator on Linux (getrandom,
// /dev/urandom or the CPU's), freshly per id, so ids from different threads
// and from forked processes never repeat one another's sequence, as a
// seeded engine's copies would. 122 random bits: no collision in practice.
std::string random_uuid_v4() {
  std::random_device device;
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    const auto word = static_cast<std::uint32_t>(device());
    for (std::size_t j = 0; j < 4; ++j) {
      bytes[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
    }
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0fU) | 0x40U);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3fU) | 0x80U);  // variant 10 (RFC 9562)
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kHex[bytes[i] >> 4U];
    text += kHex[bytes[i] & 0x0fU];
  }
  return text;
}

// The JSON body that asks for a credential for the database `options` names.
std::string request_body(const LakebaseCredentials::Options& options,
                         const detail::HttpRequest& request) {
  if (options.instance_name.empty()) {
    return nlohmann::json{{"endpoint", options.endpoint}}.dump();
  }
  std::string request_id;
  try {
    request_id = random_uuid_v4();
  } catch (const std::exception& e) {  // no random device: std::system_error and kin
    throw CredentialError(detail::describe_call(request) +
                          ": cannot draw a random request_id: " + e.what());
  }
  return nlohmann::json{{"instance_names", nlohmann::json::array({options.instance_name})},
                        {"request_id", std::move(request_id)}}
      .dump();
}

}  // namespace

void validate_lakebase_endpoint(std::string_view endpoint, std::string_view what) {
  static constexpr std::array<std::string_view, 3> kCollections{"projects", "branches",
                                                                "endpoints"};
  const auto reject = [&what]() {
    throw ConfigError(fmt::format(
        "{}: expected projects/<project>/branches/<branch>/endpoints/<endpoint>", what));
  };
  if (endpoint.empty()) {
    throw ConfigError(fmt::format(
        "{} is empty: expected projects/<project>/branches/<branch>/endpoints/<endpoint>", what));
  }
  std::string_view rest = endpoint;
  for (std::size_t i = 0; i < kCollections.size(); ++i) {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || rest.substr(0, slash) != kCollections[i]) reject();
    rest.remove_prefix(slash + 1);
    const auto next = rest.find('/');
    const std::string_view id = rest.substr(0, next);
    if (id.empty()) reject();
    for (char c : id) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) reject();
    }
    if (i + 1 < kCollections.size()) {
      if (next == std::string_view::npos) reject();
      rest.remove_prefix(next + 1);
    } else if (next != std::string_view::npos) {
      reject();
    }
  }
}

void validate_lakebase_instance_name(std::string_view instance_name, std::string_view what) {
  // Databricks' rule for a database instance's name: "1-63 characters,
  // letters and hyphens only" (docs.databricks.com/aws/en/oltp/create).
  // Digits are accepted too: a rule stricter than the workspace's would lock
  // out an instance that exists, a looser one only defers the error to a 404.
  static constexpr std::size_t kMaxLength = 63;
  static constexpr std::string_view kExpected =
      "expected a database instance name: 1 to 63 letters, digits and hyphens";
  if (instance_name.empty()) throw ConfigError(fmt::format("{} is empty: {}", what, kExpected));
  if (instance_name.size() > kMaxLength) {
    throw ConfigError(
        fmt::format("{} is {} characters long: {}", what, instance_name.size(), kExpected));
  }
  for (const char c : instance_name) {
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!allowed) {
      throw ConfigError(fmt::format("{}: {}; got '{}'", what, kExpected,
                                    pgobo::detail::printable_excerpt(instance_name)));
    }
  }
}

LakebaseCredentials::LakebaseCredentials(Options options) : options_(std::move(options)) {
  const bool has_endpoint = !options_.endpoint.empty();
  const bool has_instance = !options_.instance_name.empty();
  if (has_endpoint && has_instance) {
    throw ConfigError(
        "LakebaseCredentials: both endpoint and instance_name are set: set exactly one (an "
        "Autoscaling endpoint or a Provisioned database instance)");
  }
  if (!has_endpoint && !has_instance) {
    throw ConfigError(
        "LakebaseCredentials: neither endpoint nor instance_name is set: set exactly one (an "
        "Autoscaling endpoint projects/<project>/branches/<branch>/endpoints/<endpoint>, or a "
        "Provisioned database instance's name)");
  }
  url_ = normalize_workspace_url(options_.workspace_url, "workspace URL") +
         std::string(api_of(options_).path);
  if (has_instance) {
    validate_lakebase_instance_name(options_.instance_name, "Lakebase instance name");
  } else {
    validate_lakebase_endpoint(options_.endpoint, "Lakebase endpoint");
  }
  if (!options_.workspace_token) {
    throw ConfigError("LakebaseCredentials: workspace_token is null");
  }
}

Credential LakebaseCredentials::get() {
  const Secret bearer = options_.workspace_token->token();
  detail::HttpRequest request;
  request.call = "Lakebase database credential request";
  request.method = "POST";
  request.url = url_;
  request.bearer = &bearer;
  if (has_control_character(bearer.reveal())) {
    throw CredentialError(detail::describe_call(request) +
                          ": the workspace token contains a control character (CR, LF, NUL...)");
  }
  request.json_body = request_body(options_, request);
  const nlohmann::json body = detail::send_for_json(request, options_.http);

  Secret token(detail::required_text(request, body, "token"));
  const std::string expiry_key(api_of(options_).expiry_key);
  const auto expiry = body.find(expiry_key);
  if (expiry == body.end() || !expiry->is_string()) {
    throw CredentialError(detail::describe_call(request) + " returned no " + expiry_key +
                          " (expected an RFC 3339 time string)");
  }
  // A refused time is quoted (its first bytes) in the error, and a
  // misbehaving server may have put the bearer token it was sent there, in
  // any encoding: scrub the text before it is cut, so no prefix of a long
  // token survives the cut (scrubbed_prefix; an over-long text keeps a
  // "..." so that the cut can never make it a valid time). A real time
  // contains no token and parses the same.
  const std::string& time_text = expiry->get_ref<const std::string&>();
  std::string scrubbed_time = detail::scrubbed_prefix(request, time_text, 4096);
  if (time_text.size() > 4096) scrubbed_time += "...";
  const std::chrono::system_clock::time_point expires_at = pgobo::detail::parse_rfc3339(
      scrubbed_time, detail::describe_call(request) + " " + expiry_key);
  return Credential{std::move(token), expires_at};
}

std::shared_ptr<CachedCredentials> make_lakebase_credentials(LakebaseCredentials::Options options,
                                                             CachedCredentials::Options cache) {
  if (cache.name == CachedCredentials::Options{}.name) cache.name = "lakebase";
  return std::make_shared<CachedCredentials>(
      std::make_shared<LakebaseCredentials>(std::move(options)), std::move(cache));
}

}  // namespace pgobo::databricks
