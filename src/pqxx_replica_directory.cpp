#include "pgobo/pqxx_replica_directory.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <pqxx/pqxx>
#include <random>
#include <utility>

#include "pgobo/detail/pool_manager_gate.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "pgobo/pqxx_compat.hpp"

namespace pgobo {
namespace {

class PqxxReplicaDirectory final : public ReplicaDirectory {
 public:
  PqxxReplicaDirectory(std::shared_ptr<Pool> service, const ConnectionLimitOptions& options,
                       std::string replica_id)
      : service_(std::move(service)),
        table_(options.table),
        interval_(options.interval),
        interval_ms_(options.interval.count()),
        dead_after_s_(static_cast<double>(options.dead_replica_timeout.count()) / 1000.0),
        replica_id_(std::move(replica_id)) {}

  void heartbeat(const Decide& decide) override {
    try {
      heartbeat_once(decide);
    } catch (const pqxx::undefined_table&) {
      throw ConfigError("connection limit: the heartbeat table " + table_ +
                        " does not exist; an operator creates it once (docs/operations.md, \"One "
                        "limit for many replicas\")");
    } catch (const pqxx::insufficient_privilege&) {
      throw ConfigError("connection limit: the service role may not use the heartbeat table " +
                        table_ + "; GRANT SELECT, INSERT, UPDATE, DELETE ON it to the role");
    }
  }

 private:
  void heartbeat_once(const Decide& decide) {
    Lease lease = connect_within_interval();
    pqxx::work tx(*lease);
    const std::string table = quoted_table(tx);
    bound(tx);
    // Excludes the other replicas' heartbeats (the mode conflicts with
    // itself), not plain reads: each replica decides on the latest claims.
    tx.exec("LOCK TABLE " + table + " IN SHARE ROW EXCLUSIVE MODE");
    // A replica not seen for the timeout stops counting (by the server's
    // clock, the one clock every replica shares).
    pqxx_compat::exec_params(
        tx,
        "DELETE FROM " + table + " WHERE seen_at < clock_timestamp() - make_interval(secs => $1)",
        dead_after_s_);
    const pqxx::result row = pqxx_compat::exec_params(
        tx,
        "SELECT current_setting('max_connections')::bigint, "
        "current_setting('superuser_reserved_connections')::bigint, "
        "coalesce(current_setting('reserved_connections', true)::bigint, 0), "
        "(SELECT count(*) FROM " +
            table +
            " WHERE replica_id <> $1), "
            "(SELECT coalesce(sum(claimed), 0)::bigint FROM " +
            table + " WHERE replica_id <> $1)",
        replica_id_);
    View view;
    view.server.max_connections = count(row[0][0]);
    view.server.superuser_reserved = count(row[0][1]);
    view.server.reserved = count(row[0][2]);
    view.others = count(row[0][3]);
    view.others_claimed = count(row[0][4]);
    const std::size_t claim = decide(view);
    pqxx_compat::exec_params(
        tx,
        "INSERT INTO " + table +
            " (replica_id, claimed, seen_at) VALUES ($1, $2, clock_timestamp()) "
            "ON CONFLICT (replica_id) DO UPDATE SET claimed = EXCLUDED.claimed, seen_at = "
            "EXCLUDED.seen_at",
        replica_id_, static_cast<long long>(claim));
    tx.commit();
  }

 public:
  void leave() noexcept override {
    try {
      Lease lease = connect_within_interval();
      pqxx::work tx(*lease);
      // Bounded as a heartbeat: a shutdown must not wait behind another
      // replica's lock (the row then expires after the timeout).
      bound(tx);
      pqxx_compat::exec_params(tx, "DELETE FROM " + quoted_table(tx) + " WHERE replica_id = $1",
                               replica_id_);
      tx.commit();
    } catch (const std::exception& e) {
      try {
        logger()->warn(
            "connection limit: leaving {} failed (the others count this replica until "
            "the timeout): {}",
            table_, e.what());
      } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is not worth a shutdown
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch)
    }
  }

 private:
  // A service connection, waiting at most one interval for one (not the
  // service pool's acquire_timeout: a heartbeat must end in time to count).
  [[nodiscard]] Lease connect_within_interval() {
    // The gate: BasicPool's connect(deadline) is not public API.
    return detail::PoolManagerGate<Pool>(*service_).connect(
        std::chrono::steady_clock::now() + interval_, SourceLocation{});
  }

  // Each statement and the wait for the table's lock are bounded by one
  // interval, the time the transaction may sit idle by half of one. The
  // last one is what frees the table when this process stops between
  // statements (SIGSTOP, a blackholed network, a slow `decide`): the server
  // ends the session instead of keeping every other replica's heartbeat
  // waiting until TCP keepalive notices (hours). Half: another replica that
  // began waiting for the lock then still gets it within its lock_timeout.
  void bound(pqxx::work& tx) const {
    tx.exec(fmt::format("SET LOCAL idle_in_transaction_session_timeout = {}",
                        std::max(interval_ms_ / 2, 1LL)));
    tx.exec(fmt::format("SET LOCAL lock_timeout = {}", interval_ms_));
    tx.exec(fmt::format("SET LOCAL statement_timeout = {}", interval_ms_));
  }

  [[nodiscard]] std::string quoted_table(pqxx::transaction_base& tx) const {
    const auto dot = table_.find('.');
    if (dot == std::string::npos) return tx.quote_name(table_);
    return tx.quote_name(table_.substr(0, dot)) + "." + tx.quote_name(table_.substr(dot + 1));
  }

  static std::size_t count(const pqxx::field& field) {
    const auto value = field.as<long long>();
    return value > 0 ? static_cast<std::size_t>(value) : 0;
  }

  std::shared_ptr<Pool> service_;
  std::string table_;
  std::chrono::milliseconds interval_;
  long long interval_ms_;
  double dead_after_s_;
  std::string replica_id_;
};

}  // namespace

std::string default_replica_id() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host.data(), static_cast<long>(getpid()),
                     static_cast<unsigned>(random()));
}

std::unique_ptr<ReplicaDirectory> make_pqxx_replica_directory(std::shared_ptr<Pool> service,
                                                              const ConnectionLimitOptions& options,
                                                              std::string replica_id) {
  if (!service) throw ConfigError("make_pqxx_replica_directory: the service pool is null");
  options.validate();
  if (replica_id.empty()) replica_id = default_replica_id();
  return std::make_unique<PqxxReplicaDirectory>(std::move(service), options, std::move(replica_id));
}

}  // namespace pgobo
