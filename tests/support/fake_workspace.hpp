// A fake Databricks workspace for tests: a real HTTP server on 127.0.0.1
// (cpp-httplib) with the three endpoints pgobo calls.
//
//   pgobo::test::FakeWorkspace workspace;                 // listens at workspace.url()
//   std::string pat = workspace.add_token_for("alice@example.com");
//   workspace.fail_next(FakeWorkspace::Endpoint::database_credential, {500,
//   R"({"error_code":"INTERNAL_ERROR","message":"boom"})"});
//   workspace.hold(FakeWorkspace::Endpoint::database_credential);   // requests wait…
//   workspace.wait_until_held(FakeWorkspace::Endpoint::database_credential, 1);
//   workspace.release(FakeWorkspace::Endpoint::database_credential); // …until released
//   EXPECT_EQ(workspace.calls(FakeWorkspace::Endpoint::database_credential), 1);
//
// Over HTTPS, with a certificate made at test time (test_ca.hpp):
//   TestCa ca;
//   FakeWorkspace::Options options;
//   options.tls = FakeWorkspace::Tls{ca.issue("127.0.0.1", {}, {"127.0.0.1"}), "127.0.0.1"};
//   FakeWorkspace secure(options);                       // url(): https://127.0.0.1:<port>
//
// Busy answers, for retry tests (attempts are counted by calls()):
//   workspace.fail_next(Endpoint::database_credential, FakeWorkspace::busy(503, "2"), 2);
//
// Outages, for fault tests (until undone):
//   workspace.stop_listening();   // down: connections to url() are refused
//   workspace.start_listening();  // up again, same port
//   workspace.set_latency(FakeWorkspace::Endpoint::database_credential, 2s);  // slow
//   workspace.wait_until_answered(FakeWorkspace::Endpoint::database_credential);
//   workspace.set_sticky_fault(FakeWorkspace::Endpoint::database_credential,
//                              FakeWorkspace::garbage());  // every answer is garbage
//   workspace.set_sticky_fault(FakeWorkspace::Endpoint::database_credential, std::nullopt);
//
// Endpoints, as the real workspace answers them:
//   POST /oidc/v1/token                    client_credentials with HTTP basic auth
//                                          → {"access_token","token_type","expires_in","scope"}
//   POST /api/2.0/postgres/credentials     bearer auth, {"endpoint": …}
//                                          → {"token","expire_time"} (RFC 3339)
//   POST /api/2.0/database/credentials     bearer auth, {"instance_names": [...],
//                                          "request_id": …} (Lakebase Provisioned)
//                                          → {"token","expiration_time"} (RFC 3339)
//   GET  /api/2.0/preview/scim/v2/Me       bearer auth → {"userName", …}
// Errors use Databricks' shape {"error_code","message"} (OAuth's {"error",
// "error_description"} on the token endpoint).
//
// Every token it issues is distinctive and random, and listed by secrets(),
// so a test can assert none of them ever reaches a log line or a message.
// LogCapture (log_capture.hpp) installs a trace-level capturing logger for that.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "log_capture.hpp"  // FakeWorkspaceTest logs the whole run
#include "secret_guard.hpp"
#include "test_ca.hpp"

namespace pgobo::test {

class FakeWorkspace {
 public:
  enum class Endpoint {
    oauth_token = 0,
    database_credential = 1,
    current_user = 2,
    database_instance_credential = 3
  };
  static constexpr std::size_t kEndpoints = 4;

  // A canned error (or malformed) answer.
  struct Fault {
    int status = 500;
    std::string body = R"({"error_code":"INTERNAL_ERROR","message":"fake failure"})";
    std::string content_type = "application/json";
    // Extra header lines of the answer, e.g. {"Retry-After", "2"}.
    std::vector<std::pair<std::string, std::string>> headers = {};
  };

  // Serving HTTPS: the server's certificate and key, and the host name
  // url() uses (the certificate may be for another one, to test that).
  struct Tls {
    TestCa::Issued certificate;
    std::string host = "127.0.0.1";
  };

