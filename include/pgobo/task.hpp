// pgobo/task.hpp — Task<T>, a lazy coroutine that keeps its user context,
// and sync_wait() to run one from ordinary code.
//
//   pgobo::Task<int> count_notes() {
//     co_await hop_to_io_thread();               // resumed elsewhere: still the same user
//     co_return pool.query("SELECT count(*) FROM app.notes")[0][0].as<int>();
//   }
//   // given: std::suspend_never hop_to_io_thread()
//
//   int n = pgobo::sync_wait(count_notes());
//
// A Task acts for the user current where its coroutine function was called
// (pgobo/context.hpp): every time it resumes, on whichever thread, it
// installs that context, and it gives the thread its own back each time it
// suspends. It goes through the context storage in force, so it works with a
// ContextStorage of your own too. Code on another coroutine library or an
// executor without pgobo::Task carries the user with bind_context() or a
// ContextStorage instead (docs/context.md).
#pragma once

#include <cassert>
#include <concepts>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <variant>

#include "pgobo/context.hpp"
#include "pgobo/identity.hpp"

namespace pgobo {

template <class T = void>
class Task;

namespace detail {

class TaskPromiseBase {
 public:
  // A Task acts for whoever created it (the caller of the coroutine function).
  TaskPromiseBase() noexcept : context_(current_user()) {}

  // enter() runs on every resumption: it attaches the Task's context (the
  // storage's attach()), parking the thread's in the promise. leave() runs on
  // every suspension and at the end: the matching detach(), which gives the
  // thread its context back and keeps the Task's as the body left it (a
  // UserScope in the body may have changed it). While the Task runs,
  // context_ holds the thread's context; while it is suspended, the Task's.
  void enter() noexcept { storage_ = attach_context(context_); }
  void leave() noexcept { detach_context(storage_, context_); }

  void set_continuation(std::coroutine_handle<> continuation) noexcept {
    continuation_ = continuation;
  }

  // The Task's context while it is not running (before Task destroys it).
  std::shared_ptr<const UserContext> take_context() noexcept { return std::move(context_); }

  struct InitialAwaiter {
    TaskPromiseBase* promise;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept { promise->enter(); }
  };
  InitialAwaiter initial_suspend() noexcept { return InitialAwaiter{this}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) const noexcept {
      TaskPromiseBase& promise = self.promise();
      const std::coroutine_handle<> next =
          promise.continuation_ ? promise.continuation_ : std::noop_coroutine();
      promise.leave();
      return next;
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  // Wraps every co_await of the body so the Task leaves its context before it
  // suspends and re-enters it when resumed, on whichever thread that is.
  template <class Awaitable>
  auto await_transform(Awaitable&& awaitable);

 private:
  template <class Awaitable>
  static decltype(auto) get_awaiter(Awaitable&& awaitable) {
    if constexpr (requires { std::forward<Awaitable>(awaitable).operator co_await(); }) {
      return std::forward<Awaitable>(awaitable).operator co_await();
    } else if constexpr (requires { operator co_await(std::forward<Awaitable>(awaitable)); }) {
      return operator co_await(std::forward<Awaitable>(awaitable));
    } else {
      return std::forward<Awaitable>(awaitable);
    }
  }

  std::shared_ptr<const UserContext> context_;
  ContextStorage* storage_ = nullptr;  // the one enter() attached through (nullptr: the default)
  std::coroutine_handle<> continuation_;
};

// The awaiter of a co_await inside a Task, around the awaitable's own awaiter
// (held by value, or by reference when the awaitable is its own awaiter: the
// operand of co_await lives until the co_await completes).
template <class Awaiter>
class ContextAwaiter {
 public:
  ContextAwaiter(Awaiter&& awaiter, TaskPromiseBase& promise) noexcept(
      std::is_nothrow_constructible_v<Awaiter, Awaiter&&>)
      : awaiter_(std::forward<Awaiter>(awaiter)), promise_(&promise) {}

  bool await_ready() { return awaiter_.await_ready(); }

  template <class Promise>
  auto await_suspend(std::coroutine_handle<Promise> self) {
    // Leave first: once the inner await_suspend has published `self`, another
    // thread may resume it, and this thread must not touch the frame again.
    suspended_ = true;
    promise_->leave();
    try {
      return awaiter_.await_suspend(self);
    } catch (...) {
      // An exception from await_suspend resumes the coroutine without
      // await_resume: come back into the Task's context here.
      suspended_ = false;
      promise_->enter();
      throw;
    }
  }

  decltype(auto) await_resume() {
    if (suspended_) {
      suspended_ = false;
      promise_->enter();
    }
    return awaiter_.await_resume();
  }

 private:
  Awaiter awaiter_;
  TaskPromiseBase* promise_;
  bool suspended_ = false;
};

template <class Awaitable>
auto TaskPromiseBase::await_transform(Awaitable&& awaitable) {
  using Awaiter = decltype(get_awaiter(std::forward<Awaitable>(awaitable)));
  return ContextAwaiter<Awaiter>(get_awaiter(std::forward<Awaitable>(awaitable)), *this);
}

template <class T>
class TaskPromise final : public TaskPromiseBase {
 public:
  Task<T> get_return_object() noexcept;

  template <class U = T>
  requires std::constructible_from<T, U&&>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    result_.template emplace<1>(std::forward<U>(value));
  }
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }

