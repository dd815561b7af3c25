// The notes service: a small web service in the shape of a Databricks App.
// Each request runs as the user the proxy forwarded, so PostgreSQL's
// row-level security decides what that user sees. scripts/demo runs it.
//
//   notes_service [--port N] [--port-file PATH] [--development-fallback]
//                 [--user-credentials lakebase|token] [--trace-file PATH]
//
// The database comes from PG* and PGOBO_* variables (docs/configuration.md);
// the options from NOTES_PORT, NOTES_PORT_FILE, NOTES_DEVELOPMENT_FALLBACK=1
// NOTES_USER_CREDENTIALS and NOTES_TRACE_FILE as well. It listens on
// 127.0.0.1 only. With a trace file, each query is a span appended to it as
// a line of OTLP JSON (span_writer.hpp).
#include <httplib.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <pgobo/pgobo.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "notes_service.hpp"
#include "span_writer.hpp"

namespace {

constexpr const char* kListenHost = "127.0.0.1";

struct Settings {
  int port = 8080;        // 0: any free port
  std::string port_file;  // where to write the port once bound (for scripts)
  bool development_fallback = false;
  // Where a user pool's password comes from. "lakebase": database
  // credentials bought with the user's forwarded token (Databricks Apps).
  // "token": the forwarded token is the password (PostgreSQL that checks it
  // itself; the demo's server).
  std::string user_credentials = "lakebase";
  std::string trace_file;  // OTLP JSON spans of every query, a line each; empty: none
};

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool is_true(std::string_view text) {
  return text == "1" || text == "true" || text == "yes" || text == "on";
}

int parse_port(const std::string& text) {
  try {
    std::size_t used = 0;
    const int port = std::stoi(text, &used);
    if (used == text.size() && port >= 0 && port <= 65535) return port;
  } catch (const std::exception&) {
  }
  throw pgobo::ConfigError("port: expected a number from 0 to 65535, got '" + text + "'");
}

[[noreturn]] void usage(int status) {
  (status == 0 ? std::cout : std::cerr)
      << "usage: notes_service [--port N] [--port-file PATH] [--development-fallback]\n"
         "                     [--user-credentials lakebase|token] [--trace-file PATH]\n"
         "The database: PG* and PGOBO_* variables (docs/configuration.md).\n";
  std::exit(status);
}

Settings read_settings(int argc, char** argv) {
  Settings s;
  if (auto v = env("NOTES_PORT")) s.port = parse_port(*v);
  if (auto v = env("NOTES_PORT_FILE")) s.port_file = *v;
  if (auto v = env("NOTES_DEVELOPMENT_FALLBACK")) s.development_fallback = is_true(*v);
  if (auto v = env("NOTES_USER_CREDENTIALS")) s.user_credentials = *v;
  if (auto v = env("NOTES_TRACE_FILE")) s.trace_file = *v;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (arg == "--port") {
      s.port = parse_port(value());
    } else if (arg == "--port-file") {
      s.port_file = value();
    } else if (arg == "--development-fallback") {
      s.development_fallback = true;
    } else if (arg == "--user-credentials") {
      s.user_credentials = value();
    } else if (arg == "--trace-file") {
      s.trace_file = value();
    } else if (arg == "--help" || arg == "-h") {
      usage(0);
    } else {
      usage(2);
    }
  }
  if (s.user_credentials != "lakebase" && s.user_credentials != "token") {
    throw pgobo::ConfigError(
        "NOTES_USER_CREDENTIALS / --user-credentials: expected lakebase or "
        "token, got '" +
        s.user_credentials + "'");
  }
  return s;
}

// snippet-begin: make_router
std::unique_ptr<pgobo::RoutingPool> make_router(const Settings& settings) {
  auto config = pgobo::databricks::AppConfig::from_env();
  if (settings.user_credentials == "token") {
    // The user's forwarded token is their database password: the server
    // checks it, so the service can act for a user only with their token.
    config.routing.user_credentials = [](const pgobo::UserContext& user) {
      return std::make_shared<pgobo::StaticPassword>(user.access_token());
    };
  }
  // "lakebase": user_credentials stays null and make_routing_pool() buys
  // Lakebase database credentials with each user's token (needs LAKEBASE_ENDPOINT).
  if (!settings.trace_file.empty()) {
    // Every pool and every query of the router report to it.
    config.routing.observer = std::make_shared<notes::SpanWriter>(settings.trace_file);
  }
  return pgobo::databricks::make_routing_pool(std::move(config));
}
// snippet-end

// Written to a temporary name and renamed, so a reader never sees half a file.
void write_port_file(const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << port << '\n';
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT and SIGTERM are taken by one thread with sigwait(); blocked here,
  // before any thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<pgobo::RoutingPool> db;
  Settings settings;
  try {
    settings = read_settings(argc, argv);
    db = make_router(settings);
  } catch (const pgobo::ConfigError& e) {
    std::cerr << "notes_service: configuration: " << e.what()
              << "\n(see docs/configuration.md; scripts/demo shows a working set-up)\n";
    return 2;
  }

  // Fail at start, not at the first request, when the service itself cannot
  // reach the database.
  const pgobo::ConnectionParams where = db->pg_config();
  try {
    db->query("SELECT 1");
  } catch (const std::exception& e) {
    spdlog::error("cannot reach the database at {}/{} as {}: {}", where.hosts_text(), where.dbname,
                  where.user, e.what());
    return 1;
  }

  httplib::Server server;
  server.set_payload_max_length(64 * 1024);
  server.set_read_timeout(std::chrono::seconds{5});
  server.set_write_timeout(std::chrono::seconds{5});
  notes::NotesService service(*db, {.allow_development_fallback = settings.development_fallback});
  service.register_routes(server);

  const int port = settings.port == 0
                       ? server.bind_to_any_port(kListenHost)
                       : (server.bind_to_port(kListenHost, settings.port) ? settings.port : -1);
  if (port < 0) {
    spdlog::error("cannot listen on {}:{}", kListenHost, settings.port);
    return 1;
  }
  if (!settings.port_file.empty()) write_port_file(settings.port_file, port);

  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("signal {}: stopping", signal);
    server.stop();
  });

  spdlog::info("notes service on http://{}:{}, database {}/{} as {}; user credentials: {}{}",
               kListenHost, port, where.hosts_text(), where.dbname, where.user,
               settings.user_credentials,
               settings.development_fallback
                   ? "; DEVELOPMENT FALLBACK ON: requests without a token run as the service"
                   : "");
  // snippet-begin: shutdown
  const bool listened = server.listen_after_bind();  // returns after server.stop()

  if (!listened) {
    // The server stopped on its own: wake the signal thread so it can end.
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  stopper.join();
  // Waits for leases, closes every user pool and the service's pool.
  db->close();
  spdlog::info("stopped; all pools closed");
  // snippet-end
  return listened ? 0 : 1;
}
