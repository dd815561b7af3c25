// A real HTTP server on 127.0.0.1 (cpp-httplib) that answers every GET and
// POST with what a test builds from the request: for hostile endpoints that
// echo the Authorization header or the body back into an error.
//
//   pgobo::test::EchoServer server([](const httplib::Request& req, httplib::Response& res) {
//     res.status = 401;
//     res.set_content("you sent " + req.get_header_value("Authorization"), "text/plain");
//   });
//   request.url = server.url() + "/oidc/v1/token";
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace pgobo::test {

class EchoServer {
 public:
  using Answer = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit EchoServer(Answer answer) : answer_(std::move(answer)) {
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/ready") {
        res.set_content("ok", "text/plain");
        return;
      }
      ++calls_;
      answer_(req, res);
    };
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("EchoServer: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // One answered request proves the accept loop runs.
    httplib::Client probe("127.0.0.1", port_);
    if (!probe.Get("/ready")) {
      server_.stop();
      thread_.join();
      throw std::runtime_error("EchoServer: the server did not answer");
    }
  }
  ~EchoServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int port() const { return port_; }
  // Requests answered by the test's function so far.
  [[nodiscard]] int calls() const { return calls_.load(); }

 private:
  Answer answer_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> calls_{0};
};

}  // namespace pgobo::test