  struct Options {
    // The service principal: OAuth client credentials, and the user name
    // (PostgreSQL role) its tokens belong to.
    std::string client_id = "fake-sp-client-id";
    std::string client_secret = "fake-client-secret-" + random_suffix();
    std::string service_principal_user = "fake-sp-client-id";
    // The one Lakebase endpoint this workspace knows.
    std::string endpoint = "projects/app/branches/main/endpoints/primary";
    // The Lakebase Provisioned database instances this workspace knows.
    std::vector<std::string> instance_names{"app-instance"};
    std::chrono::seconds oauth_token_lifetime{3600};
    std::chrono::milliseconds database_token_lifetime{std::chrono::hours{1}};
    // The workspace's idea of now, for expiries it issues and checks. A test
    // that gives pgobo a fake clock gives the workspace the same one.
    std::function<std::chrono::system_clock::time_point()> clock = [] {
      return std::chrono::system_clock::now();
    };
    // Set: HTTPS only, with this certificate.
    std::optional<Tls> tls;
  };

  FakeWorkspace() : FakeWorkspace(Options{}) {}
  explicit FakeWorkspace(Options options)
      : options_(std::move(options)),
        owned_server_(make_server(options_)),
        server_(*owned_server_) {
    secrets_.push_back(options_.client_secret);
    server_.Get("/ready", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    server_.Post("/oidc/v1/token", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Endpoint::oauth_token, req, res, [this](const auto& rq, auto& rs) { oauth(rq, rs); });
    });
    server_.Post("/api/2.0/postgres/credentials",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   handle(Endpoint::database_credential, req, res,
                          [this](const auto& rq, auto& rs) { database_credential(rq, rs); });
                 });
    server_.Post("/api/2.0/database/credentials", [this](const httplib::Request& req,
                                                         httplib::Response& res) {
      handle(Endpoint::database_instance_credential, req, res,
             [this](const auto& rq, auto& rs) { database_instance_credential(rq, rs); });
    });
    server_.Get("/api/2.0/preview/scim/v2/Me",
                [this](const httplib::Request& req, httplib::Response& res) {
                  handle(Endpoint::current_user, req, res,
                         [this](const auto& rq, auto& rs) { current_user(rq, rs); });
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("FakeWorkspace: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    await_ready();
  }

  ~FakeWorkspace() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      held_.fill(false);
    }
    changed_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  FakeWorkspace(const FakeWorkspace&) = delete;
  FakeWorkspace& operator=(const FakeWorkspace&) = delete;

  [[nodiscard]] std::string url() const {
    if (options_.tls) return "https://" + options_.tls->host + ":" + std::to_string(port_);
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const Options& options() const { return options_; }

  // A new workspace token (a PAT, or a user's forwarded OAuth token) that
  // belongs to `user_name`.
  std::string add_token_for(const std::string& user_name) {
    const std::lock_guard lock(mutex_);
    std::string token = "dapi-fake-" + std::to_string(++serial_) + "-" + random_suffix();
    tokens_[token] = TokenInfo{user_name, std::nullopt};
    secrets_.push_back(token);
    return token;
  }

  // Makes `token` unknown: requests with it get 401.
  void revoke(const std::string& token) {
    const std::lock_guard lock(mutex_);
    tokens_.erase(token);
  }

  // The next `times` requests to `endpoint` get `fault` instead of an answer.
  void fail_next(Endpoint endpoint, Fault fault, int times = 1) {
    const std::lock_guard lock(mutex_);
    for (int i = 0; i < times; ++i) faults_[index(endpoint)].push_back(fault);
  }

  // Every request to `endpoint` gets `fault` (nullopt: answers again), until
  // changed; unlike fail_next(), for an outage of unknown length. Queued
  // fail_next() faults go first.
  void set_sticky_fault(Endpoint endpoint, std::optional<Fault> fault) {
    const std::lock_guard lock(mutex_);
    sticky_faults_[index(endpoint)] = std::move(fault);
  }

  // The workspace is busy: HTTP 429 (REQUEST_LIMIT_EXCEEDED) or 503
  // (TEMPORARILY_UNAVAILABLE), with a Retry-After header when `retry_after`
  // is not empty.
  static Fault busy(int status, const std::string& retry_after = "") {
    Fault fault;
    fault.status = status;
    fault.body = status == 429
                     ? R"({"error_code":"REQUEST_LIMIT_EXCEEDED","message":"rate limit exceeded"})"
                     : R"({"error_code":"TEMPORARILY_UNAVAILABLE","message":"try again later"})";
    if (!retry_after.empty()) fault.headers.emplace_back("Retry-After", retry_after);
    return fault;
  }

  // An answer that is not what the API returns: 200 with an HTML error page,
  // as a misconfigured proxy in front of the workspace would send.
  static Fault garbage() {
    return Fault{200, "<html><body><h1>502 Bad Gateway</h1>\x01\xff</body></html>", "text/html"};
  }

  // Requests to `endpoint` are answered only after `latency` (0: at once):
  // a slow workspace. Counted when they arrive.
  void set_latency(Endpoint endpoint, std::chrono::milliseconds latency) {
    {
      const std::lock_guard lock(mutex_);
      latency_[index(endpoint)] = latency;
    }
    changed_.notify_all();  // requests already waiting use the new latency
  }

  // The workspace goes down: the listening socket closes, so new connections
  // to url() are refused (requests in progress finish). Idempotent.
  void stop_listening() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Up again on the same port (url() is unchanged), once it answers.
  void start_listening() {
    if (thread_.joinable()) return;
    if (!server_.bind_to_port("127.0.0.1", port_)) {
      throw std::runtime_error("FakeWorkspace: cannot listen on port " + std::to_string(port_) +
                               " again");
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    await_ready();
  }

  // Requests to `endpoint` wait (after being counted) until release().
  void hold(Endpoint endpoint) {
    const std::lock_guard lock(mutex_);
    held_[index(endpoint)] = true;
  }
  void release(Endpoint endpoint) {
    {
      const std::lock_guard lock(mutex_);
      held_[index(endpoint)] = false;
    }
    changed_.notify_all();
  }
  // Blocks until `count` requests are waiting at a held `endpoint` (or 10 s).
  // Waits (at most 10 s) until no request to `endpoint` is being handled:
  // e.g. after a slow outage, for the requests whose callers gave up but
  // which still issue a credential (and run on_database_credential) when
  // their latency ends. False on timeout.
  bool wait_until_answered(Endpoint endpoint) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return in_flight_[index(endpoint)] == 0; });
  }

