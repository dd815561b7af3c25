// pgobo/routing_pool.hpp — one pool API that runs each statement as the user
// behind the current request.
//
//   // given: pgobo::Secret password_of(const pgobo::UserContext&); pgobo::UserContext bob
//   pgobo::RoutingConfig config = pgobo::RoutingConfig::from_env();   // PGHOST, PGUSER…
//   config.user_credentials = [](const pgobo::UserContext& user) {       // your password source
//     return std::make_shared<pgobo::StaticPassword>(password_of(user));
//   };
//   auto router = pgobo::RoutingPool::create(std::move(config));
//   // On Databricks: pgobo::databricks::make_routing_pool()  (databricks/config.hpp)
//
//   db->query("SELECT count(*) FROM app.notes");         // no user: the service principal
//   {
//     pgobo::UserScope scope(pgobo::make_user_context("u-1", "alice@example.com", token));
//     db->query("SELECT * FROM app.notes");              // alice's pool: RLS sees alice
//   }
//   db->as_user(bob).query("SELECT * FROM app.notes");   // bob, whatever the thread's context
//
// query(), query_read_only() and connect() read current_user(): null means the
// service principal's pool, a user means that user's pool in the PoolManager.
// close() closes both. Counts report the pool the caller would be routed to;
// stats() reports all of them.
//
// Two modes (RoutingConfig::routing, PGOBO_ROUTING): per_user_pools (the
// default) as above, or set_role: one shared pool (the service principal's,
// logged in as an authenticator role that is a member of every user role),
// each user's statement inside BEGIN; SET LOCAL ROLE <user>; … COMMIT
// (pgobo/set_role.hpp; docs/security.md compares the two).
//
// Read replicas (optional): with RoutingConfig::read_hosts
// (PGOBO_READ_HOSTS="replica-1:5433,replica-2:5433"), query_read_only() runs
// on a pool of the replicas (the service principal's, or the user's, logged
// in with the same role and credentials) and on the primary when no replica
// answers; query() and connect() always use the primary.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgobo/source_location.hpp"

#include "pgobo/config.hpp"
#include "pgobo/connection_limit.hpp"
#include "pgobo/context.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/observer.hpp"
#include "pgobo/pool.hpp"
#include "pgobo/pool_manager.hpp"
#include "pgobo/pqxx_pool_manager.hpp"
#include "pgobo/set_role.hpp"
#include "pgobo/sql_policy.hpp"
#include "pgobo/stats.hpp"

namespace pgobo {

// Everything a RoutingPool needs. The service principal's pool comes from
// `service`; user pools share its host, port, database, sslmode, sslrootcert
// and server settings, with the user's role and the user's credentials.
struct RoutingConfig {
  PoolConfig service;

