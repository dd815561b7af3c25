// pgobo/connection_budget.hpp — one limit on the connections of many pools.
//
// PoolManager gives each user a small pool; the budget keeps users × connections
// under what the server (and the other replicas of the service) can take.
// A pool takes a slot before it opens a connection and gives it back when that
// connection closes:
//
//   // given: bool close_an_idle_connection(); void open_the_connection()
//   pgobo::ConnectionBudget budget(/*max_total=*/50);
//   budget.set_evictor([] { return close_an_idle_connection(); });  // PoolManager sets its own
//   const auto deadline = std::chrono::steady_clock::now() + 10s;
//   if (!budget.acquire(deadline)) throw pgobo::AcquireTimeout("the global limit is reached");
//   open_the_connection();            // on failure: budget.release()
//   budget.release();                 // when the connection closes
//
// At the limit, acquire() first asks the evictor to close an idle connection
// of the least recently used user; if there is none it waits, first come first
// served, until a slot is released or its deadline passes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

namespace pgobo {

class ConnectionBudget {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ConnectionBudget(std::size_t max_total) : max_total_(max_total) {}
  ConnectionBudget(const ConnectionBudget&) = delete;
  ConnectionBudget& operator=(const ConnectionBudget&) = delete;
  ~ConnectionBudget();

  // Closes one idle connection somewhere (returning its slot through
  // release()) and says whether it did. Called without any budget lock held.
  void set_evictor(std::function<bool()> evictor);

  // Takes a slot, waiting FIFO until `deadline`. False at the deadline or
  // once close() has been called. An exception from the evictor goes on to
  // the caller, with nothing taken and nothing left queued.
  [[nodiscard]] bool acquire(Clock::time_point deadline);
  // Takes a slot only if one is free now and nobody is waiting.
  [[nodiscard]] bool try_acquire();
  // Gives a slot back; the longest waiter gets it.
  void release() noexcept;
  // Wakes every waiter with a refusal; later acquire() calls fail at once.
  void close() noexcept;
  // Something may have become evictable without a slot being released (for
  // the pool budget: a user pool's last lease came back): the first waiter
  // runs the evictor again rather than sleep to its deadline. Cheap when
  // nobody waits.
  void retry_eviction() noexcept;

  [[nodiscard]] std::size_t max_total() const noexcept { return max_total_; }
  // close() was called: a refused acquire() was a shutdown, not a timeout.
  [[nodiscard]] bool is_closed() const;
  [[nodiscard]] std::size_t in_use() const;
  [[nodiscard]] std::size_t waiting() const;
  // waiting() > 0, read without the lock: pools call it on every release to
  // close, rather than keep idle, a connection another pool is waiting for.
  [[nodiscard]] bool has_waiters() const noexcept {
    return waiting_.load(std::memory_order_relaxed) > 0;
  }
  // How many acquire() calls gave up at their deadline, and how many idle
  // connections the evictor closed for a waiter.
  [[nodiscard]] std::uint64_t timeouts() const;
  [[nodiscard]] std::uint64_t evictions() const;

 private:
  // A waiting acquire(): lives on the waiting thread's stack, linked in FIFO
  // order; release() hands the slot to the head directly so a newcomer can
  // never take it first.
  struct Waiter {
    std::condition_variable ready;
    bool granted = false;
    Waiter* next = nullptr;
    Waiter* prev = nullptr;
  };

  void enqueue(Waiter& w);
  void unlink(Waiter& w) noexcept;
  void release_locked() noexcept;
  // A waiter leaves without its slot (the evictor threw): unlinked, or its
  // granted slot passed on.
  void abandon_locked(Waiter& w) noexcept;

  const std::size_t max_total_;
  mutable std::mutex mutex_;
  std::size_t in_use_ = 0;
  std::atomic<std::size_t> waiting_{0};  // written under mutex_
  bool closed_ = false;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::uint64_t timeouts_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t nudges_ = 0;  // retry_eviction() calls that found waiters
  std::function<bool()> evictor_;
};

}  // namespace pgobo
