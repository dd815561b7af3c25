#include "pgobo/databricks/lakebase.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
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

LakebaseCredentials::LakebaseCredentials(Options options) : options_(std::move(options)) {
  url_ = normalize_workspace_url(options_.workspace_url, "workspace URL") +
         "/api/2.0/postgres/credentials";
  validate_lakebase_endpoint(options_.endpoint, "Lakebase endpoint");
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
  request.json_body = nlohmann::json{{"endpoint", options_.endpoint}}.dump();
  if (has_control_character(bearer.reveal())) {
    throw CredentialError(detail::describe_call(request) +
                          ": the workspace token contains a control character (CR, LF, NUL...)");
  }
  const nlohmann::json body = detail::send_for_json(request, options_.http);

  Secret token(detail::required_text(request, body, "token"));
  const auto expire_time = body.find("expire_time");
  if (expire_time == body.end() || !expire_time->is_string()) {
    throw CredentialError(detail::describe_call(request) +
                          " returned no expire_time (expected an RFC 3339 time string)");
  }
  // A refused time is quoted (its first bytes) in the error, and a
  // misbehaving server may have put the bearer token it was sent there, in
  // any encoding: scrub the text before it is cut, so no prefix of a long
  // token survives the cut (scrubbed_prefix; an over-long text keeps a
  // "..." so that the cut can never make it a valid time). A real time
  // contains no token and parses the same.
  const std::string& time_text = expire_time->get_ref<const std::string&>();
  std::string scrubbed_time = detail::scrubbed_prefix(request, time_text, 4096);
  if (time_text.size() > 4096) scrubbed_time += "...";
  const std::chrono::system_clock::time_point expires_at =
      pgobo::detail::parse_rfc3339(scrubbed_time, detail::describe_call(request) + " expire_time");
  return Credential{std::move(token), expires_at};
}

std::shared_ptr<CachedCredentials> make_lakebase_credentials(LakebaseCredentials::Options options,
                                                             CachedCredentials::Options cache) {
  if (cache.name == CachedCredentials::Options{}.name) cache.name = "lakebase";
  return std::make_shared<CachedCredentials>(
      std::make_shared<LakebaseCredentials>(std::move(options)), std::move(cache));
}

}  // namespace pgobo::databricks
