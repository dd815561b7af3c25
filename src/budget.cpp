#include "pgobo/detail/budget.hpp"

#include <atomic>
#include <utility>

namespace pgobo::detail {

Budget::~Budget() { close(); }

void Budget::set_evictor(std::function<bool()> evictor) {
  std::lock_guard lock(mutex_);
  evictor_ = std::move(evictor);
}

bool Budget::try_acquire() {
  std::lock_guard lock(mutex_);
  if (closed_ || !queue_.empty() || in_use_ >= max_total_) return false;
  ++in_use_;
  note_usage_locked();
  return true;
}

bool Budget::acquire(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (closed_) return false;
  if (queue_.empty() && in_use_ < max_total_) {
    ++in_use_;
    note_usage_locked();
    return true;
  }
  Waiter self;
  enqueue(self);
  // Make room by closing something idle. Its release() hands the freed
  // permit to the front of the queue, which is fair even if that is not us.
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
        // `self` lives in this frame: it must not stay queued, and a permit
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
      // The lock was down: a release() may have granted us the permit, and
      // its notify found nobody waiting. Re-check before waiting, or we would
      // sleep to the deadline holding a granted permit.
      continue;
    }
    if (self.ready.wait_until(lock, deadline) == std::cv_status::timeout && !self.granted) break;
    evictor = evictor_;  // woken by a release or close: room may be made again
  }
  if (self.granted) return true;  // release() already counted our permit
  dequeue(self);
  if (!closed_) ++timeouts_;
  return false;
}

void Budget::release() noexcept {
  std::lock_guard lock(mutex_);
  release_locked();
}

void Budget::release_locked() noexcept {
  // Over a lowered limit the permit is retired, not handed on: the waiters
  // wait until in_use_ is back under the limit.
  if (in_use_ <= max_total_) {
    if (Waiter* w = queue_.front()) {
      // Hand the permit over: in_use_ stays the same.
      dequeue(*w);
      w->granted = true;
      w->ready.notify_one();
      return;
    }
  }
  if (in_use_ > 0) --in_use_;
  note_usage_locked();
}

std::size_t Budget::set_max_total(std::size_t max_total) noexcept {
  std::lock_guard lock(mutex_);
  max_total_ = max_total;
  limit_.store(max_total, std::memory_order_relaxed);
  // Raised: the room goes to the longest waiters now, as a release would
  // give it; nobody else would wake them before their deadline. After
  // close() they are leaving with a refusal: nothing to grant.
  while (!closed_ && in_use_ < max_total_) {
    Waiter* w = queue_.front();
    if (w == nullptr) break;
    dequeue(*w);
    ++in_use_;
    w->granted = true;
    w->ready.notify_one();
  }
  note_usage_locked();
  return in_use_ > max_total_ ? in_use_ - max_total_ : 0;
}

void Budget::note_usage_locked() noexcept {
  over_.store(in_use_ > max_total_, std::memory_order_relaxed);
}

void Budget::abandon_locked(Waiter& w) noexcept {
  if (w.granted) {
    release_locked();  // already dequeued by the release that granted it
  } else {
    dequeue(w);
  }
}

void Budget::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
  queue_.for_each_from_back([](Waiter& w) { w.ready.notify_one(); });
}

void Budget::retry_eviction() noexcept {
  // Pairs with the fence before each evictor call in acquire(): either this
  // load sees the waiter, or the waiter's evictor sees whatever the caller
  // released just before calling us (e.g. its reference to a pool).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!has_waiters()) return;
  std::lock_guard lock(mutex_);
  ++nudges_;  // for a waiter running its evictor right now: look again
  if (Waiter* w = queue_.front()) w->ready.notify_one();
}

bool Budget::is_closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t Budget::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

std::size_t Budget::excess() const {
  std::lock_guard lock(mutex_);
  return in_use_ > max_total_ ? in_use_ - max_total_ : 0;
}

std::size_t Budget::waiting() const { return waiting_.load(std::memory_order_relaxed); }

std::uint64_t Budget::timeouts() const {
  std::lock_guard lock(mutex_);
  return timeouts_;
}

std::uint64_t Budget::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

void Budget::enqueue(Waiter& w) {
  queue_.push_back(w);
  waiting_.store(queue_.size(), std::memory_order_relaxed);
}

void Budget::dequeue(Waiter& w) noexcept {
  queue_.erase(w);
  waiting_.store(queue_.size(), std::memory_order_relaxed);
}

}  // namespace pgobo::detail
