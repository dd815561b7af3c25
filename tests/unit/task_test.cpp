#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "pgobo/context.hpp"
#include "pgobo/task.hpp"
#include "test_users.hpp"

namespace {

using pgobo::test::named_user;

using UserPtr = std::shared_ptr<const pgobo::UserContext>;

// A thread that runs posted jobs. It acts for its own user for its whole life
// and counts every job before or after which that context was not in place:
// how the tests see that a Task never leaves its context on a foreign thread.
class Executor {
 public:
  explicit Executor(UserPtr own_user) : own_user_(std::move(own_user)) {
    thread_ = std::thread([this] { run(); });
  }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  ~Executor() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    jobs_changed_.notify_all();
    thread_.join();
  }

  void post(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    jobs_changed_.notify_one();
  }

  // Returns once every job posted before has run and been checked, with the
  // number of jobs run so far.
  std::size_t drain() {
    std::latch drained{1};
    std::size_t jobs_before = 0;
    post([&] {
      jobs_before = jobs_run_.load();
      drained.count_down();
    });
    drained.wait();
    return jobs_before;
  }

  [[nodiscard]] std::thread::id id() const { return thread_.get_id(); }
  [[nodiscard]] std::size_t foreign_context_seen() const { return foreign_context_seen_.load(); }

 private:
  void run() {
    const pgobo::UserScope scope{own_user_};
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        jobs_changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      if (pgobo::current_user_ptr() != own_user_.get()) ++foreign_context_seen_;
      job();
      if (pgobo::current_user_ptr() != own_user_.get()) ++foreign_context_seen_;
      ++jobs_run_;
    }
  }

  UserPtr own_user_;
  std::mutex mutex_;
  std::condition_variable jobs_changed_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::atomic<std::size_t> jobs_run_{0};
  std::atomic<std::size_t> foreign_context_seen_{0};
  std::thread thread_;
};

// co_await resume_on(executor): the coroutine continues on the executor's thread.
struct ResumeOn {
  Executor& executor;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) const {
    executor.post([self] { self.resume(); });
  }
  void await_resume() const noexcept {}
};
ResumeOn resume_on(Executor& executor) { return ResumeOn{executor}; }

// co_await event: suspends until the test calls resume(), on the test's thread.
struct ManualEvent {
  std::coroutine_handle<> waiting;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) noexcept { waiting = self; }
  void await_resume() const noexcept {}
  void resume() { std::exchange(waiting, {}).resume(); }
};

// Starts a Task without waiting for it, as a server's event loop would.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};
template <class T>
Detached start(pgobo::Task<T> task, std::latch* done = nullptr) {
  co_await std::move(task);
  if (done != nullptr) done->count_down();
}