  bool wait_until_held(Endpoint endpoint, int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds{10},
                             [&] { return waiting_[index(endpoint)] >= count; });
  }

  // The expire_time (instances: expiration_time) text of the next database
  // credentials (nullopt: now + database_token_lifetime, formatted with
  // milliseconds and Z).
  void set_expire_time_text(std::optional<std::string> text) {
    const std::lock_guard lock(mutex_);
    expire_time_text_ = std::move(text);
  }
  void set_database_token_lifetime(std::chrono::milliseconds lifetime) {
    const std::lock_guard lock(mutex_);
    options_.database_token_lifetime = lifetime;
  }

  // Called with (user name, token) before a database credential is returned,
  // e.g. to make the token that role's PostgreSQL password. If it throws,
  // the request gets HTTP 500.
  void on_database_credential(
      std::function<void(const std::string& user, const std::string& token)> hook) {
    const std::lock_guard lock(mutex_);
    on_database_credential_ = std::move(hook);
  }

  [[nodiscard]] int calls(Endpoint endpoint) const {
    const std::lock_guard lock(mutex_);
    return calls_[index(endpoint)];
  }
  [[nodiscard]] std::string last_body(Endpoint endpoint) const {
    const std::lock_guard lock(mutex_);
    return last_body_[index(endpoint)];
  }
  [[nodiscard]] std::string last_authorization(Endpoint endpoint) const {
    const std::lock_guard lock(mutex_);
    return last_authorization_[index(endpoint)];
  }
  // Users database credentials were issued for, in order.
  [[nodiscard]] std::vector<std::string> database_credential_users() const {
    const std::lock_guard lock(mutex_);
    return database_users_;
  }
  [[nodiscard]] std::vector<std::string> database_tokens() const {
    const std::lock_guard lock(mutex_);
    return database_tokens_;
  }
  // The request_id of every request to database_instance_credential that got
  // past authentication, in order ("" when the body had none).
  [[nodiscard]] std::vector<std::string> instance_request_ids() const {
    const std::lock_guard lock(mutex_);
    return instance_request_ids_;
  }
  // The client secret and every token issued or added so far.
  [[nodiscard]] std::vector<std::string> secrets() const {
    const std::lock_guard lock(mutex_);
    return secrets_;
  }

  static std::string random_suffix() {
    static std::mutex mutex;
    static std::mt19937_64 generator{std::random_device{}()};
    const std::lock_guard lock(mutex);
    static constexpr char kAlphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    std::string out;
    for (int i = 0; i < 24; ++i) out += kAlphabet[generator() % (sizeof(kAlphabet) - 1)];
    return out;
  }

  // RFC 3339 in UTC with milliseconds, written independently of pgobo's own
  // formatter so the parser is not tested against itself.
  static std::string rfc3339(std::chrono::system_clock::time_point t) {
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(millis.count() / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[40];
    const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buffer, n) + "." + std::to_string(1000 + millis.count() % 1000).substr(1) +
           "Z";
  }

 private:
  struct TokenInfo {
    std::string user;
    std::optional<std::chrono::system_clock::time_point> expires_at;
  };

  static std::size_t index(Endpoint endpoint) { return static_cast<std::size_t>(endpoint); }

  static std::unique_ptr<httplib::Server> make_server(const Options& options) {
    if (!options.tls) return std::make_unique<httplib::Server>();
    auto server = std::make_unique<httplib::SSLServer>(options.tls->certificate.cert_file.c_str(),
                                                       options.tls->certificate.key_file.c_str());
    if (!server->is_valid()) {
      throw std::runtime_error("FakeWorkspace: cannot load the TLS certificate or key");
    }
    return server;
  }

  // The socket already listens; one request proves the accept loop runs, so
  // a later stop() cannot race with its start. (The probe trusts any
  // certificate: it checks the server, not the certificate.)
  void await_ready() {
    httplib::Client probe((options_.tls ? "https://127.0.0.1:" : "http://127.0.0.1:") +
                          std::to_string(port_));
    probe.enable_server_certificate_verification(false);
    if (!probe.Get("/ready")) {
      server_.stop();
      thread_.join();
      throw std::runtime_error("FakeWorkspace: the server did not answer");
    }
  }

  static void error(httplib::Response& res, int status, const std::string& code,
                    const std::string& message) {
    res.status = status;
    res.set_content(nlohmann::json{{"error_code", code}, {"message", message}}.dump(),
                    "application/json");
  }

  // Counts the call, records it, applies holds and faults, then answers.
  template <class Answer>
  void handle(Endpoint endpoint, const httplib::Request& req, httplib::Response& res,
              Answer answer) {
    // Counted until the answer is built (hooks such as on_database_credential
    // included), for wait_until_answered().
    struct InFlight {
      FakeWorkspace& self;
      std::size_t i;
      ~InFlight() {
        const std::lock_guard lock(self.mutex_);
        --self.in_flight_[i];
        self.changed_.notify_all();
      }
    };
    {
      const std::lock_guard lock(mutex_);
      ++in_flight_[index(endpoint)];
    }
    const InFlight in_flight{*this, index(endpoint)};
    std::optional<Fault> fault;
    {
      std::unique_lock lock(mutex_);
      const std::size_t i = index(endpoint);
      ++calls_[i];
      last_body_[i] = req.body;
      last_authorization_[i] = req.get_header_value("Authorization");
      if (held_[i]) {
        ++waiting_[i];
        changed_.notify_all();
        changed_.wait(lock, [&] { return !held_[i] || stopping_; });
        --waiting_[i];
      }
      if (latency_[i].count() > 0) {
        // Interruptible, so the destructor never waits out a long latency.
        const auto arrived = std::chrono::steady_clock::now();
        changed_.wait_until(lock, arrived + latency_[i], [&] {
          return stopping_ || std::chrono::steady_clock::now() >= arrived + latency_[i];
        });
      }
      if (!faults_[i].empty()) {
        fault = faults_[i].front();
        faults_[i].erase(faults_[i].begin());
      } else if (sticky_faults_[i]) {
        fault = sticky_faults_[i];
      }
    }
    if (fault) {
      res.status = fault->status;
      for (const auto& [name, value] : fault->headers) res.set_header(name, value);
      res.set_content(fault->body, fault->content_type.c_str());
      return;
    }
    answer(req, res);
  }

  // The user a bearer token belongs to, or nullopt (unknown or expired).
  std::optional<std::string> bearer_user(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    const std::lock_guard lock(mutex_);
    const auto it = tokens_.find(header.substr(prefix.size()));
    if (it == tokens_.end()) return std::nullopt;
    if (it->second.expires_at && *it->second.expires_at <= options_.clock()) {
      return std::nullopt;
    }
    return it->second.user;
  }

  static std::map<std::string, std::string> parse_form(const std::string& body) {
    std::map<std::string, std::string> out;
    auto decode = [](const std::string& s) {
      std::string d;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
          d += ' ';
        } else if (s[i] == '%' && i + 2 < s.size()) {
          d += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          d += s[i];
        }
      }
      return d;
    };
    std::stringstream in(body);
    std::string pair;
    while (std::getline(in, pair, '&')) {
      const auto eq = pair.find('=');
      if (eq == std::string::npos) continue;
      out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
    }
    return out;
  }

  void oauth(const httplib::Request& req, httplib::Response& res) {
    const auto expected =
        httplib::make_basic_authentication_header(options_.client_id, options_.client_secret);
    if (req.get_header_value("Authorization") != expected.second) {
      res.status = 401;
      res.set_content(
          R"({"error":"invalid_client","error_description":"Client authentication failed"})",
          "application/json");
      return;
    }
    const auto form = parse_form(req.body);
    const auto grant = form.find("grant_type");
    if (grant == form.end() || grant->second != "client_credentials") {
      res.status = 400;
      res.set_content(
          R"({"error":"unsupported_grant_type","error_description":"expected client_credentials"})",
          "application/json");
      return;
    }
    std::string token;
    {
      const std::lock_guard lock(mutex_);
      token = "sp-oauth-fake-" + std::to_string(++serial_) + "-" + random_suffix();
      tokens_[token] = TokenInfo{options_.service_principal_user,
                                 options_.clock() + options_.oauth_token_lifetime};
      secrets_.push_back(token);
    }
    const auto scope = form.find("scope");
    res.set_content(nlohmann::json{{"access_token", token},
                                   {"token_type", "Bearer"},
                                   {"expires_in", options_.oauth_token_lifetime.count()},
                                   {"scope", scope == form.end() ? "" : scope->second}}
                        .dump(),
                    "application/json");
  }

  void database_credential(const httplib::Request& req, httplib::Response& res) {
    const auto user = bearer_user(req);
    if (!user) {
      error(res, 401, "UNAUTHENTICATED", "Invalid access token.");
      return;
    }
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("endpoint") || !body["endpoint"].is_string()) {
      error(res, 400, "INVALID_PARAMETER_VALUE", "Field 'endpoint' is required.");
      return;
    }
    if (body["endpoint"] != options_.endpoint) {
      error(res, 404, "NOT_FOUND",
            "Endpoint '" + body["endpoint"].get<std::string>() + "' does not exist.");
      return;
    }
    issue_database_credential(*user, "expire_time", res);
  }

  // POST /api/2.0/database/credentials: Lakebase Provisioned. request_id is
  // taken as an idempotency key (the API reference only names the field; the
  // SDKs send a fresh UUID per call): the same id from the same user is
  // answered with the first answer again, so a client that reused one would
  // keep getting an old token.
  void database_instance_credential(const httplib::Request& req, httplib::Response& res) {
    const auto user = bearer_user(req);
    if (!user) {
      error(res, 401, "UNAUTHENTICATED", "Invalid access token.");
      return;
    }
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    const auto names = body.is_object() ? body.find("instance_names") : body.end();
    if (!body.is_object() || names == body.end() || !names->is_array() || names->empty()) {
      error(res, 400, "INVALID_PARAMETER_VALUE",
            "At least one of instance_names or claims must be specified.");
      return;
    }
    const auto id = body.find("request_id");
    if (id != body.end() && !id->is_string()) {
      error(res, 400, "INVALID_PARAMETER_VALUE", "Field 'request_id' must be a string.");
      return;
    }
    const std::string request_id = id == body.end() ? "" : id->get<std::string>();
    {
      const std::lock_guard lock(mutex_);
      instance_request_ids_.push_back(request_id);
      const auto seen = instance_answers_.find({*user, request_id});
      if (!request_id.empty() && seen != instance_answers_.end()) {
        res.set_content(seen->second, "application/json");
        return;
      }
    }
    for (const auto& name : *names) {
      if (!name.is_string() ||
          std::find(options_.instance_names.begin(), options_.instance_names.end(),
                    name.get<std::string>()) == options_.instance_names.end()) {
        error(res, 404, "NOT_FOUND",
              "Database instance '" + (name.is_string() ? name.get<std::string>() : name.dump()) +
                  "' does not exist.");
        return;
      }
    }
    issue_database_credential(*user, "expiration_time", res);
    if (res.status == 200 && !request_id.empty()) {
      const std::lock_guard lock(mutex_);
      instance_answers_[{*user, request_id}] = res.body;
    }
  }

  // A new database token for `user`, answered as {"token", <expiry_key>}.
  void issue_database_credential(const std::string& user, const std::string& expiry_key,
                                 httplib::Response& res) {
    std::string token;
    std::string expire_time;
    std::function<void(const std::string&, const std::string&)> hook;
    {
      const std::lock_guard lock(mutex_);
      token = "lakebase-db-fake-" + std::to_string(++serial_) + "-" + random_suffix();
      expire_time = expire_time_text_
                        ? *expire_time_text_
                        : rfc3339(options_.clock() + options_.database_token_lifetime);
      secrets_.push_back(token);
      database_users_.push_back(user);
      database_tokens_.push_back(token);
      hook = on_database_credential_;
    }
    if (hook) {
      try {
        hook(user, token);
      } catch (const std::exception& e) {
        error(res, 500, "INTERNAL_ERROR", std::string("fake hook failed: ") + e.what());
        return;
      }
    }
    res.status = 200;
    res.set_content(nlohmann::json{{"token", token}, {expiry_key, expire_time}}.dump(),
                    "application/json");
  }

  void current_user(const httplib::Request& req, httplib::Response& res) {
    const auto user = bearer_user(req);
    if (!user) {
      error(res, 401, "UNAUTHENTICATED", "Invalid access token.");
      return;
    }
    res.set_content(nlohmann::json{{"userName", *user}, {"id", "1234"}, {"active", true}}.dump(),
                    "application/scim+json");
  }

  Options options_;
  std::unique_ptr<httplib::Server> owned_server_;  // an SSLServer with Options::tls
  httplib::Server& server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  int serial_ = 0;
  std::map<std::string, TokenInfo> tokens_;
  std::array<std::vector<Fault>, kEndpoints> faults_;
  std::array<std::optional<Fault>, kEndpoints> sticky_faults_;
  std::array<std::chrono::milliseconds, kEndpoints> latency_{};
  std::array<bool, kEndpoints> held_{};
  std::array<int, kEndpoints> waiting_{};
  std::array<int, kEndpoints> in_flight_{};
  std::array<int, kEndpoints> calls_{};
  std::array<std::string, kEndpoints> last_body_;
  std::array<std::string, kEndpoints> last_authorization_;
  std::optional<std::string> expire_time_text_;
  std::function<void(const std::string&, const std::string&)> on_database_credential_;
  std::vector<std::string> database_users_;
  std::vector<std::string> database_tokens_;
  std::vector<std::string> instance_request_ids_;
  // (user, request_id) → the answer body given for it.
  std::map<std::pair<std::string, std::string>, std::string> instance_answers_;
  std::vector<std::string> secrets_;
};

}  // namespace pgobo::test