  // Sizes and timeouts of each user pool (its connection is taken from
  // `service`). Default: 3 connections, 30 s idle, as AppKit's.
  PoolOptions user_pool = PoolManagerOptions::default_user_pool();
  // Told what every pool of the router does and of each query() and
  // query_read_only() (pgobo/observer.hpp); null: none. Wins over
  // service.pool.observer and user_pool.observer.
  std::shared_ptr<PoolObserver> observer;
  // The role a user logs in as. Null: the key (email, else user id).
  std::function<std::string(const UserContext&)> role_for;
  // A user pool's password source. Required: RoutingPool::create throws
  // ConfigError without it. pgobo::databricks::make_routing_pool() sets it
  // to Lakebase credentials bought with each user's forwarded token.
  std::function<std::shared_ptr<CredentialProvider>(const UserContext&)> user_credentials;
  std::size_t max_total_connections = 0;  // over all user pools; 0 = no limit
  std::size_t max_pools = 0;              // 0 = no limit
  // Off by default. automatic: the user pools' limit is this replica's share
  // of the server, shared with the other replicas through a table
  // (pgobo/connection_limit.hpp); max_total_connections, if set, caps it.
  ConnectionLimitOptions connection_limit;
  std::chrono::milliseconds sweep_interval{5'000};
  // Log in user pools even as a role that bypasses row-level security
  // (SUPERUSER or BYPASSRLS), with a warning. Off: such a login fails with
  // UnsafeRole.
  bool allow_rls_bypass_roles = false;
  // Read replicas for query_read_only() (PGOBO_READ_HOSTS / JSON read_hosts),
  // tried in order as one failover list. Empty: off, every statement goes to
  // `service`'s servers. Set: query_read_only() runs on a second set of
  // pools over these servers (same database, roles, credentials, sslmode and
  // sizes; target_session_attrs `any`), and on the primary's pools when no
  // replica answers (ServerUnavailable, TooManyConnections); an SQL error is
  // never retried elsewhere. The replicas' user pools have limits of their own:
  // max_total_connections and max_pools apply to each set of servers apart.
  std::vector<HostPort> read_hosts;

  // per_user_pools (default): a pool per user, logged in as the user.
  // set_role: no user pools; `service`'s pool logs in as an authenticator
  // role that is a member of every user's role, and each routed statement
  // (and each connect() lease) is one transaction acting as role_for(user)
  // (pgobo/set_role.hpp). user_credentials is then not needed, and
  // max_total_connections, max_pools and the automatic connection limit are
  // refused (ConfigError): the shared pool's max_size bounds everything.
  RoutingMode routing = RoutingMode::per_user_pools;
  // set_role mode: the setting the user's claims are set under for the
  // transaction, as PostgREST does; empty: none.
  std::string claims_setting = "request.jwt.claims";
  // set_role mode: the claims' text. Null: default_claims() ({"sub", "email",
  // "role"}; never the token).
  std::function<std::string(const UserContext&)> claims_for;
  // set_role mode: the role statements without a user act as (SET LOCAL
  // ROLE), so the authenticator itself holds no rights. Required in that mode.
  std::string service_role;
  // set_role mode: a role that passed the check (exists, no SUPERUSER or
  // BYPASSRLS, the authenticator safe) is not checked again for this long:
  // the check's query costs more than the rest of a transaction (measured:
  // docs/benchmarks.md). 0: every statement.
  std::chrono::milliseconds role_check_ttl{60'000};

  // PoolConfig::from_env() plus PGOBO_USER_POOL_MAX_SIZE,
  // PGOBO_USER_POOL_IDLE_TIMEOUT_MS, PGOBO_MAX_TOTAL_CONNECTIONS,
  // PGOBO_MAX_POOLS, PGOBO_SWEEP_INTERVAL_MS, PGOBO_ALLOW_RLS_BYPASS_ROLES,
  // PGOBO_CONNECTION_LIMIT (auto|off) and PGOBO_CONNECTION_LIMIT_RESERVE,
  // _INTERVAL_MS, _DEAD_AFTER_MS, _TABLE, PGOBO_READ_HOSTS, PGOBO_ROUTING
  // (per_user_pools|set_role), PGOBO_CLAIMS_SETTING, PGOBO_SERVICE_ROLE,
  // PGOBO_ROLE_CHECK_TTL_MS (docs/configuration.md). role_for and user_credentials stay null.
  [[nodiscard]] static RoutingConfig from_env();
  [[nodiscard]] static RoutingConfig from_env(const EnvLookup& lookup);
  // One JSON object: PoolConfig's keys and user_pool_max_size,
  // user_pool_idle_timeout_ms, max_total_connections, max_pools,
  // sweep_interval_ms, allow_rls_bypass_roles, connection_limit ("auto" or
  // "off"), connection_limit_reserve, connection_limit_interval_ms,
  // connection_limit_dead_after_ms, connection_limit_table, read_hosts,
  // routing, claims_setting, service_role, role_check_ttl_ms.
  [[nodiscard]] static RoutingConfig from_json(const nlohmann::json& json);
  [[nodiscard]] static RoutingConfig from_json_text(std::string_view text);
};

// Counts of the service principal's pool and of all user pools, and this
// replica's share under the automatic connection limit (automatic false: off).
struct RoutingStats {
  PoolStats service;
  PoolManagerStats users;
  ConnectionLimitStats connection_limit;
};
void to_json(nlohmann::json& out, const RoutingStats& stats);

// Parses "host[:port],host[:port]" (an IPv6 address in brackets:
// "[::1]:5433"); a server without a port gets `default_port`. Throws
// ConfigError naming `what` (e.g. "PGOBO_READ_HOSTS").
[[nodiscard]] std::vector<HostPort> parse_host_list(std::string_view text,
                                                    std::uint16_t default_port,
                                                    std::string_view what);

template <PoolDriver Driver>
class BasicRoutingPool;

// The pools query_read_only() tries first: the service principal's on the
// replicas, and a manager of user pools on them.
template <PoolDriver Driver>
struct BasicReadReplicas {
  std::shared_ptr<BasicPool<Driver>> service;
  typename BasicPoolManager<Driver>::Options users;
};

// A RoutingPool bound to one user, whatever the calling thread's context.
// Holds a reference to its RoutingPool, which must outlive it.
template <PoolDriver Driver>
class BasicUserHandle {
 public:
  using Router = BasicRoutingPool<Driver>;

  BasicUserHandle(Router& router, std::shared_ptr<const UserContext> user)
      : router_(&router), user_(std::move(user)) {}

  template <class... Params>
  auto query(std::string_view sql, const Params&... params) {
    const UserScope scope(user_);
    return router_->query(sql, params...);
  }
  template <class... Params>
  auto query_read_only(std::string_view sql, const Params&... params) {
    const UserScope scope(user_);
    return router_->query_read_only(sql, params...);
  }
  [[nodiscard]] auto connect(SourceLocation where = SourceLocation::current()) {
    const UserScope scope(user_);
    return router_->connect(where);
  }
  [[nodiscard]] ConnectionParams pg_config() const {
    const UserScope scope(user_);
    return router_->pg_config();
  }
  [[nodiscard]] std::size_t total_count() const {
    const UserScope scope(user_);
    return router_->total_count();
  }
  [[nodiscard]] std::size_t idle_count() const {
    const UserScope scope(user_);
    return router_->idle_count();
  }
  [[nodiscard]] std::size_t waiting_count() const {
    const UserScope scope(user_);
    return router_->waiting_count();
  }
  [[nodiscard]] const UserContext& user() const noexcept { return *user_; }

 private:
  Router* router_;
  std::shared_ptr<const UserContext> user_;
};

template <PoolDriver Driver>
class BasicRoutingPool {
 public:
  using Pool = BasicPool<Driver>;
  using Manager = BasicPoolManager<Driver>;
  using Lease = typename Pool::Lease;
  using UserHandle = BasicUserHandle<Driver>;

  // The service principal's pool and the manager's options, already built.
  // create() and from_env() build them from a RoutingConfig.
  // `user_driver` opens the user pools' connections (for PqxxDriver: with
  // the row-level-security bypass check).
  // `replicas`: pools on read replicas for query_read_only() (nullopt: off).
  // `set_role`: set_role mode (the manager then opens no pool): users' statements
  // act as their role on `service` (needs a Driver with begin_acting_as…,
  // as PqxxDriver has; else ConfigError).
  BasicRoutingPool(std::shared_ptr<Pool> service, typename Manager::Options users,
                   Driver user_driver = Driver{},
                   std::optional<BasicReadReplicas<Driver>> replicas = std::nullopt,
                   std::optional<SetRoleRouting> set_role = std::nullopt)
      : user_driver_(user_driver),
        observer_(service ? service->options().observer : nullptr),
        service_(std::move(service)),
        manager_(std::make_unique<Manager>(std::move(users), user_driver)),
        set_role_(std::move(set_role)) {
    if (set_role_) role_checks_ = std::make_unique<RoleCheckCache>(set_role_->role_check_ttl);
    if constexpr (!kActsAsRole) {
      if (set_role_) throw ConfigError("set_role mode: this driver cannot act as a role");
    }
    manager_->reap_also(service_);
    if (replicas && replicas->service) {
      read_service_ = std::move(replicas->service);
      read_manager_ = std::make_unique<Manager>(std::move(replicas->users), user_driver);
      read_manager_->reap_also(read_service_);
    }
  }

  BasicRoutingPool(const BasicRoutingPool&) = delete;
  BasicRoutingPool& operator=(const BasicRoutingPool&) = delete;
  ~BasicRoutingPool() { close(); }

  // One statement on the active identity's pool (for Pool: parameters bound
  // to $1, $2…, see PqxxDriver::query).
  // With an observer (the service pool's PoolOptions::observer), it hears
  // of each statement: on_query_started, on_query_ended.
  template <class... Params>
  auto query(std::string_view sql, const Params&... params) {
    if (observer_ == nullptr) return run_query(sql, params...);
    return observed(sql, /*read_only=*/false, [&] { return run_query(sql, params...); });
  }

  // The statement must pass the read-only policy (sql_policy.hpp), then runs
  // inside BEGIN READ ONLY … ROLLBACK on one connection of the active pool, so
  // PostgreSQL refuses any write the policy could not see. With read
  // replicas: on the active identity's replica pool, or on its primary pool
  // when no replica gives a connection (ServerUnavailable,
  // TooManyConnections); a failing statement is not run again elsewhere.
  template <class... Params>
  requires requires(Driver& d, typename Driver::Connection& c) { d.query_read_only(c, ""); }
  auto query_read_only(std::string_view sql, const Params&... params) {
    bool on_replica = false;
    const auto run = [&] {
      check_read_only(sql);
      if constexpr (kActsAsRole) {
        if (set_role_) {
          if (std::optional<ActingAs> who = acting_as_now()) {
            if (read_service_) {
              if (std::optional<Lease> lease = connect_replica()) {
                on_replica = true;
                return run_as(std::move(*lease), *who, /*read_only=*/true, sql, params...);
              }
            }
            return run_as(service_->connect(SourceLocation{}), *who, /*read_only=*/true, sql,
                          params...);
          }
        }
      }
      if (read_service_) {
        if (std::optional<Lease> lease = connect_replica()) {
          on_replica = true;
          return user_driver_.query_read_only(**lease, sql, params...);
        }
      }
      Lease lease = connect(SourceLocation{});  // a statement's lease: not watched
      return user_driver_.query_read_only(*lease, sql, params...);
    };
    if (observer_ == nullptr) return run();
    return observed(sql, /*read_only=*/true, run, &on_replica);
  }

  // A connection of the active identity's pool. The lease may outlive this
  // RoutingPool: given back after close(), its connection closes. Its session
  // is reset when it comes back (PoolOptions::session_reset).
  // `where` is for leak reports (PoolOptions::leak_detection_threshold); a
  // default-constructed one (line 0) leaves the lease unwatched.
  // In set_role mode the lease is handed out inside a transaction acting as
  // the user (BEGIN; SET LOCAL ROLE …): pqxx::work, pqxx::transaction<…> and
  // nontransaction code run as the user until that transaction ends. A lease
  // is one transaction: its first COMMIT or ROLLBACK ends the acting, and
  // statements after it run as the authenticator (which holds no rights, so
  // they fail); an error aborts all of it. Given back with the transaction
  // still open, it is committed (PqxxDriver::kEndActingAs); a COMMIT the
  // server refuses then is logged, not thrown: commit() yourself to see it.
  // The session is reset either way.
  [[nodiscard]] Lease connect(SourceLocation where = SourceLocation::current()) {
    if constexpr (kActsAsRole) {
      if (set_role_) {
        if (std::optional<ActingAs> who = acting_as_now()) {
          Lease lease = service_->connect(where);
          begin_as(lease, *who, /*read_only=*/false);
          lease.finish_with(Driver::kEndActingAs);
          return lease;
        }
        return service_->connect(where);
      }
    }
    if (const UserContext* user = current_user_ptr()) return manager_->connect(*user, where);
    return service_->connect(where);
  }

  // Bound to `user` for every call, whatever the thread's context: unlike
  // AppKit's asUser(req).pool, nothing can fall back to the service.
  [[nodiscard]] UserHandle as_user(UserContext user) {
    return UserHandle(*this, std::make_shared<const UserContext>(std::move(user)));
  }
  [[nodiscard]] UserHandle as_user(std::shared_ptr<const UserContext> user) {
    if (!user) throw AuthenticationError("as_user: no user context given");
    return UserHandle(*this, std::move(user));
  }

  // Where and as whom the active identity connects, without any password:
  // for code that opens its own connections (e.g. an ORM).
  // In set_role mode: the shared pool's, whose login is the authenticator (a
  // connection of your own must SET ROLE itself).
  [[nodiscard]] ConnectionParams pg_config() const {
    if (set_role_) return service_->options().connection;
    if (const UserContext* user = current_user_ptr()) {
      ConnectionParams params = manager_->options().user_pool.connection;
      params.user =
          manager_->options().role_for ? manager_->options().role_for(*user) : user->key();
      return params;
    }
    return service_->options().connection;
  }

  // Where query_read_only() connects first: the replicas' params when read
  // replicas are set, else pg_config().
  [[nodiscard]] ConnectionParams read_pg_config() const {
    if (!read_service_) return pg_config();
    if (set_role_) return read_service_->options().connection;
    if (const UserContext* user = current_user_ptr()) {
      ConnectionParams params = read_manager_->options().user_pool.connection;
      params.user = read_manager_->options().role_for ? read_manager_->options().role_for(*user)
                                                      : user->key();
      return params;
    }
    return read_service_->options().connection;
  }

  // Closes the service principal's pool and every user pool (and those on
  // the read replicas); stops the sweepers and the connection limit's
  // heartbeats (leaving the table). Idempotent.
  void close() {
    // No heartbeat may raise the limit while the user pools close; the claim
    // stays published until their connections are gone (close() waits for
    // leases), then the replica leaves, through the service pool, which
    // closes last.
    if (limit_) limit_->stop_heartbeats();
    if (read_manager_) read_manager_->close();
    if (read_service_) read_service_->close();
    manager_->close();
    if (limit_) limit_->leave();
    service_->close();
  }

  // The automatic connection limit: `coordinator` sets the user pools'
  // limit (the manager must have been built with
  // max_total_connections_adjustable) and is started here. RoutingPool::create
  // does this when RoutingConfig::connection_limit.automatic is set.
  void attach_connection_limit(std::unique_ptr<ConnectionLimitCoordinator> coordinator) {
    limit_ = std::move(coordinator);
    if (limit_) limit_->start();
  }
  // close() under AppKit's name, for code ported from it.
  void end() { close(); }

  // Of the pool the caller would be routed to (0 for a user without a pool yet).
  [[nodiscard]] std::size_t total_count() const {
    return with_active_pool([](const Pool& p) { return p.total_count(); });
  }
  [[nodiscard]] std::size_t idle_count() const {
    return with_active_pool([](const Pool& p) { return p.idle_count(); });
  }
  [[nodiscard]] std::size_t waiting_count() const {
    return with_active_pool([](const Pool& p) { return p.waiting_count(); });
  }

  [[nodiscard]] RoutingStats stats() const {
    return RoutingStats{service_->stats(), manager_->stats(),
                        limit_ ? limit_->stats() : ConnectionLimitStats{}};
  }

  [[nodiscard]] Pool& service_pool() noexcept { return *service_; }
  [[nodiscard]] Manager& manager() noexcept { return *manager_; }
  // The pools on the read replicas (their statistics are not in stats());
  // null without read replicas.
  [[nodiscard]] Pool* read_service_pool() noexcept { return read_service_.get(); }
  [[nodiscard]] Manager* read_manager() noexcept { return read_manager_.get(); }
  [[nodiscard]] RoutingMode routing() const noexcept {
    return set_role_ ? RoutingMode::set_role : RoutingMode::per_user_pools;
  }

 private:
  static constexpr bool kActsAsRole =
      requires(const Driver& d, typename Driver::Connection& c, const ActingAs& who) {
    d.begin_acting_as(c, who, false);
    d.query_as_begun(c, false, "");
    d.end_acting_as(c, true);
    { d.abandon_acting_as(c) } -> std::same_as<bool>;
    { Driver::kEndActingAs } -> std::convertible_to<const char*>;
  };

  // set_role mode: whom the caller acts as; nullopt for a statement without a
  // user when no service_role is set (only for a router built without
  // create(), which requires one: it runs as the authenticator).
  [[nodiscard]] std::optional<ActingAs> acting_as_now() const {
    if (const UserContext* user = current_user_ptr()) {
      ActingAs who = set_role_->acting_as(*user);
      who.check = !role_checks_->fresh(who.role, RoleCheckCache::Clock::now());
      return who;
    }
    if (set_role_->service_role.empty()) return std::nullopt;
    return set_role_->acting_as_service();
  }

  // Opens the lease's transaction as `who`; on failure the connection is
  // rolled back or, if that fails, closed.
  void begin_as(Lease& lease, const ActingAs& who, bool read_only) {
    try {
      user_driver_.begin_acting_as(*lease, who, read_only);
      if (who.check) role_checks_->remember(who.role, RoleCheckCache::Clock::now());
    } catch (...) {
      if (!user_driver_.abandon_acting_as(*lease)) lease.discard();
      throw;
    }
  }

  // One statement as `who` on `lease`. Whatever fails, nothing of the
  // transaction stays on the connection: rolled back, or the connection closed.
  template <class... Params>
  auto run_as(Lease lease, const ActingAs& who, bool read_only, std::string_view sql,
              const Params&... params) {
    lease.set_session_reset(false);  // the application's own statement, as Pool::query()
    begin_as(lease, who, read_only);
    try {
      return user_driver_.query_as_begun(*lease, read_only, sql, params...);
    } catch (...) {
      if (!user_driver_.abandon_acting_as(*lease)) lease.discard();
      throw;
    }
  }

  template <class... Params>
  auto run_query(std::string_view sql, const Params&... params) {
    if constexpr (kActsAsRole) {
      if (set_role_) {
        if (std::optional<ActingAs> who = acting_as_now()) {
          return run_as(service_->connect(SourceLocation{}), *who, /*read_only=*/false, sql,
                        params...);
        }
        return service_->query(sql, params...);
      }
    }
    if (const UserContext* user = current_user_ptr()) {
      // Not get_pool()->query(): a token rotation may replace the pool
      // between the lookup and the connect; the manager retries on the new one.
      // A statement's lease: not watched for leaks (Pool::query() neither).
      Lease lease = manager_->connect(*user, SourceLocation{});
      lease.set_session_reset(false);  // the application's own statement, as Pool::query()
      return user_driver_.query(*lease, sql, params...);
    }
    return service_->query(sql, params...);
  }

  // A lease of the active identity's pool on the read replicas, or nullopt
  // when none answers: the pool could not open a connection (refused, down,
  // out of slots) and had none to lend.
  std::optional<Lease> connect_replica() {
    try {
      if (const UserContext* user = current_user_ptr(); user != nullptr && !set_role_) {
        return read_manager_->connect(*user, SourceLocation{});
      }
      return read_service_->connect(SourceLocation{});
    } catch (const ServerUnavailable&) {
      return std::nullopt;
    } catch (const TooManyConnections&) {
      return std::nullopt;
    }
  }

  // Runs `run` between on_query_started and on_query_ended. Only with an
  // observer: naming the pool and its connection allocates. `on_replica`
  // (query_read_only): where it is meant to run, and after `run`, where it
  // ran (the replicas, or the primary after a fallback).
  template <class Run>
  auto observed(std::string_view sql, bool read_only, const Run& run,
                const bool* on_replica = nullptr) {
    const UserContext* user = current_user_ptr();
    const bool replicas = on_replica != nullptr && read_service_ != nullptr;
    std::string pool = user && !set_role_
                           ? Manager::user_pool_name(user->key())
                           : (replicas ? read_service_->options().name : service_->options().name);
    ConnectionParams connection = replicas ? read_pg_config() : pg_config();
    const auto started = std::chrono::steady_clock::now();
    observer_->on_query_started(QueryStarted{pool, connection, sql, read_only});
    // A fallback to the primary: the end event names the primary.
    const auto ran_on = [&] {
      if (!replicas || *on_replica) return;
      connection = pg_config();
      if (user == nullptr || set_role_) pool = service_->options().name;
    };
    try {
      auto result = run();
      ran_on();
      std::optional<std::size_t> rows;
      if constexpr (requires { result.size(); }) rows = static_cast<std::size_t>(result.size());
      observer_->on_query_ended(QueryEnded{pool,
                                           connection,
                                           sql,
                                           read_only,
                                           std::chrono::steady_clock::now() - started,
                                           rows,
                                           {},
                                           {}});
      return result;
    } catch (...) {
      ran_on();
      const ErrorDescription error = describe_current_exception();
      observer_->on_query_ended(QueryEnded{pool, connection, sql, read_only,
                                           std::chrono::steady_clock::now() - started, std::nullopt,
                                           error.type, error.sqlstate});
      throw;
    }
  }

  template <class F>
  std::size_t with_active_pool(F f) const {
    if (set_role_) return f(*service_);
    if (const UserContext* user = current_user_ptr()) {
      const auto pool = manager_->find_pool(user->key());
      return pool ? f(*pool) : 0;
    }
    return f(*service_);
  }

  Driver user_driver_;  // stateless use only: runs statements on leased connections
  // The service pool's PoolOptions::observer, told of queries; may be null.
  std::shared_ptr<PoolObserver> observer_;
  std::shared_ptr<Pool> service_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<ConnectionLimitCoordinator> limit_;  // automatic connection limit, or null
  // On the read replicas (RoutingConfig::read_hosts); null when off.
  std::shared_ptr<Pool> read_service_;
  std::unique_ptr<Manager> read_manager_;
  std::optional<SetRoleRouting> set_role_;       // set_role mode; nullopt: per_user_pools
  std::unique_ptr<RoleCheckCache> role_checks_;  // set_role mode: roles checked lately
};

// The router over libpqxx, built from configuration.
class RoutingPool : public BasicRoutingPool<PqxxDriver> {
 public:
  using BasicRoutingPool<PqxxDriver>::BasicRoutingPool;

  // Builds the service principal's pool (PoolConfig::make_pool_options) and
  // the user pools' manager. Throws ConfigError, also when
  // config.user_credentials is null. Lakebase: pgobo::databricks::make_routing_pool.
  [[nodiscard]] static std::unique_ptr<RoutingPool> create(RoutingConfig config);
};

using UserHandle = BasicUserHandle<PqxxDriver>;
using ReadReplicas = BasicReadReplicas<PqxxDriver>;

}  // namespace pgobo
