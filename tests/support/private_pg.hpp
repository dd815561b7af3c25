// A PostgreSQL server of one test's own, for tests that stop, restart or
// starve a server: the shared one (pg_fixture.hpp) must stay up and roomy for
// every other test.
//
//   PrivatePg pg("-c max_connections=13");   // scripts/pg start, with these options
//   pg.create_login_role("alice@example.com");  // password_for(role), NOSUPERUSER
//   pg.stop();                                 // pg_ctl stop -m fast: refused from now on
//   pg.start();                                // same port, same options
//                                              // ~PrivatePg: scripts/pg stop ROOT
//   auto standby = PrivatePg::standby_of(pg);  // a streaming replica of pg on its own port
//
// The destructor stops the server and deletes its directory however the test
// ends (an ASSERT returning early included), so no server outlives its test.
// Server commands run as the postgres user when the tests run as root, as
// scripts/pg does (initdb and postgres refuse root).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pg_fixture.hpp"
#include "pgobo/pqxx_compat.hpp"

#ifndef PGOBO_SOURCE_DIR
#error "PGOBO_SOURCE_DIR must be defined (tests/CMakeLists.txt does it for test code)"
#endif

namespace pgobo::test {

class PrivatePg {
 public:
  // `options` go to the server as PGOBO_PG_OPTIONS (see scripts/pg).
  explicit PrivatePg(const std::string& options = "") {
    std::string command = std::string("PGOBO_PG_OPTIONS=") + shell_quote(options) + " " +
                          shell_quote(std::string(PGOBO_SOURCE_DIR) + "/scripts/pg") + " start";
    const std::string out = run(command);
    // The last line is the env file's path; what comes before is noise.
    std::string env_file = out;
    while (!env_file.empty() && (env_file.back() == '\n' || env_file.back() == ' ')) {
      env_file.pop_back();
    }
    if (const auto nl = env_file.rfind('\n'); nl != std::string::npos) {
      env_file = env_file.substr(nl + 1);
    }
    read_env(env_file);
    try {
      if (root_.empty() || server_.port == 0) {
        throw std::runtime_error("PrivatePg: scripts/pg start gave no usable env file: " + out);
      }
      // pg_ctl start needs the options the server was started with; postgres
      // wrote its whole command line here (the format pg_ctl restart reads).
      std::ifstream opts(root_ + "/data/postmaster.opts");
      std::string line;
      std::getline(opts, line);
      const auto first_space = line.find(' ');
      if (first_space == std::string::npos) {
        throw std::runtime_error("PrivatePg: unreadable postmaster.opts in " + root_);
      }
      postgres_args_ = line.substr(first_space + 1);
    } catch (...) {
      remove();  // no destructor runs for a constructor that throws
      throw;
    }
  }

  ~PrivatePg() { remove(); }

  // A hot standby streaming from `primary`: pg_basebackup -R (fast
  // checkpoint, WAL streamed) into a directory of its own, started on
  // another free port with the options scripts/pg gives every server. Roles
  // and passwords are the primary's. Stopped and deleted like any PrivatePg.
  static std::unique_ptr<PrivatePg> standby_of(const PrivatePg& primary) {
    std::unique_ptr<PrivatePg> standby(new PrivatePg(Standby{}));
    standby->make_standby(primary);
    return standby;
  }

  PrivatePg(const PrivatePg&) = delete;
  PrivatePg& operator=(const PrivatePg&) = delete;

  [[nodiscard]] const PgServer& server() const { return server_; }
  [[nodiscard]] const std::string& root() const { return root_; }

  // Fast shutdown (client backends terminated), waiting until the postmaster
  // is gone: from its return on, connections are refused.
  void stop() {
    monitor_.reset();
    pg_ctl("-m fast -w -t 30 stop");
  }

  // Starts it again on the same port with the same options, waiting until it
  // accepts connections.
  void start() {
    pg_ctl("-l " + shell_quote(root_ + "/server.log") + " -w -t 30 -o " +
           shell_quote(postgres_args_) + " start");
  }

  [[nodiscard]] pqxx::connection superuser() const {
    return pqxx::connection(server_.superuser_conninfo());
  }

  // A LOGIN role without SUPERUSER or BYPASSRLS, with password_for(role), as
  // pgobo's user pools need.
  void create_login_role(std::string_view role) const {
    auto conn = superuser();
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE ROLE " + tx.quote_name(std::string(role)) +
            " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD " + tx.quote(password_for(role)));
  }

  // Client backends logged in as a role matching the LIKE `pattern`. Asked
  // over one superuser connection kept open (not thread-safe): polling with a
  // new connection each time would leave exiting backends behind, which on a
  // server with few slots can take the superuser's reserved ones too.
  [[nodiscard]] int backends_like(std::string_view pattern) {
    if (!monitor_ || !monitor_->is_open()) {
      monitor_ = std::make_unique<pqxx::connection>(server_.superuser_conninfo());
    }
    pqxx::nontransaction tx(*monitor_);
    return pgobo::pqxx_compat::exec_params(
               tx,
               "SELECT count(*) FROM pg_stat_activity "
               "WHERE usename LIKE $1 AND backend_type = 'client backend'",
               std::string(pattern))[0][0]
        .as<int>();
  }

