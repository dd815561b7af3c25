// pgobo/detail/budget.hpp — one limit shared by many pools, first come first
// served, that can make room by evicting.
//
// PoolManager keeps two: one counts the open connections of all user pools
// (max_total_connections), one counts the user pools (max_pools). A permit is
// taken before the thing it counts is opened and given back when it closes:
//
//   // given: bool close_an_idle_connection(); void open_the_connection()
//   pgobo::detail::Budget budget(/*max_total=*/50);
//   budget.set_evictor([] { return close_an_idle_connection(); });
//   const auto deadline = std::chrono::steady_clock::now() + 10s;
//   if (!budget.acquire(deadline)) throw pgobo::AcquireTimeout("the global limit is reached");
//   open_the_connection();            // on failure: budget.release()
//   budget.release();                 // when the connection closes
//
// At the limit, acquire() first asks the evictor to close something idle (the
// least recently used user's connection, or pool); if there is nothing, it
// waits until a permit is released or its deadline passes. A released permit
// goes straight to the longest waiter, so a newcomer never overtakes.
//
// The limit may move at run time (set_max_total(): a replica's share of the
// server under the automatic connection limit, connection_limit.hpp). Lowered
// below in_use(), nothing is taken away: no permit is granted until enough
// come back to fall below the new limit, and those that come back meanwhile
// are retired, not handed on; over_limit() tells a pool to close, rather than
// keep idle, a connection coming back. Raised, the new room goes to the
// longest waiters at once.
//
// Internal: PoolManager owns its budgets and hands the connection budget to
// each user pool through detail::PoolManagerGate.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "pgobo/detail/pool_list.hpp"

namespace pgobo::detail {

class Budget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Budget(std::size_t max_total) : max_total_(max_total), limit_(max_total) {}
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;
  ~Budget();

  // Closes one idle thing somewhere (giving its permit back through
  // release()) and says whether it did. Called without the budget's lock.
  void set_evictor(std::function<bool()> evictor);

  // Takes a permit, waiting first come first served until `deadline`. False
  // at the deadline or once close() has been called. An exception from the
  // evictor goes on to the caller, with nothing taken and nothing left queued.
  [[nodiscard]] bool acquire(Clock::time_point deadline);
  // Takes a permit only if one is free now and nobody is waiting.
  [[nodiscard]] bool try_acquire();
  // Gives a permit back; the longest waiter gets it.
  void release() noexcept;
  // Wakes every waiter with a refusal; later acquire() calls fail at once.
  void close() noexcept;
  // Something may have become evictable without a permit being released (for
  // the pool budget: a user pool's last lease came back): the first waiter
  // runs the evictor again rather than sleep to its deadline. Cheap when
  // nobody waits.
  void retry_eviction() noexcept;

  // Moves the limit (see the top of this file); 0 grants nothing until it is
  // raised again. Returns the permits over the new limit (in_use() beyond
  // it), which come back as their holders release them.
  std::size_t set_max_total(std::size_t max_total) noexcept;

  // The limit now; read without the lock (for messages and statistics).
  [[nodiscard]] std::size_t max_total() const noexcept {
    return limit_.load(std::memory_order_relaxed);
  }
  // close() was called: a refused acquire() was a shutdown, not a timeout.
  [[nodiscard]] bool is_closed() const;
  [[nodiscard]] std::size_t in_use() const;
  // Permits held beyond a lowered limit: in_use() - max_total(), or 0.
  [[nodiscard]] std::size_t excess() const;
  [[nodiscard]] std::size_t waiting() const;
  // waiting() > 0, read without the lock: pools call it on every release to
  // close, rather than keep idle, a connection another pool is waiting for.
  [[nodiscard]] bool has_waiters() const noexcept {
    return waiting_.load(std::memory_order_relaxed) > 0;
  }
  // in_use() > max_total() after the limit was lowered, read without the
  // lock: pools call it on every release to close, rather than keep idle, a
  // connection over the limit.
  [[nodiscard]] bool over_limit() const noexcept { return over_.load(std::memory_order_relaxed); }
  // How many acquire() calls gave up at their deadline, and how many idle
  // things the evictor closed for a waiter.
  [[nodiscard]] std::uint64_t timeouts() const;
  [[nodiscard]] std::uint64_t evictions() const;

 private:
  // A waiting acquire(): lives on the waiting thread's stack, queued in
  // arrival order; release() hands the permit to the front directly.
  struct Waiter : ListHook {
    std::condition_variable ready;
    bool granted = false;
  };

  void enqueue(Waiter& w);
  void dequeue(Waiter& w) noexcept;
  void release_locked() noexcept;
  // in_use_ or max_total_ changed: refresh over_.
  void note_usage_locked() noexcept;
  // A waiter leaves without its permit (the evictor threw): dequeued, or its
  // granted permit passed on.
  void abandon_locked(Waiter& w) noexcept;

  mutable std::mutex mutex_;
  std::size_t max_total_;           // written under mutex_
  std::atomic<std::size_t> limit_;  // max_total_, for lock-free readers
  std::size_t in_use_ = 0;
  std::atomic<bool> over_{false};        // in_use_ > max_total_, written under mutex_
  std::atomic<std::size_t> waiting_{0};  // queue_.size(), written under mutex_
  bool closed_ = false;
  IntrusiveList<Waiter> queue_;
  std::uint64_t timeouts_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t nudges_ = 0;  // retry_eviction() calls that found waiters
  std::function<bool()> evictor_;
};

}  // namespace pgobo::detail
