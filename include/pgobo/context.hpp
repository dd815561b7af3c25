// pgobo/context.hpp — which user the running code acts for.
//
// Every thread has a current user context; none (nullptr) means the service
// principal. pgobo's RoutingPool reads it on each query to pick the user's
// pool. Install it once per request and every query below follows:
//
//   // given: std::map<std::string, std::string> headers
//   pgobo::UserScope scope{pgobo::user_context_from_headers(headers)};
//   db->query("SELECT * FROM app.notes");        // runs as the request's user
//
// Work handed to another thread carries the context with bind_context():
//
//   std::thread worker(pgobo::bind_context([] { db->query("SELECT 1"); }));
//
// A coroutine keeps its own context across co_await with pgobo::Task<T>
// (pgobo/task.hpp, which this header does not include).
//
// Where the context lives is pluggable (ContextStorage below): by default in
// a thread-local variable; code that runs on fibers, or on an executor that
// carries its own per-task state (asio, folly, a framework's request
// context), installs a storage of its own with set_context_storage(), and
// UserScope, current_user() and bind_context() go through it.
//
// Reading the context never locks or allocates: with the default storage,
// current_user_ptr() is a thread-local load (plus one load of the installed
// storage's pointer), current_user() adds a reference count. The thread's
// context is always restored: after a UserScope, a bound call or a coroutine
// step, a thread has exactly the context it had before.
#pragma once

#include <atomic>
#include <cassert>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "pgobo/identity.hpp"

namespace pgobo {

// Where the current user context is kept: the model is OpenTelemetry's
// RuntimeContextStorage. The default keeps it in a thread-local variable
// (ThreadLocalContextStorage); another storage keeps it wherever the code's
// unit of execution keeps its state (a fiber-local, an executor's per-task
// variable), and set_context_storage() installs it for every thread.
//
// A storage is called from many threads at once, each call for the code
// running on that thread (fiber, task), and must not throw. Every attach()
// is undone by exactly one detach() on the same thread, through the same
// storage, nested like scopes: UserScope attaches in its constructor and
// detaches in its destructor, a bound call around the call, a Task around
// each step of the coroutine (from a resumption to the next suspension), so
// a stack-like storage never grows. attach() must accept any context, not
// only one from get_shared(): a Task attaches the context its last step left.
// A UserScope held across a co_await inside a Task attaches in one step and
// detaches in a later one, so its pair does not nest with the Task's: a
// storage that keeps a stack must read detach(previous) as "make previous
// current" (as the default does), not as "pop whatever is on top".
class ContextStorage {
 public:
  virtual ~ContextStorage() = default;

  // The running code's context, or nullptr for the service principal. Valid
  // until the attach() that installed it is undone.
  [[nodiscard]] virtual const UserContext* get() const noexcept = 0;
  // The same, sharing ownership.
  [[nodiscard]] virtual std::shared_ptr<const UserContext> get_shared() const noexcept = 0;
  // Makes `user` (nullptr: the service principal) the running code's
  // context and returns the one it replaces: the token detach() takes back.
  [[nodiscard]] virtual std::shared_ptr<const UserContext> attach(
      std::shared_ptr<const UserContext> user) noexcept = 0;
  // Undoes the latest attach() still in force, reinstalling `previous`,
  // which that attach() returned. By default attach(previous).
  virtual void detach(std::shared_ptr<const UserContext> previous) noexcept {
    (void)attach(std::move(previous));
  }
};

namespace detail {

// The calling thread's context. Out of line on purpose: inside a
// coroutine, a compiler may compute a thread-local's address once and reuse it
// after the coroutine resumed on another thread (clang before 17 can). A call
// computes the address afresh on the thread that makes it; the empty asm keeps
// the optimiser from deeming the call pure and merging two of them.
[[gnu::noinline]] inline std::shared_ptr<const UserContext>& thread_context() noexcept {
  thread_local std::shared_ptr<const UserContext> context;
  __asm__ __volatile__("" ::: "memory");
  return context;
}

// The storage set_context_storage() installed; null: the thread-local
// default, reached without a virtual call.
inline std::atomic<ContextStorage*> installed_context_storage{nullptr};

}  // namespace detail

// The default storage: a thread-local variable of the calling thread.
class ThreadLocalContextStorage final : public ContextStorage {
 public:
  [[nodiscard]] const UserContext* get() const noexcept override {
    return detail::thread_context().get();
  }
  [[nodiscard]] std::shared_ptr<const UserContext> get_shared() const noexcept override {
    return detail::thread_context();
  }
  [[nodiscard]] std::shared_ptr<const UserContext> attach(
      std::shared_ptr<const UserContext> user) noexcept override {
    return std::exchange(detail::thread_context(), std::move(user));
  }
  void detach(std::shared_ptr<const UserContext> previous) noexcept override {
    detail::thread_context() = std::move(previous);
  }