  T take_result() {
    if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
    return std::move(std::get<1>(result_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class TaskPromise<void> final : public TaskPromiseBase {
 public:
  Task<void> get_return_object() noexcept;

  void return_void() noexcept {}
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  void take_result() const {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  std::exception_ptr exception_;
};

}  // namespace detail

// A lazy coroutine returning T that acts for the user who created it.
//
// The coroutine runs under the context current where the coroutine function
// was called, every time it resumes — also when something resumes it on
// another thread — and gives the thread its own context back each time it
// suspends or finishes. A UserScope inside the body lasts across co_await.
//
// Nothing runs until the Task is awaited (co_await, from another Task or any
// coroutine) or passed to sync_wait(). Move-only; awaited once. An exception
// leaving the body is rethrown by co_await or sync_wait. Awaiting one Task
// from another is a symmetric transfer: chains of any depth use constant stack.
template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  static_assert(!std::is_reference_v<T>, "Task<T&> is not supported: return a pointer");

  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  // False for a default-constructed or moved-from Task.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }

  class Awaiter {
   public:
    explicit Awaiter(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      handle_.promise().set_continuation(awaiting);
      return handle_;
    }
    T await_resume() { return handle_.promise().take_result(); }

   private:
    std::coroutine_handle<promise_type> handle_;
  };

  // The Task runs when awaited; the awaiting coroutine resumes when it ends,
  // on the thread where it ended.
  Awaiter operator co_await() && noexcept {
    assert(handle_ && !handle_.done() && "co_await on an empty or finished pgobo::Task");
    return Awaiter{handle_};
  }
  Awaiter operator co_await() & noexcept {
    assert(handle_ && !handle_.done() && "co_await on an empty or finished pgobo::Task");
    return Awaiter{handle_};
  }

 private:
  friend class detail::TaskPromise<T>;
  template <class U>
  friend U sync_wait(Task<U> task);
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}

  void destroy() noexcept {
    if (!handle_) return;
    // Destroyed under the Task's own context: destructors of its locals (a
    // UserScope held across co_await) restore into the Task's chain of
    // contexts, then the thread gets its own back.
    auto parked = handle_.promise().take_context();
    ContextStorage* const storage = detail::attach_context(parked);
    std::exchange(handle_, {}).destroy();
    detail::detach_context(storage, parked);
  }

  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

// The coroutine sync_wait() runs: it awaits the Task and, when the Task ends
// (on whichever thread), wakes the waiting thread.
class SyncWaitDriver {
 public:
  struct Signal {
    std::mutex mutex;
    std::condition_variable done_changed;
    bool done = false;

    void notify() {
      const std::lock_guard lock(mutex);
      done = true;
      done_changed.notify_one();
    }
    void wait() {
      std::unique_lock lock(mutex);
      done_changed.wait(lock, [this] { return done; });
    }
  };

  struct promise_type {
    Signal* signal = nullptr;

    SyncWaitDriver get_return_object() noexcept {
      return SyncWaitDriver(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Notify {
        bool await_ready() const noexcept { return false; }
        // Signalled once the driver is suspended, so the waiting thread may
        // destroy it as soon as it wakes.
        void await_suspend(std::coroutine_handle<promise_type> self) const noexcept {
          self.promise().signal->notify();
        }
        void await_resume() const noexcept {}
      };
      return Notify{};
    }
    void return_void() noexcept {}
    // The Task's exception is kept by the Task, not thrown here.
    void unhandled_exception() noexcept { std::terminate(); }
  };

  explicit SyncWaitDriver(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  SyncWaitDriver(SyncWaitDriver&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  SyncWaitDriver(const SyncWaitDriver&) = delete;
  SyncWaitDriver& operator=(const SyncWaitDriver&) = delete;
  SyncWaitDriver& operator=(SyncWaitDriver&&) = delete;
  ~SyncWaitDriver() {
    if (handle_) handle_.destroy();
  }

  void run(Signal& signal) {
    handle_.promise().signal = &signal;
    handle_.resume();
    signal.wait();
  }

 private:
  std::coroutine_handle<promise_type> handle_;
};

// Awaits the Task's completion without taking its result, which sync_wait
// then takes on its own thread (so an exception is rethrown there).
template <class T>
struct CompletionOf {
  std::coroutine_handle<TaskPromise<T>> task;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> driver) noexcept {
    task.promise().set_continuation(driver);
    return task;
  }
  void await_resume() const noexcept {}
};

template <class T>
SyncWaitDriver drive(CompletionOf<T> completion) {
  co_await completion;
}

}  // namespace detail

// Runs the Task to completion, blocking the calling thread, and returns its
// result or rethrows its exception. The Task acts for the user it captured
// when created; the calling thread's own context is the same afterwards. For
// main(), tests and thread-per-request servers. Never call it on a thread that
// must itself run the Task's next step (an event loop's only thread): it would
// wait forever.
template <class T>
T sync_wait(Task<T> task) {
  assert(task.valid() && "sync_wait on an empty pgobo::Task");
  detail::SyncWaitDriver::Signal signal;
  detail::SyncWaitDriver driver = detail::drive(detail::CompletionOf<T>{task.handle_});
  driver.run(signal);
  return task.handle_.promise().take_result();
}

}  // namespace pgobo
