// A PgBouncer of one test's own (scripts/pgbouncer start), in front of the
// shared test server, for a test that needs PgBouncer settings of its own
// (pool sizes, limits); the PgBouncer of scripts/test stays as it is.
//
//   PrivatePgBouncer bouncer("default_pool_size=2;max_db_connections=6");
//   options.connection.port = bouncer.port();
//                                   // ~PrivatePgBouncer: scripts/pgbouncer stop ROOT
#pragma once

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "pg_fixture.hpp"
#include "private_pg.hpp"

namespace pgobo::test {

class PrivatePgBouncer {
 public:
  // `options` are [pgbouncer] lines separated by ';' (PGOBO_PGBOUNCER_OPTIONS).
  explicit PrivatePgBouncer(const std::string& options) {
    const std::string command = "PGOBO_PGBOUNCER_OPTIONS=" + PrivatePg::shell_quote(options) + " " +
                                PrivatePg::shell_quote(script()) + " start";
    std::string out;
    {
      const std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), &pclose);
      if (!pipe) throw std::runtime_error("PrivatePgBouncer: popen failed");
      std::array<char, 512> chunk{};
      while (fgets(chunk.data(), static_cast<int>(chunk.size()), pipe.get()) != nullptr) {
        out += chunk.data();
      }
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    const auto nl = out.rfind('\n');
    std::ifstream env(nl == std::string::npos ? out : out.substr(nl + 1));
    std::string line;
    while (std::getline(env, line)) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string name = line.substr(std::string("export ").size(), eq - 7);
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '\'') value = value.substr(1, value.size() - 2);
      if (name == "PGOBO_PGBOUNCER_ROOT") root_ = value;
      if (name == "PGOBO_PGBOUNCER_PORT") port_ = std::stoi(value);
      if (name == "PGOBO_PGBOUNCER_ADMIN_USER") admin_user_ = value;
      if (name == "PGOBO_PGBOUNCER_ADMIN_PASSWORD") {
        admin_password_ = value;
        register_secret(value);
      }
    }
    if (root_.empty() || port_ == 0) {
      throw std::runtime_error("PrivatePgBouncer: scripts/pgbouncer start failed: " + out);
    }
  }
  ~PrivatePgBouncer() {
    const std::string command =
        PrivatePg::shell_quote(script()) + " stop " + PrivatePg::shell_quote(root_);
    (void)std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  }
  PrivatePgBouncer(const PrivatePgBouncer&) = delete;
  PrivatePgBouncer& operator=(const PrivatePgBouncer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }

  // Counts its clients by role (connection_census.hpp).
  [[nodiscard]] ConnectionCensus census() const {
    return ConnectionCensus::at_pgbouncer("host=127.0.0.1 port=" + std::to_string(port_) +
                                          " dbname=pgbouncer user=" + PgServer::quote(admin_user_) +
                                          " password=" + PgServer::quote(admin_password_));
  }

 private:
  static std::string script() { return std::string(PGOBO_SOURCE_DIR) + "/scripts/pgbouncer"; }

  std::string root_;
  int port_ = 0;
  std::string admin_user_;
  std::string admin_password_;
};

}  // namespace pgobo::test