  static std::string shell_quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    return out + "'";
  }

 private:
  struct Standby {};
  explicit PrivatePg(Standby /*unused*/) {}

  void make_standby(const PrivatePg& primary) {
    try {
      root_ = trimmed(run("mktemp -d /tmp/pgobo-pg.XXXXXX"));
      const std::string as_server = geteuid() == 0 ? "runuser -u postgres -- " : "";
      run("chmod 755 " + shell_quote(root_) + " && mkdir -p " + shell_quote(root_ + "/sock") +
          (geteuid() == 0 ? " && chown -R postgres:postgres " + shell_quote(root_) : ""));
      run("cd " + shell_quote(root_) + " && " + as_server +
          shell_quote(pg_bin() + "/pg_basebackup") + " -h " +
          shell_quote(primary.server().socket_dir) + " -p " +
          std::to_string(primary.server().port) + " -U postgres -D " +
          shell_quote(root_ + "/data") + " -R -X stream -c fast --no-sync 2>&1");
      run("chmod 700 " + shell_quote(root_ + "/data"));
      server_ = primary.server();
      server_.socket_dir = root_ + "/sock";
      // A free port, as scripts/pg picks one: try a few at random.
      std::string last_error;
      for (int attempt = 0; attempt < 8; ++attempt) {
        const int port = 20000 + static_cast<int>(std::random_device{}() % 40000);
        try {
          pg_ctl("-l " + shell_quote(root_ + "/server.log") + " -w -t 30 -o " +
                 shell_quote("-p " + std::to_string(port) + " -k " + root_ +
                             "/sock -c listen_addresses=127.0.0.1 -c fsync=off -c "
                             "max_connections=150 -c password_encryption=scram-sha-256") +
                 " start");
          server_.port = port;
          server_.pool_port = port;  // pools connect to the standby itself
          break;
        } catch (const std::exception& e) {
          last_error = e.what();
        }
      }
      if (server_.port == primary.server().port) {
        throw std::runtime_error("PrivatePg: the standby did not start: " + last_error);
      }
      std::ifstream opts(root_ + "/data/postmaster.opts");
      std::string line;
      std::getline(opts, line);
      postgres_args_ = line.substr(line.find(' ') + 1);
    } catch (...) {
      remove();
      throw;
    }
  }

  static std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  }

  static std::string pg_bin() {
    const char* bin = std::getenv("PGOBO_PGBIN");
    return std::string(bin != nullptr ? bin : "/usr/lib/postgresql/15/bin");
  }

  void remove() noexcept {
    if (root_.empty()) return;
    const std::string command =
        shell_quote(std::string(PGOBO_SOURCE_DIR) + "/scripts/pg") + " stop " + shell_quote(root_);
    (void)std::system(command.c_str());  // best effort: a destructor cannot fail
    root_.clear();
  }

  // Runs a shell command, returns its stdout; throws with it on failure.
  static std::string run(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("PrivatePg: cannot run: " + command);
    std::string out;
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe.get()) != nullptr) {
      out += buffer.data();
    }
    const int status = pclose(pipe.release());
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error("PrivatePg: failed (" + std::to_string(status) + "): " + command +
                               "\n" + out);
    }
    return out;
  }

  void pg_ctl(const std::string& arguments) const {
    // As scripts/pg: the server's own user when we are root, from a directory
    // that user can read.
    const std::string as_server = geteuid() == 0 ? "runuser -u postgres -- " : "";
    run("cd " + shell_quote(root_) + " && " + as_server + shell_quote(pg_bin() + "/pg_ctl") +
        " -D " + shell_quote(root_ + "/data") + " " + arguments + " 2>&1");
  }

  // Lines of the form export NAME='value' or export NAME=value.
  void read_env(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const std::string prefix = "export ";
      if (line.rfind(prefix, 0) != 0) continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string name = line.substr(prefix.size(), eq - prefix.size());
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
        value = value.substr(1, value.size() - 2);
      }
      if (name == "PGOBO_PG_ROOT") root_ = value;
      if (name == "PGOBO_PG_HOST") server_.host = value;
      if (name == "PGOBO_PG_PORT") server_.port = std::stoi(value);
      if (name == "PGOBO_PG_SOCKET_DIR") server_.socket_dir = value;
      if (name == "PGOBO_PG_DATABASE") server_.database = value;
      if (name == "PGOBO_PG_SUPERUSER") server_.superuser = value;
      if (name == "PGOBO_PG_SUPERUSER_PASSWORD") server_.superuser_password = value;
    }
    // A private server is never behind PgBouncer: pools connect to it.
    server_.pool_host = server_.host;
    server_.pool_port = server_.port;
  }

  std::string root_;
  PgServer server_;
  std::string postgres_args_;
  std::unique_ptr<pqxx::connection> monitor_;  // for backends_like()
};

}  // namespace pgobo::test
