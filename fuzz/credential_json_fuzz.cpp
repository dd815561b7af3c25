// Fuzzes how pgobo reads the workspace's answers (lakebase.hpp,
// workspace.hpp): the Lakebase database credential, the service principal's
// OAuth token and SCIM Me, through their public functions, against an
// in-process HTTP server on 127.0.0.1 that answers with the fuzz input.
//
// Input: byte 0 picks the call (credential, OAuth, SCIM) and byte 1 the HTTP
// status (200, 400, 401, 404, 500, 503); the rest is the response body.
//
// Properties:
// - Only CredentialError is thrown, and its message never holds the secret
//   the call sent (bearer token or client secret), even when the body echoes
//   it; it is one line and bounded.
// - An accepted credential or token is non-empty and free of control
//   characters; a Lakebase credential always has an expiry.
// - Only a 2xx status can succeed.
// - pgobo's log, captured at trace level, never holds that secret either.
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"

namespace {

// Distinctive secrets the seed corpus echoes in error bodies.
constexpr std::string_view kBearer = "dapi-fuzz-bearer-Qm7Zt2";
constexpr std::string_view kClientSecret = "fuzz-client-secret-Vx94Lp";
constexpr std::string_view kEndpoint = "projects/app/branches/main/endpoints/primary";
constexpr std::array<int, 6> kStatuses{200, 400, 401, 404, 500, 503};

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "credential_json_fuzz: %s: %.*s\n", what,
               static_cast<int>(detail.size() > 300 ? 300 : detail.size()), detail.data());
  std::abort();
}

bool has_control(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// The server answers every request with the current status and body.
class Workspace {
 public:
  Workspace() {
    const auto answer = [this](const httplib::Request&, httplib::Response& res) {
      const std::lock_guard lock(mutex_);
      res.status = status_;
      res.set_content(body_, "application/json");
    };
    server_.Post("/oidc/v1/token", answer);
    server_.Post("/api/2.0/postgres/credentials", answer);
    server_.Get("/api/2.0/preview/scim/v2/Me", answer);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) fail("cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  ~Workspace() {
    server_.stop();
    thread_.join();
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  void answer_with(int status, std::string body) {
    const std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::move(body);
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  int status_ = 200;
  std::string body_;
};

Workspace& workspace() {
  static Workspace* instance = new Workspace();  // lives until exit: libFuzzer never returns
  return *instance;
}

pgobo::databricks::HttpOptions http_options() {
  pgobo::databricks::HttpOptions http;
  http.connect_timeout = std::chrono::milliseconds{2'000};
  http.timeout = std::chrono::milliseconds{5'000};
  http.max_response_bytes = 64 * 1024;
  // One attempt per input: a 503 (one input in six) would otherwise be
  // retried with real backoff sleeps for up to 5 s against the same answer,
  // and the 20,000-input smoke ran for hours (the CI run that passed 5400 s).
  // Retries are tested in tests/unit/http_retry_test.cpp.
  http.retry_timeout = std::chrono::milliseconds{0};
  return http;
}

// `secret` is the one the call sent (a body may quote anything else).
void check_message(std::string_view message, std::string_view secret) {
  if (message.find(secret) != std::string_view::npos) fail("message shows the secret", message);
  if (message.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    fail("line break or NUL in message", message);
  }
  if (message.size() > 1200) fail("message longer than 1200 bytes", message);
}

void check_secret(const pgobo::Secret& secret) {
  if (secret.empty()) fail("accepted an empty token");
  if (has_control(secret.reveal())) fail("accepted a token with a control character");
}

// pgobo's log lines, at trace level, for the secret check.
std::ostringstream& log_lines() {
  static auto* lines = new std::ostringstream();
  return *lines;
}

void check_log(std::string_view secret) {
  const std::string text = log_lines().str();
  if (text.find(secret) != std::string::npos) fail("the log shows the secret", text);
  log_lines().str({});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto capturing = std::make_shared<spdlog::logger>(
      "pgobo", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_lines()));
  capturing->set_level(spdlog::level::trace);
  pgobo::set_logger(std::move(capturing));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int call = data[0] % 3;
  const int status = kStatuses[data[1] % kStatuses.size()];
  const std::string_view secret = call == 1 ? kClientSecret : kBearer;
  workspace().answer_with(status, std::string(reinterpret_cast<const char*>(data) + 2, size - 2));

  try {
    switch (call) {
      case 0: {
        pgobo::databricks::LakebaseCredentials credentials(
            {workspace().url(), std::string(kEndpoint),
             std::make_shared<pgobo::databricks::PersonalAccessToken>(
                 pgobo::Secret(std::string(kBearer))),
             http_options()});
        const pgobo::Credential credential = credentials.get();
        check_secret(credential.secret);
        if (!credential.expires_at) fail("a Lakebase credential without an expiry");
        break;
      }
      case 1: {
        pgobo::databricks::ServicePrincipalOAuth::Options options;
        options.workspace_url = workspace().url();
        options.client_id = "fuzz-client";
        options.client_secret = pgobo::Secret(std::string(kClientSecret));
        options.http = http_options();
        pgobo::databricks::ServicePrincipalOAuth oauth(std::move(options));
        check_secret(oauth.token());
        break;
      }
      default: {
        pgobo::databricks::PersonalAccessToken token{pgobo::Secret(std::string(kBearer))};
        const std::string user =
            pgobo::databricks::fetch_current_user_name(workspace().url(), token, http_options());
        if (user.empty() || has_control(user)) fail("accepted an empty or control user name");
        break;
      }
    }
    if (status < 200 || status > 299) fail("accepted an answer with an error status");
  } catch (const pgobo::CredentialError& e) {
    check_message(e.what(), secret);
  } catch (const std::exception& e) {
    fail("an exception other than CredentialError", e.what());
  }
  check_log(secret);
  return 0;
}