// Starts a Task and keeps it: destroying the Owned destroys the Task wherever
// it is suspended.
struct Owned {
  struct promise_type {
    Owned get_return_object() noexcept {
      return Owned{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  explicit Owned(std::coroutine_handle<promise_type> frame) noexcept : handle(frame) {}
  Owned(Owned&& other) noexcept : handle(std::exchange(other.handle, {})) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Owned& operator=(Owned&&) = delete;
  ~Owned() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};
template <class T>
Owned own(pgobo::Task<T> task) {
  co_await std::move(task);
}

// std::this_thread::get_id() is pthread_self(), declared const: clang before
// 17 merges two calls across a co_await, returning the thread the coroutine
// ran on before it was resumed elsewhere. An opaque call is asked afresh.
[[gnu::noinline]] std::thread::id this_thread_id() {
  __asm__ __volatile__("" ::: "memory");
  return std::this_thread::get_id();
}

std::string current_key() {
  const auto* current = pgobo::current_user_ptr();
  return current == nullptr ? "<service>" : current->key();
}

// ---------------------------------------------------------------------------
// The Task type

static_assert(!std::is_copy_constructible_v<pgobo::Task<int>>);
static_assert(!std::is_copy_assignable_v<pgobo::Task<int>>);
static_assert(std::is_nothrow_move_constructible_v<pgobo::Task<int>>);
static_assert(std::is_nothrow_move_assignable_v<pgobo::Task<void>>);

TEST(Task, IsLazy) {
  bool ran = false;
  auto body = [&]() -> pgobo::Task<void> {
    ran = true;
    co_return;
  };
  auto task = body();
  EXPECT_FALSE(ran);
  pgobo::sync_wait(std::move(task));
  EXPECT_TRUE(ran);
}

TEST(Task, SyncWaitReturnsTheValue) {
  auto answer = []() -> pgobo::Task<int> { co_return 42; };
  EXPECT_EQ(pgobo::sync_wait(answer()), 42);
}

TEST(Task, ReturnsMoveOnlyValues) {
  auto make = []() -> pgobo::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  EXPECT_EQ(*pgobo::sync_wait(make()), 7);
}

TEST(Task, AwaitingATaskReturnsItsValue) {
  auto inner = []() -> pgobo::Task<int> { co_return 20; };
  auto outer = [&]() -> pgobo::Task<int> {
    auto lvalue = inner();
    const int a = co_await lvalue;
    const int b = co_await inner();
    co_return a + b + 2;
  };
  EXPECT_EQ(pgobo::sync_wait(outer()), 42);
}

TEST(Task, ExceptionPropagatesThroughSyncWait) {
  auto failing = []() -> pgobo::Task<int> {
    throw std::runtime_error("query failed");
    co_return 0;
  };
  EXPECT_THROW((void)pgobo::sync_wait(failing()), std::runtime_error);
}

TEST(Task, ExceptionPropagatesThroughCoAwait) {
  auto failing = []() -> pgobo::Task<void> {
    throw std::runtime_error("query failed");
    co_return;
  };
  auto outer = [&]() -> pgobo::Task<std::string> {
    try {
      co_await failing();
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what());
    }
    co_return "no exception";
  };
  EXPECT_EQ(pgobo::sync_wait(outer()), "query failed");
}

TEST(Task, DestroyedUnstartedTaskNeverRuns) {
  bool ran = false;
  auto body = [&]() -> pgobo::Task<void> {
    ran = true;
    co_return;
  };
  { auto task = body(); }
  EXPECT_FALSE(ran);
}

TEST(Task, ManySynchronousAwaitsInALoopComplete) {
  auto one = []() -> pgobo::Task<int> { co_return 1; };
  auto sum = [&]() -> pgobo::Task<long> {
    long total = 0;
    for (int i = 0; i < 1'000; ++i) {
      total += co_await one();
    }
    co_return total;
  };
  EXPECT_EQ(pgobo::sync_wait(sum()), 1'000);
}

TEST(Task, SynchronousAwaitsUseConstantStackInOptimisedBuilds) {
#if defined(NDEBUG) && defined(__OPTIMIZE__)
  // Symmetric transfer: each completion resumes the awaiting Task by a tail
  // call, so the 10th and the 100,000th awaited Task run at the same depth.
  std::uintptr_t tenth = 0;
  std::uintptr_t last = 0;
  auto one = [&](int i) -> pgobo::Task<int> {
    const int local = i;
    if (i == 10) tenth = reinterpret_cast<std::uintptr_t>(&local);
    if (i == 100'000) last = reinterpret_cast<std::uintptr_t>(&local);
    co_return 1;
  };
  auto sum = [&]() -> pgobo::Task<long> {
    long total = 0;
    for (int i = 0; i <= 100'000; ++i) {
      total += co_await one(i);
    }
    co_return total;
  };
  EXPECT_EQ(pgobo::sync_wait(sum()), 100'001);
  EXPECT_EQ(tenth, last);
#else
  GTEST_SKIP() << "GCC makes symmetric transfer a tail call only from -O2 up";
#endif
}

// ---------------------------------------------------------------------------
// The context a Task acts for

TEST(Task, RunsAsTheUserWhoCreatedIt) {
  auto task = [] {
    const pgobo::UserScope as_alice{named_user("alice")};
    return []() -> pgobo::Task<std::string> { co_return current_key(); }();
  }();
  const pgobo::UserScope as_bob{named_user("bob")};
  EXPECT_EQ(pgobo::sync_wait(std::move(task)), "alice@example.com");
}

TEST(Task, CreatedWithoutContextRunsAsServiceInsideAUserScope) {
  auto task = []() -> pgobo::Task<std::string> { co_return current_key(); }();
  const pgobo::UserScope as_bob{named_user("bob")};
  EXPECT_EQ(pgobo::sync_wait(std::move(task)), "<service>");
}

TEST(Task, SyncWaitLeavesTheCallersContextAsItWas) {
  const auto bob = named_user("bob");
  auto task = [] {
    const pgobo::UserScope as_alice{named_user("alice")};
    return []() -> pgobo::Task<void> { co_return; }();
  }();
  const pgobo::UserScope as_bob{bob};
  pgobo::sync_wait(std::move(task));
  EXPECT_EQ(pgobo::current_user(), bob);
}

TEST(Task, SeesItsOwnUserAfterEveryResumptionOnAnotherThread) {
  Executor first(named_user("worker-1"));
  Executor second(named_user("worker-2"));
  const pgobo::UserScope as_alice{named_user("alice")};
  auto hop = [&]() -> pgobo::Task<std::vector<std::string>> {
    std::vector<std::string> seen;
    co_await resume_on(first);
    EXPECT_EQ(this_thread_id(), first.id());
    seen.push_back(current_key());
    co_await resume_on(second);
    EXPECT_EQ(this_thread_id(), second.id());
    seen.push_back(current_key());
    co_await resume_on(first);
    seen.push_back(current_key());
    co_return seen;
  };
  EXPECT_EQ(
      pgobo::sync_wait(hop()),
      (std::vector<std::string>{"alice@example.com", "alice@example.com", "alice@example.com"}));
}

TEST(Task, LeavesTheResumingThreadsOwnContextUntouched) {
  Executor worker(named_user("worker"));
  const pgobo::UserScope as_alice{named_user("alice")};
  auto hop = [&]() -> pgobo::Task<void> {
    for (int i = 0; i < 3; ++i) {
      co_await resume_on(worker);
    }
  };
  pgobo::sync_wait(hop());
  // The executor checked its own context before and after each of the three
  // resumptions (the last one runs the Task to its end).
  EXPECT_EQ(worker.drain(), 3U);
  EXPECT_EQ(worker.foreign_context_seen(), 0U);
}

TEST(Task, GivesTheThreadItsContextBackWhenItSuspends) {
  ManualEvent event;
  std::string seen_after_resume;
  auto task = [&] {
    const pgobo::UserScope as_alice{named_user("alice")};
    // Parameters, not captures: the lambda object dies before the Task runs.
    return [](ManualEvent& awaited, std::string& seen) -> pgobo::Task<void> {
      co_await awaited;
      seen = current_key();
    }(event, seen_after_resume);
  }();
  const auto bob = named_user("bob");
  const auto carol = named_user("carol");
  {
    const pgobo::UserScope as_bob{bob};
    start(std::move(task));
    EXPECT_EQ(pgobo::current_user(), bob);  // the Task suspended on the event
  }
  {
    const pgobo::UserScope as_carol{carol};
    event.resume();
    EXPECT_EQ(pgobo::current_user(), carol);  // the Task finished
  }
  EXPECT_EQ(seen_after_resume, "alice@example.com");
}

TEST(Task, NestedTasksOfDifferentUsersDoNotMix) {
  Executor worker(named_user("worker"));
  const pgobo::UserScope as_alice{named_user("alice")};
  auto child = [&]() -> pgobo::Task<std::string> {
    const std::string before = current_key();
    co_await resume_on(worker);
    co_return before + "|" + current_key();
  };
  auto parent = [&]() -> pgobo::Task<std::vector<std::string>> {
    std::vector<std::string> seen;
    pgobo::Task<std::string> for_bob;
    {
      const pgobo::UserScope as_bob{named_user("bob")};
      for_bob = child();
    }
    seen.push_back(co_await std::move(for_bob));
    seen.push_back(current_key());
    seen.push_back(co_await child());  // created under alice: inherits her context
    seen.push_back(current_key());
    co_return seen;
  };
  EXPECT_EQ(pgobo::sync_wait(parent()),
            (std::vector<std::string>{"bob@example.com|bob@example.com", "alice@example.com",
                                      "alice@example.com|alice@example.com", "alice@example.com"}));
  (void)worker.drain();
  EXPECT_EQ(worker.foreign_context_seen(), 0U);
}

TEST(Task, UserScopeInsideTheBodyLastsAcrossCoAwait) {
  Executor worker(named_user("worker"));
  const pgobo::UserScope as_alice{named_user("alice")};
  auto body = [&]() -> pgobo::Task<std::vector<std::string>> {
    std::vector<std::string> seen;
    {
      const pgobo::UserScope as_bob{named_user("bob")};
      co_await resume_on(worker);
      seen.push_back(current_key());
    }
    seen.push_back(current_key());
    co_return seen;
  };
  EXPECT_EQ(pgobo::sync_wait(body()),
            (std::vector<std::string>{"bob@example.com", "alice@example.com"}));
  (void)worker.drain();
  EXPECT_EQ(worker.foreign_context_seen(), 0U);
}

TEST(Task, DestroyingASuspendedTaskRestoresTheThreadsContext) {
  ManualEvent event;
  bool finished = false;
  auto task = [&] {
    const pgobo::UserScope as_alice{named_user("alice")};
    return [](ManualEvent& awaited, bool& done) -> pgobo::Task<void> {
      const pgobo::UserScope as_bob{named_user("bob")};
      co_await awaited;
      done = true;
    }(event, finished);
  }();
  const auto carol = named_user("carol");
  const pgobo::UserScope as_carol{carol};
  {
    // Suspended inside the Task, with the body's UserScope alive; destroying
    // the owner unwinds that scope on this thread.
    const Owned owner = own(std::move(task));
    ASSERT_TRUE(event.waiting);
  }
  EXPECT_FALSE(finished);
  EXPECT_EQ(pgobo::current_user(), carol);
}

// Awaitables that do not suspend must leave the Task's context in place.
struct AlreadyReady {
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  int await_resume() const noexcept { return 1; }
};
struct DeclinesToSuspend {
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<>) const noexcept { return false; }
  int await_resume() const noexcept { return 2; }
};
struct ThrowsFromSuspend {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const { throw std::runtime_error("no executor"); }
  void await_resume() const noexcept {}
};

TEST(Task, ReadyAwaitableKeepsTheContext) {
  const pgobo::UserScope as_alice{named_user("alice")};
  auto body = []() -> pgobo::Task<std::string> {
    const pgobo::UserScope as_bob{named_user("bob")};
    const int one = co_await AlreadyReady{};
    co_return std::to_string(one) + current_key();
  };
  EXPECT_EQ(pgobo::sync_wait(body()), "1bob@example.com");
}

TEST(Task, AwaitableDecliningToSuspendKeepsTheContext) {
  const pgobo::UserScope as_alice{named_user("alice")};
  auto body = []() -> pgobo::Task<std::string> {
    const int two = co_await DeclinesToSuspend{};
    co_return std::to_string(two) + current_key();
  };
  EXPECT_EQ(pgobo::sync_wait(body()), "2alice@example.com");
}

TEST(Task, ExceptionFromAwaitSuspendArrivesInTheTasksContext) {
  const auto bob = named_user("bob");
  auto task = [] {
    const pgobo::UserScope as_alice{named_user("alice")};
    return []() -> pgobo::Task<std::string> {
      try {
        co_await ThrowsFromSuspend{};
      } catch (const std::runtime_error&) {
        co_return current_key();
      }
      co_return "no exception";
    }();
  }();
  const pgobo::UserScope as_bob{bob};
  EXPECT_EQ(pgobo::sync_wait(std::move(task)), "alice@example.com");
  EXPECT_EQ(pgobo::current_user(), bob);
}

TEST(Task, ManyTasksOfManyUsersHoppingAcrossThreadsEachSeeTheirOwnUser) {
  constexpr std::size_t kUsers = 50;
  constexpr std::size_t kTasks = 2'000;
  constexpr int kHops = 3;
  std::vector<UserPtr> users;
  for (std::size_t i = 0; i < kUsers; ++i) users.push_back(named_user("user" + std::to_string(i)));
  std::vector<std::unique_ptr<Executor>> executors;
  executors.reserve(4);
  for (int i = 0; i < 4; ++i) {
    executors.push_back(std::make_unique<Executor>(named_user("worker" + std::to_string(i))));
  }

  std::atomic<std::size_t> wrong_user{0};
  std::latch done{static_cast<std::ptrdiff_t>(kTasks)};
  auto run = [&](const pgobo::UserContext* expected, std::size_t first) -> pgobo::Task<void> {
    for (int hop = 0; hop < kHops; ++hop) {
      co_await resume_on(*executors[(first + static_cast<std::size_t>(hop)) % executors.size()]);
      if (pgobo::current_user_ptr() != expected) ++wrong_user;
    }
  };
  for (std::size_t i = 0; i < kTasks; ++i) {
    const pgobo::UserScope request{users[i % kUsers]};
    start(run(users[i % kUsers].get(), i), &done);
  }
  done.wait();
  EXPECT_EQ(wrong_user.load(), 0U);
  for (const auto& executor : executors) {
    (void)executor->drain();
    EXPECT_EQ(executor->foreign_context_seen(), 0U);
  }
  EXPECT_EQ(pgobo::current_user(), nullptr);
}

}  // namespace