namespace pgobo::test {

// The secrets among `secrets` that occur in `text`, as they are or in any
// encoding pgobo may have sent them in (secret_guard.hpp's decoded_views():
// percent/form, JSON, base64, base64url). Empty when none leaked.
[[nodiscard]] inline std::vector<std::string> leaked_secrets(
    const std::string& text, const std::vector<std::string>& secrets) {
  std::vector<std::string> leaked;
  const std::vector<std::string> views = decoded_views(text);
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (const auto& view : views) {
      if (view.find(secret) != std::string::npos) {
        leaked.push_back(secret);
        break;
      }
    }
  }
  return leaked;
}

}  // namespace pgobo::test

namespace pgobo::test {

// A test with a fake workspace whose whole run is logged at trace level; at
// the end it fails if any secret of the workspace reached the log.
class FakeWorkspaceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_THAT(leaked_secrets(log.text(), workspace.secrets()), ::testing::IsEmpty())
        << "a token or client secret reached pgobo's log";
  }

  // Fails the test if `message` (an exception text) holds a secret.
  void expect_no_secret_in(const std::string& message) const {
    EXPECT_THAT(leaked_secrets(message, workspace.secrets()), ::testing::IsEmpty())
        << "in: " << message;
  }

  LogCapture log;  // first: it outlives the workspace's threads' last lines
  FakeWorkspace workspace;
};

}  // namespace pgobo::test
