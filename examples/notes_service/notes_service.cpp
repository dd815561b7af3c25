#include "notes_service.hpp"

#include <spdlog/spdlog.h>
#include <pgobo/context.hpp>
#include <pgobo/identity.hpp>
#include <pgobo/pqxx_compat.hpp>
#include <pgobo/stats_exposition.hpp>

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "http_errors.hpp"
#include "span_writer.hpp"

namespace notes {
namespace {

constexpr std::size_t kMaxNoteBytes = 1000;
constexpr std::size_t kMaxQueryBytes = 10'000;
constexpr std::size_t kMaxQueryRows = 1000;

void send_json(httplib::Response& response, int status, const nlohmann::json& body) {
  response.status = status;
  response.set_content(body.dump(2) + "\n", "application/json");
}

}  // namespace

NotesService::NotesService(pgobo::RoutingPool& db, ServiceOptions options) : db_(db) {
  header_options_.allow_development_fallback = options.allow_development_fallback;
}

void NotesService::register_routes(httplib::Server& server) {
  server.Get("/notes", route(ActsFor::request_user, &NotesService::list_notes));
  server.Post("/notes", route(ActsFor::request_user, &NotesService::add_note));
  server.Post("/query", route(ActsFor::request_user, &NotesService::run_query));
  // In production put these behind the platform's access control (or a
  // separate port): they show no user, but they are not for everyone.
  server.Get("/admin/stats", route(ActsFor::service, &NotesService::admin_stats));
  server.Get("/metrics", route(ActsFor::service, &NotesService::metrics));
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.body.empty()) {
      const bool not_found = response.status == 404;
      response.set_content(
          to_json_body({response.status,
                        not_found ? "not_found" : "http_error",
                        not_found ? "no such route" : "the request could not be handled",
                        std::nullopt,
                        {}}),
          "application/json");
    }
  });
}

// snippet-begin: route
httplib::Server::Handler NotesService::route(ActsFor acts_for, Handler handler) {
  return [this, acts_for, handler](const httplib::Request& request, httplib::Response& response) {
    const auto started = std::chrono::steady_clock::now();
    std::string acting_as = "the service principal";
    bool acting_for_user = false;
    // The request's queries join the caller's trace (W3C traceparent), if
    // spans are written (--trace-file).
    const TraceScope trace(request.get_header_value("traceparent"));
    try {
      // nullopt (development fallback) and the service routes: no user
      // context, so the router picks the service principal's pool.
      std::optional<pgobo::UserContext> user;
      if (acts_for == ActsFor::request_user) {
        user = pgobo::user_context_from_headers(request.headers, header_options_);
      }
      if (user) {
        acting_as = user->key();  // the key, never the token
        acting_for_user = true;
      }
      const pgobo::UserScope scope{std::move(user)};
      (this->*handler)(request, response);
    } catch (...) {
      const HttpError error = http_error_of(std::current_exception(), acting_for_user);
      response.status = error.status;
      if (error.retry_after) {
        response.set_header("Retry-After", std::to_string(error.retry_after->count()));
      }
      response.set_content(to_json_body(error), "application/json");
      spdlog::warn("{} {} as {}: {} {}: {}", request.method, request.path, acting_as, error.status,
                   error.code, error.detail);
    }
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    spdlog::info("{} {} {} as {} in {:.1f} ms", request.method, request.path, response.status,
                 acting_as, took.count());
  };
}
// snippet-end

void NotesService::list_notes(const httplib::Request&, httplib::Response& response) {
  // One read-only statement on a connection of the caller's pool: the role
  // that logged in, and the notes row-level security lets it see.
  const auto rows = db_.query_read_only(
      "SELECT current_user::text, coalesce((SELECT json_agg(json_build_object('id', id, 'owner', "
      "owner, 'body', body) ORDER BY id) FROM app.notes), '[]')::text");
  const pgobo::UserContext* user = pgobo::current_user_ptr();
  send_json(response, 200,
            {{"user", user ? nlohmann::json(user->key()) : nlohmann::json(nullptr)},
             {"database_role", rows[0][0].as<std::string>()},
             {"notes", nlohmann::json::parse(rows[0][1].as<std::string>())}});
}

void NotesService::add_note(const httplib::Request& request, httplib::Response& response) {
  const nlohmann::json input = nlohmann::json::parse(request.body, nullptr, false);
  if (!input.is_object() || !input.contains("body") || !input["body"].is_string()) {
    throw BadRequest(R"(expected a JSON object {"body": "<text of the note>"})");
  }
  const auto body = input["body"].get<std::string>();
  if (body.empty() || body.size() > kMaxNoteBytes) {
    throw BadRequest("a note's body must have 1 to " + std::to_string(kMaxNoteBytes) + " bytes");
  }
  // owner defaults to current_user; the policy's WITH CHECK refuses any other.
  const auto rows =
      db_.query("INSERT INTO app.notes (body) VALUES ($1) RETURNING id, owner, body", body);
  send_json(response, 201,
            {{"id", rows[0][0].as<long long>()},
             {"owner", rows[0][1].as<std::string>()},
             {"body", rows[0][2].as<std::string>()}});
}

// SQL the caller wrote (a report, an ad-hoc question) runs only through
// query_read_only(): the read-only policy refuses writes and the side-effect
// functions before anything reaches the server, PostgreSQL runs the rest in
// BEGIN READ ONLY … ROLLBACK as the caller's role (row-level security
// applies), and the pool resets the session before the connection serves
// anyone again.
void NotesService::run_query(const httplib::Request& request, httplib::Response& response) {
  const nlohmann::json input = nlohmann::json::parse(request.body, nullptr, false);
  if (!input.is_object() || !input.contains("sql") || !input["sql"].is_string()) {
    throw BadRequest(R"(expected a JSON object {"sql": "<one read-only statement>"})");
  }
  const auto sql = input["sql"].get<std::string>();
  if (sql.empty() || sql.size() > kMaxQueryBytes) {
    throw BadRequest("a query must have 1 to " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  const auto rows = db_.query_read_only(sql);
  nlohmann::json columns = nlohmann::json::array();
  for (pqxx::row::size_type c = 0; c < rows.columns(); ++c) columns.push_back(rows.column_name(c));
  nlohmann::json out = nlohmann::json::array();
  const std::size_t row_count = pgobo::pqxx_compat::row_count(rows);
  for (std::size_t r = 0; r < row_count && r < kMaxQueryRows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (const auto& field : rows[static_cast<pqxx::result::size_type>(r)]) {
      row.push_back(field.is_null() ? nlohmann::json(nullptr) : nlohmann::json(field.c_str()));
    }
    out.push_back(std::move(row));
  }
  send_json(response, 200,
            {{"columns", columns}, {"rows", out}, {"truncated", row_count > kMaxQueryRows}});
}

void NotesService::admin_stats(const httplib::Request&, httplib::Response& response) {
  send_json(response, 200, pgobo::stats_to_json(db_.stats()));
}

void NotesService::metrics(const httplib::Request&, httplib::Response& response) {
  response.set_content(pgobo::stats_to_prometheus(db_.stats()),
                       std::string(pgobo::kPrometheusContentType));
}

}  // namespace notes
