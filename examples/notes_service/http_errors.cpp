#include "http_errors.hpp"

#include <pgobo/errors.hpp>
#include <pgobo/pqxx_compat.hpp>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace notes {
namespace {

using std::chrono::seconds;

HttpError client_error(int status, std::string code, const std::exception& e) {
  return {status, std::move(code), e.what(), std::nullopt, e.what()};
}

// A failure of the service or the database: the client gets a generic text,
// the log gets the details.
HttpError server_error(int status, std::string code, std::string message, const std::exception& e,
                       std::optional<seconds> retry_after = std::nullopt) {
  return {status, std::move(code), std::move(message), retry_after, e.what()};
}

std::string sqlstate_or_unknown(const pqxx::sql_error& e) {
  std::string code = pgobo::pqxx_compat::sqlstate(e);
  return code.empty() ? "?" : code;
}

}  // namespace

HttpError http_error_of(const std::exception_ptr& error, bool acting_for_user) {
  try {
    std::rethrow_exception(error);
  } catch (const BadRequest& e) {
    return client_error(400, "bad_request", e);
  } catch (const pgobo::IdentityConflict& e) {
    // The headers name a key already bound to another identity: retrying
    // with the same headers cannot help.
    return client_error(403, "identity_conflict", e);
  } catch (const pgobo::AuthenticationError& e) {
    // No usable identity in the request (missing token, malformed header).
    return client_error(401, "unauthenticated", e);
  } catch (const pgobo::SqlPolicyError& e) {
    return client_error(400, "statement_refused", e);
  } catch (const pgobo::UnsafeRole& e) {
    // Not the user's fault, but only this user is affected: the service will
    // not act for a role that row-level security does not bind.
    return server_error(403, "unsafe_role",
                        "this user's database role may bypass row-level security; the service "
                        "refuses to act for it",
                        e);
  } catch (const pgobo::AuthenticationFailed& e) {
    if (acting_for_user) {
      return server_error(401, "database_login_refused",
                          "the database refused this user's login (expired or revoked token?)", e);
    }
    return server_error(503, "database_unavailable", "the service cannot log in to the database",
                        e);
  } catch (const pgobo::AcquireTimeout& e) {
    return server_error(503, "pool_exhausted", "too many requests at once; retry shortly", e,
                        seconds{1});
  } catch (const pgobo::TooManyConnections& e) {
    return server_error(503, "database_busy", "the database has no free connection slot", e,
                        seconds{2});
  } catch (const pgobo::ConnectError& e) {
    return server_error(503, "database_unavailable", "the database cannot be reached", e,
                        seconds{2});
  } catch (const pgobo::CredentialError& e) {
    return server_error(503, "credentials_unavailable", "no database credential could be obtained",
                        e, seconds{2});
  } catch (const pgobo::PoolClosed& e) {
    return server_error(503, "shutting_down", "the service is shutting down", e);
  } catch (const pgobo::ConfigError& e) {
    return server_error(500, "misconfigured", "the service is misconfigured", e);
  } catch (const pqxx::insufficient_privilege& e) {
    // Includes a write that a row-level security policy's WITH CHECK refused.
    return server_error(403, "forbidden", "the database refused this for this user", e);
  } catch (const pqxx::broken_connection& e) {
    return server_error(503, "database_unavailable", "the database connection was lost", e,
                        seconds{1});
  } catch (const pqxx::sql_error& e) {
    return server_error(500, "database_error",
                        "the statement failed (sqlstate " + sqlstate_or_unknown(e) + ")", e);
  } catch (const std::exception& e) {
    return server_error(500, "internal", "internal error", e);
  } catch (...) {
    return {500, "internal", "internal error", std::nullopt, "unknown exception"};
  }
}

std::string to_json_body(const HttpError& error) {
  return nlohmann::json{{"error", {{"code", error.code}, {"message", error.message}}}}.dump() +
         "\n";
}

}  // namespace notes