  // The instance in force when no other storage is installed.
  [[nodiscard]] static ThreadLocalContextStorage& instance() noexcept {
    static ThreadLocalContextStorage storage;
    return storage;
  }
};

// Installs `storage` for every thread and returns the storage it replaces;
// nullptr (or &ThreadLocalContextStorage::instance()) restores the default.
// pgobo does not own it: it must outlive every use. Install it at start-up,
// before any thread holds a context (a UserScope, a bound call or a Task made
// under one storage must end under the same one); a context attached in the
// old storage is not carried over.
inline ContextStorage* set_context_storage(ContextStorage* storage) noexcept {
  ContextStorage* const fallback = &ThreadLocalContextStorage::instance();
  ContextStorage* const previous = detail::installed_context_storage.exchange(
      storage == fallback ? nullptr : storage, std::memory_order_acq_rel);
  return previous != nullptr ? previous : fallback;
}

// The storage in force.
[[nodiscard]] inline ContextStorage& context_storage() noexcept {
  ContextStorage* const storage = detail::installed_context_storage.load(std::memory_order_acquire);
  return storage != nullptr ? *storage : ThreadLocalContextStorage::instance();
}

namespace detail {

// attach() of the storage in force, in place: `user` and the current context
// trade places (with the default storage a swap of two pointers, as cheap as
// before storage was pluggable; passing shared_ptrs by value here doubled the
// cost of a UserScope). Returns the storage it went through (nullptr: the
// thread-local default), for the detach_context() that undoes it: the pair
// stays in one storage even if set_context_storage() runs in between.
[[nodiscard]] inline ContextStorage* attach_context(
    std::shared_ptr<const UserContext>& user) noexcept {
  ContextStorage* const storage = installed_context_storage.load(std::memory_order_acquire);
  if (storage != nullptr) {
    user = storage->attach(std::move(user));
  } else {
    thread_context().swap(user);
  }
  return storage;
}

// detach() of `storage`, undoing the attach_context() that returned it:
// `previous`, what that call left there, is current again. Afterwards
// `previous` holds what was current before (what the code in between left:
// a Task keeps it for its next step; a UserScope drops it).
inline void detach_context(ContextStorage* storage,
                           std::shared_ptr<const UserContext>& previous) noexcept {
  if (storage != nullptr) {
    std::shared_ptr<const UserContext> current = storage->get_shared();
    storage->detach(std::move(previous));
    previous = std::move(current);
    return;
  }
  thread_context().swap(previous);
}

}  // namespace detail

// The context of the calling thread (or fiber, task: see ContextStorage), or
// nullptr when it acts as the service principal. Costs one atomic
// reference-count increment.
[[nodiscard]] inline std::shared_ptr<const UserContext> current_user() noexcept {
  if (ContextStorage* storage = detail::installed_context_storage.load(std::memory_order_acquire)) {
    return storage->get_shared();
  }
  return detail::thread_context();
}

// The same without taking a reference: valid until the scope (UserScope,
// bound call, Task step) that installed it ends. For a quick look, such as a
// log line or a pool lookup that copies what it keeps.
[[nodiscard]] inline const UserContext* current_user_ptr() noexcept {
  if (ContextStorage* storage = detail::installed_context_storage.load(std::memory_order_acquire)) {
    return storage->get();
  }
  return detail::thread_context().get();
}

// Installs a context on this thread for the scope's lifetime and restores the
// previous one when it ends, also when an exception unwinds. Scopes nest;
// nullptr or nullopt installs the service principal.
//
//   {
//     pgobo::UserScope as_alice{alice};
//     {
//       pgobo::UserScope as_service{nullptr};   // a query the app makes as itself
//     }
//   }
//
// A scope belongs to the thread (or the Task) that created it; destroy scopes
// in reverse order of creation, which block scope does by itself.
class UserScope {
 public:
  [[nodiscard]] explicit UserScope(std::shared_ptr<const UserContext> user) noexcept
      : installed_(user.get()), previous_(std::move(user)) {
    storage_ = detail::attach_context(previous_);
  }
  [[nodiscard]] explicit UserScope(UserContext user)
      : UserScope(std::make_shared<const UserContext>(std::move(user))) {}
  [[nodiscard]] explicit UserScope(std::optional<UserContext> user)
      : UserScope(user ? std::make_shared<const UserContext>(std::move(*user))
                       : std::shared_ptr<const UserContext>()) {}

  UserScope(const UserScope&) = delete;
  UserScope& operator=(const UserScope&) = delete;
  UserScope(UserScope&&) = delete;
  UserScope& operator=(UserScope&&) = delete;

  ~UserScope() {
    // A mismatch means scopes ended out of order, e.g. a UserScope held across
    // co_await in a coroutine type other than pgobo::Task.
    assert((storage_ != nullptr ? storage_->get() : detail::thread_context().get()) == installed_ &&
           "pgobo::UserScope ended out of order");
    detail::detach_context(storage_, previous_);
  }

 private:
  const UserContext* installed_;
  std::shared_ptr<const UserContext> previous_;
  ContextStorage* storage_ = nullptr;  // the one attached through (nullptr: the default)
};

namespace detail {

// f, run under the context captured when it was bound.
template <class F>
class ContextBound {
 public:
  ContextBound(std::shared_ptr<const UserContext> user, F function)
      : user_(std::move(user)), function_(std::move(function)) {}

  template <class... Args>
  requires std::invocable<F&, Args...>
  decltype(auto) operator()(Args&&... args) & {
    const UserScope scope{user_};
    return std::invoke(function_, std::forward<Args>(args)...);
  }
  template <class... Args>
  requires std::invocable<const F&, Args...>
  decltype(auto) operator()(Args&&... args) const& {
    const UserScope scope{user_};
    return std::invoke(function_, std::forward<Args>(args)...);
  }
  template <class... Args>
  requires std::invocable<F&&, Args...>
  decltype(auto) operator()(Args&&... args) && {
    const UserScope scope{std::move(user_)};
    return std::invoke(std::move(function_), std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<const UserContext> user_;
  F function_;
};

}  // namespace detail

// Returns a callable that runs f under the caller's current context, on
// whatever thread calls it, then gives that thread its own context back. For
// thread pools, executors and callbacks. Copyable when f is.
template <class F>
[[nodiscard]] auto bind_context(F&& f) {
  return detail::ContextBound<std::decay_t<F>>(current_user(), std::forward<F>(f));
}

}  // namespace pgobo
