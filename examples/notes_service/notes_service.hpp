// The notes service's HTTP routes: every request runs as the user the
// Databricks Apps proxy forwarded, through one pgobo::RoutingPool.
//
//   GET  /notes        the caller's notes (row-level security decides which)
//   POST /notes        {"body": "..."}: a note owned by the caller
//   GET  /admin/stats  pool statistics as JSON (as the service principal)
//   GET  /metrics      the same as Prometheus text, no user in any label
//
//   notes::NotesService service(*db, {.allow_development_fallback = false});
//   service.register_routes(server);
#pragma once

#include <httplib.h>
#include <pgobo/routing_pool.hpp>

namespace notes {

struct ServiceOptions {
  // A request without x-forwarded-access-token runs as the service principal
  // (with a warning) instead of being refused with 401. Only for local
  // development, where no proxy adds the headers.
  bool allow_development_fallback = false;
};

class NotesService {
 public:
  NotesService(pgobo::RoutingPool& db, ServiceOptions options);

  void register_routes(httplib::Server& server);

 private:
  // Whom a route acts for: the user in the request's forwarded headers, or
  // always the service principal.
  enum class ActsFor { request_user, service };
  using Handler = void (NotesService::*)(const httplib::Request&, httplib::Response&);

  // The handler under the right user context, its exceptions turned into
  // HTTP errors, one access log line per request.
  [[nodiscard]] httplib::Server::Handler route(ActsFor acts_for, Handler handler);

  void list_notes(const httplib::Request& request, httplib::Response& response);
  void add_note(const httplib::Request& request, httplib::Response& response);
  void run_query(const httplib::Request& request, httplib::Response& response);
  void admin_stats(const httplib::Request& request, httplib::Response& response);
  void metrics(const httplib::Request& request, httplib::Response& response);

  pgobo::RoutingPool& db_;
  pgobo::HeaderOptions header_options_;
};

}  // namespace notes
