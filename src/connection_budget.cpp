#include "pgobo/connection_budget.hpp"

#include <atomic>
#include <utility>

namespace pgobo {

ConnectionBudget::~ConnectionBudget() { close(); }

void ConnectionBudget::set_evictor(std::function<bool()> evictor) {
  std::lock_guard lock(mutex_);
  evictor_ = std::move(evictor);
}

bool ConnectionBudget::try_acquire() {
  std::lock_guard lock(mutex_);
  if (closed_ || head_ != nullptr || in_use_ >= max_total_) return false;
  ++in_use_;
  return true;
}

bool ConnectionBudget::acquire(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (closed_) return false;
  if (head_ == nullptr && in_use_ < max_total_) {
    ++in_use_;
    return true;
  }
  Waiter self;
  enqueue(self);
  // Make room by closing someone's idle connection. Its release() hands the
  // freed slot to the head of the queue, which is fair even if that is not us.
  // Each waiter evicts until the evictor finds nothing, then once more per
  // wake-up, so an idle-less system does not spin.
  auto evictor = evictor_;
  while (!self.granted && !closed_) {
    if (evictor) {
      const std::uint64_t nudges_before = nudges_;
      lock.unlock();
      std::atomic_thread_fence(std::memory_order_seq_cst);  // see retry_eviction()
      bool evicted = false;
      try {
        evicted = evictor();
      } catch (...) {
        // `self` lives in this frame: it must not stay linked, and a slot
        // granted to it meanwhile goes to the next waiter.
        lock.lock();
        abandon_locked(self);
        throw;
      }
      lock.lock();
      if (evicted) {
        ++evictions_;
      } else if (nudges_ == nudges_before) {
        // Nothing idle anywhere, and nothing became evictable while the
        // evictor ran (a nudge then would have found us busy, not waiting):
        // wait for a release or a nudge.
        evictor = nullptr;
      }
      // The lock was down: a release() may have granted us the slot, and its
      // notify found nobody waiting. Re-check before waiting, or we would
      // sleep to the deadline holding a granted slot.
      continue;
    }
    if (self.ready.wait_until(lock, deadline) == std::cv_status::timeout && !self.granted) break;
    evictor = evictor_;  // woken by a release or close: room may be made again
  }
  if (self.granted) return true;  // release() already counted our slot
  unlink(self);
  if (!closed_) ++timeouts_;
  return false;
}

void ConnectionBudget::release() noexcept {
  std::lock_guard lock(mutex_);
  release_locked();
}

void ConnectionBudget::release_locked() noexcept {
  if (head_ != nullptr) {
    // Hand the slot over: in_use_ stays the same.
    Waiter* w = head_;
    unlink(*w);
    w->granted = true;
    w->ready.notify_one();
    return;
  }
  if (in_use_ > 0) --in_use_;
}

void ConnectionBudget::abandon_locked(Waiter& w) noexcept {
  if (w.granted) {
    release_locked();  // already unlinked by the release that granted it
  } else {
    unlink(w);
  }
}

void ConnectionBudget::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (Waiter* w = head_; w != nullptr; w = w->next) w->ready.notify_one();
}

void ConnectionBudget::retry_eviction() noexcept {
  // Pairs with the fence before each evictor call in acquire(): either this
  // load sees the waiter, or the waiter's evictor sees whatever the caller
  // released just before calling us (e.g. its reference to a pool).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!has_waiters()) return;
  std::lock_guard lock(mutex_);
  ++nudges_;  // for a waiter running its evictor right now: look again
  if (head_ != nullptr) head_->ready.notify_one();
}

bool ConnectionBudget::is_closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t ConnectionBudget::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

std::size_t ConnectionBudget::waiting() const { return waiting_.load(std::memory_order_relaxed); }

std::uint64_t ConnectionBudget::timeouts() const {
  std::lock_guard lock(mutex_);
  return timeouts_;
}

std::uint64_t ConnectionBudget::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

void ConnectionBudget::enqueue(Waiter& w) {
  w.prev = tail_;
  if (tail_ != nullptr) {
    tail_->next = &w;
  } else {
    head_ = &w;
  }
  tail_ = &w;
  ++waiting_;
}

void ConnectionBudget::unlink(Waiter& w) noexcept {
  if (w.prev != nullptr) {
    w.prev->next = w.next;
  } else {
    head_ = w.next;
  }
  if (w.next != nullptr) {
    w.next->prev = w.prev;
  } else {
    tail_ = w.prev;
  }
  w.next = w.prev = nullptr;
  --waiting_;
}

}  // namespace pgobo
