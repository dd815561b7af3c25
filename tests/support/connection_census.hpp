// Counts pgobo's connections per login role, wherever they end: the
// server's client backends (pg_stat_activity), or, when the test runs through
// PgBouncer (PgServer::via_pgbouncer), PgBouncer's client connections (its
// admin console's SHOW CLIENTS). Either way the count is of the connections
// pgobo's pools hold, which is what their limits bound; through PgBouncer the
// server's backends are PgBouncer's, sized by its own settings.
//
//   ConnectionCensus census = server().census();   // pg_fixture.hpp
//   for (const auto& [role, n] : census.by_role("load")) ...   // roles "load…"
//
// One connection, opened by the constructor and kept: a sampling thread
// calls by_role() every millisecond.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pgobo/pqxx_compat.hpp"

namespace pgobo::test {

class ConnectionCensus {
 public:
  // Counts at the server, through a superuser's connection.
  [[nodiscard]] static ConnectionCensus at_server(const std::string& superuser_conninfo) {
    ConnectionCensus census;
    census.server_ = std::make_unique<pqxx::connection>(superuser_conninfo);
    return census;
  }

  // Counts PgBouncer's clients, through its admin console.
  [[nodiscard]] static ConnectionCensus at_pgbouncer(const std::string& admin_conninfo) {
    ConnectionCensus census;
    // libpqxx refuses PgBouncer's admin console (its server_version is
    // PgBouncer's own), so plain libpq, simple protocol as the console wants.
    census.admin_.reset(PQconnectdb(admin_conninfo.c_str()));
    if (PQstatus(census.admin_.get()) != CONNECTION_OK) {
      throw std::runtime_error(std::string("PgBouncer's admin console: ") +
                               PQerrorMessage(census.admin_.get()));
    }
    return census;
  }

  // Connections per role whose name starts with `prefix` (all roles for "").
  [[nodiscard]] std::map<std::string, int> by_role(std::string_view prefix) {
    std::map<std::string, int> counts;
    if (server_) {
      pqxx::nontransaction tx(*server_);
      const pqxx::result rows = pgobo::pqxx_compat::exec_params(
          tx,
          "SELECT usename, count(*) FROM pg_stat_activity "
          "WHERE starts_with(usename, $1) AND backend_type = 'client backend' "
          "GROUP BY usename",
          std::string(prefix));
      for (const auto& row : rows) counts[row[0].as<std::string>()] = row[1].as<int>();
      return counts;
    }
    const auto result = show_clients();
    const int user = column(result.get(), "user");
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      const std::string role = PQgetvalue(result.get(), row, user);
      if (role.starts_with(prefix)) ++counts[role];
    }
    return counts;
  }

  // Identities of the connections of `role`: backend pids at the server,
  // client ports at PgBouncer (what PgServer::connection_id() gives a lease).
  [[nodiscard]] std::set<int> ids_of(std::string_view role) {
    std::set<int> ids;
    if (server_) {
      pqxx::nontransaction tx(*server_);
      for (const auto& row : pgobo::pqxx_compat::exec_params(
               tx, "SELECT pid FROM pg_stat_activity WHERE usename = $1", std::string(role))) {
        ids.insert(row[0].as<int>());
      }
      return ids;
    }
    const auto clients = show_clients();
    const int user = column(clients.get(), "user");
    const int port = column(clients.get(), "port");
    for (int row = 0; row < PQntuples(clients.get()); ++row) {
      if (PQgetvalue(clients.get(), row, user) == role) {
        ids.insert(std::stoi(PQgetvalue(clients.get(), row, port)));
      }
    }
    return ids;
  }

  // Connections of exactly `role`.
  [[nodiscard]] int of(std::string_view role) {
    const auto counts = by_role(role);
    const auto it = counts.find(std::string(role));
    return it == counts.end() ? 0 : it->second;
  }

 private:
  ConnectionCensus() = default;

  using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

  [[nodiscard]] Result show_clients() {
    Result result(PQexec(admin_.get(), "SHOW CLIENTS"), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      throw std::runtime_error(std::string("SHOW CLIENTS: ") + PQerrorMessage(admin_.get()));
    }
    return result;
  }

  static int column(const PGresult* result, const char* name) {
    const int number = PQfnumber(result, name);
    if (number < 0) throw std::runtime_error(std::string("SHOW CLIENTS has no column ") + name);
    return number;
  }

  struct Finish {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
  };
  std::unique_ptr<pqxx::connection> server_;
  std::unique_ptr<PGconn, Finish> admin_;
};

}  // namespace pgobo::test
