// pgobo/detail/pool_lease.hpp — the handle on one lent connection
// (BasicPool<…>::Lease, pgobo::Lease for Pool).
//
// Include pgobo/pool.hpp, not this header.
#pragma once

#include <memory>
#include <utility>

namespace pgobo::detail {

template <class Pool>
class PoolManagerGate;

// Move-only handle on one lent connection. Destroying it (or release())
// gives the connection back; discard() closes it instead. It holds the
// pool's core, so it may outlive the pool: given back after the pool
// ended, its connection simply closes.
template <class Core>
class PoolLease {
 public:
  using Connection = typename Core::Connection;

  PoolLease() noexcept = default;
  PoolLease(PoolLease&& other) noexcept
      : pool_(std::move(other.pool_)),
        pooled_(std::exchange(other.pooled_, nullptr)),
        owner_(std::move(other.owner_)) {}
  PoolLease& operator=(PoolLease&& other) noexcept {
    if (this != &other) {
      release();
      pool_ = std::move(other.pool_);
      pooled_ = std::exchange(other.pooled_, nullptr);
      owner_ = std::move(other.owner_);
    }
    return *this;
  }
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;
  ~PoolLease() { release(); }

  [[nodiscard]] Connection& operator*() const noexcept { return *pooled_->connection; }
  [[nodiscard]] Connection* operator->() const noexcept { return pooled_->connection.get(); }
  [[nodiscard]] Connection& connection() const noexcept { return *pooled_->connection; }
  // False once released, discarded or moved from.
  [[nodiscard]] explicit operator bool() const noexcept { return pooled_ != nullptr; }

  // Gives the connection back now.
  void release() noexcept { give_back(/*discard=*/false); }
  // Closes the connection instead of giving it back: for session state
  // that must not reach the next borrower, or a connection you know is bad.
  void discard() noexcept { give_back(/*discard=*/true); }
  // Whether the session is reset when the connection comes back (see
  // PoolOptions::session_reset). connect() sets it, the pool's own query()
  // does not; a caller that ran statements of its own choosing on a lease
  // it got otherwise sets it too. Under SessionReset::always or ::never
  // the option decides.
  void set_session_reset(bool needed) noexcept {
    if (pooled_ != nullptr) pooled_->needs_reset = needed;
  }
  // For a lease whose transaction the caller began and whose session acts
  // for someone else (RoutingPool's set_role mode): when the connection comes
  // back inside a transaction, `sql` ends it instead of ROLLBACK (what it
  // leaves open is rolled back; a transaction that will not end closes the
  // connection), and the session is reset whatever set_session_reset() and
  // the pool's option say (a failed reset closes it). `sql` must outlive the
  // lease (a string literal).
  void finish_with(const char* sql) noexcept {
    if (pooled_ != nullptr) pooled_->finish_sql = sql;
  }

 private:
  using PooledConnection = typename Core::PooledConnection;
  friend Core;
  template <class Pool>
  friend class PoolManagerGate;

  // Keeps `owner` alive until the connection is back: PoolManager keeps
  // the user's pool (and its place under max_pools) for as long as a
  // request holds one of its connections (PoolManagerGate::keep_alive).
  void keep_alive(std::shared_ptr<const void> owner) noexcept { owner_ = std::move(owner); }

  PoolLease(std::shared_ptr<Core> pool, PooledConnection* pooled) noexcept
      : pool_(std::move(pool)), pooled_(pooled) {}

  void give_back(bool discard) noexcept {
    if (pooled_ != nullptr) pool_->release(std::exchange(pooled_, nullptr), discard);
    pool_.reset();   // may be the core's last owner: the pool was destroyed meanwhile
    owner_.reset();  // after the connection is back: this may destroy the pool
  }

  std::shared_ptr<Core> pool_;
  PooledConnection* pooled_ = nullptr;
  std::shared_ptr<const void> owner_;
};

}  // namespace pgobo::detail
