// pgobo/pqxx_compat.hpp — the few libpqxx calls whose spelling differs
// between libpqxx 6.4, 7.x and 8.x, written once.
//
// pgobo builds against libpqxx 6.4 (Debian 12), 7.x (Ubuntu 24.04, Debian 13,
// vcpkg, Conan) and 8.x (docs/libpqxx-versions.md has the API-by-API table).
// Every version difference pgobo meets lives here, chosen by libpqxx's own
// version macros, so the driver, the tests and the examples call one name:
//
//   // given: pgobo::Lease lease
//   pqxx::work tx(*lease);
//   pgobo::pqxx_compat::exec_params(tx, "UPDATE app.notes SET body = $1 WHERE id = $2",
//                                   "new", 42);
//
// On 7.10 and later exec_params() uses what that libpqxx recommends
// (tx.exec(sql, pqxx::params{…})), so no deprecation warning reaches a build
// with -Werror; from 7.6 a single pqxx::params argument is passed on as it is.
// Applications that build against one libpqxx only can keep calling libpqxx
// directly; this header is for code that must build against several.
#pragma once

#include <cstddef>
#include <pqxx/pqxx>
#include <pqxx/version>
#include <string>
#include <string_view>
#include <type_traits>

#if !defined(PQXX_VERSION_MAJOR) || !defined(PQXX_VERSION_MINOR)
#error "pgobo: <pqxx/version> defines no PQXX_VERSION_MAJOR/MINOR; pgobo needs libpqxx 6.4 or later"
#elif PQXX_VERSION_MAJOR < 6 || (PQXX_VERSION_MAJOR == 6 && PQXX_VERSION_MINOR < 4)
#error "pgobo needs libpqxx 6.4 or later"
#endif

// 7.10 replaced the variadic exec_params/exec_prepared by exec(…, params)
// (deprecated from then on); 8.0 takes the transaction as the first element
// of a params list, as the source of the client encoding.
#define PGOBO_PQXX_EXEC_PARAMS_DEPRECATED \
  (PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 10))
#define PGOBO_PQXX_PARAMS_TAKE_ENCODING (PQXX_VERSION_MAJOR >= 8)

namespace pgobo::pqxx_compat {

// The libpqxx pgobo was compiled against, e.g. {7, 10}.
inline constexpr int kMajor = PQXX_VERSION_MAJOR;
inline constexpr int kMinor = PQXX_VERSION_MINOR;

#if PGOBO_PQXX_EXEC_PARAMS_DEPRECATED
namespace detail {
template <class... Args>
inline constexpr bool is_params_v = false;
template <class Arg>
inline constexpr bool is_params_v<Arg> = std::is_same_v<std::remove_cvref_t<Arg>, pqxx::params>;
}  // namespace detail
#endif

// One statement with its parameters bound to $1, $2… (std::optional or
// nullptr for NULL). From libpqxx 7.6, a single pqxx::params may be passed
// instead of the values.
template <class Transaction, class... Args>
pqxx::result exec_params(Transaction& tx, std::string_view sql, const Args&... args) {
#if PGOBO_PQXX_EXEC_PARAMS_DEPRECATED
  if constexpr (detail::is_params_v<Args...>) {
    return tx.exec(sql, args...);
  } else {
#if PGOBO_PQXX_PARAMS_TAKE_ENCODING
    return tx.exec(sql, pqxx::params{tx, args...});
#else
    return tx.exec(sql, pqxx::params{args...});
#endif
  }
#else
  // 6.4 and 7.0-7.9 (where a pqxx::params argument, 7.6 on, is expanded).
  return tx.exec_params(std::string(sql), args...);
#endif
}

// A statement prepared with connection.prepare(name, sql), with its
// parameters. (pqxx::prepped is built from a zview in 7.10, explicitly from a
// std::string_view in 8.0: a std::string converts to both.)
template <class Transaction, class... Args>
pqxx::result exec_prepared(Transaction& tx, const std::string& name, const Args&... args) {
#if PGOBO_PQXX_PARAMS_TAKE_ENCODING
  return tx.exec(pqxx::prepped{std::string_view{name}}, pqxx::params{tx, args...});
#elif PGOBO_PQXX_EXEC_PARAMS_DEPRECATED
  return tx.exec(pqxx::prepped{pqxx::zview{name}}, pqxx::params{args...});
#else
  return tx.exec_prepared(name, args...);
#endif
}

// libpqxx 6 reconnects a broken connection by itself on its next use
// ("reactivation"), with the connection string it kept, stale password
// included; a pool must see the break and replace the connection instead.
// libpqxx 7 and 8 never reconnect, so there is nothing to switch off.
inline void forbid_reactivation([[maybe_unused]] pqxx::connection& connection) {
#if PQXX_VERSION_MAJOR < 7
  // Deprecated in 6.4 (it goes away in 7), yet the only way to say it there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  connection.inhibit_reactivation(true);
#pragma GCC diagnostic pop
#endif
}

// The SQLSTATE of a failed statement, "" when the server sent none (a
// const std::string& before 8.0, a std::string_view from 8.0).
inline std::string sqlstate(const pqxx::sql_error& error) { return std::string{error.sqlstate()}; }

// The number of rows (an unsigned long in 6.4, an int from 7.0).
inline std::size_t row_count(const pqxx::result& result) {
  return static_cast<std::size_t>(result.size());
}

}  // namespace pgobo::pqxx_compat
