#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pgobo/context.hpp"
#include "test_users.hpp"

namespace {

using pgobo::test::named_user;

// ---------------------------------------------------------------------------
// current_user() and UserScope

TEST(UserScope, WithoutScopeTheThreadActsAsServicePrincipal) {
  EXPECT_EQ(pgobo::current_user(), nullptr);
  EXPECT_EQ(pgobo::current_user_ptr(), nullptr);
}

TEST(UserScope, InstallsItsUserForItsLifetime) {
  const auto alice = named_user("alice");
  {
    const pgobo::UserScope scope{alice};
    EXPECT_EQ(pgobo::current_user(), alice);
    EXPECT_EQ(pgobo::current_user_ptr(), alice.get());
  }
  EXPECT_EQ(pgobo::current_user(), nullptr);
}

TEST(UserScope, AcceptsAUserContextByValue) {
  const pgobo::UserScope scope{pgobo::make_user_context("u1", "bob@example.com", "t")};
  ASSERT_NE(pgobo::current_user(), nullptr);
  EXPECT_EQ(pgobo::current_user()->key(), "bob@example.com");
}

TEST(UserScope, AcceptsTheResultOfHeaderParsing) {
  const std::map<std::string, std::string> request{{"x-forwarded-access-token", "t"},
                                                   {"x-forwarded-user", "u1"}};
  const pgobo::UserScope scope{pgobo::user_context_from_headers(request)};
  ASSERT_NE(pgobo::current_user(), nullptr);
  EXPECT_EQ(pgobo::current_user()->key(), "u1");
}

TEST(UserScope, NulloptInstallsTheServicePrincipal) {
  const pgobo::UserScope as_alice{named_user("alice")};
  {
    const pgobo::UserScope as_service{std::optional<pgobo::UserContext>{}};
    EXPECT_EQ(pgobo::current_user(), nullptr);
  }
  EXPECT_NE(pgobo::current_user(), nullptr);
}

TEST(UserScope, NestedScopeShadowsAndRestoresTheOuter) {
  const auto alice = named_user("alice");
  const auto bob = named_user("bob");
  const pgobo::UserScope outer{alice};
  {
    const pgobo::UserScope inner{bob};
    EXPECT_EQ(pgobo::current_user(), bob);
  }
  EXPECT_EQ(pgobo::current_user(), alice);
}

TEST(UserScope, NullptrScopeRunsAsServiceInsideAUserScope) {
  const auto alice = named_user("alice");
  const pgobo::UserScope outer{alice};
  {
    const pgobo::UserScope as_service{nullptr};
    EXPECT_EQ(pgobo::current_user(), nullptr);
  }
  EXPECT_EQ(pgobo::current_user(), alice);
}

TEST(UserScope, RestoresThePreviousContextWhenAnExceptionUnwinds) {
  const auto alice = named_user("alice");
  const pgobo::UserScope outer{alice};
  EXPECT_THROW(
      {
        const pgobo::UserScope inner{named_user("bob")};
        throw std::runtime_error("request failed");
      },
      std::runtime_error);
  EXPECT_EQ(pgobo::current_user(), alice);
}

TEST(UserScope, KeepsTheContextAliveWhenTheCallerDropsIt) {
  auto alice = named_user("alice");
  const pgobo::UserContext* raw = alice.get();
  const pgobo::UserScope scope{std::move(alice)};
  EXPECT_EQ(pgobo::current_user_ptr(), raw);
  EXPECT_EQ(pgobo::current_user()->key(), "alice@example.com");
}

TEST(UserScope, ThreadsAreIsolated) {
  const auto alice = named_user("alice");
  const auto bob = named_user("bob");
  std::latch alice_installed{1};
  std::latch bob_checked{1};
  std::shared_ptr<const pgobo::UserContext> seen_by_other_before;
  std::shared_ptr<const pgobo::UserContext> seen_by_other_inside;

  std::thread other([&] {
    alice_installed.wait();
    seen_by_other_before = pgobo::current_user();
    const pgobo::UserScope scope{bob};
    seen_by_other_inside = pgobo::current_user();
    bob_checked.count_down();
  });
  {
    const pgobo::UserScope scope{alice};
    alice_installed.count_down();
    bob_checked.wait();
    EXPECT_EQ(pgobo::current_user(), alice);
  }
  other.join();
  EXPECT_EQ(seen_by_other_before, nullptr);
  EXPECT_EQ(seen_by_other_inside, bob);
}

// ---------------------------------------------------------------------------
// bind_context

TEST(BindContext, RunsUnderTheContextOfTheCallerThatBoundIt) {
  const auto alice = named_user("alice");
  std::shared_ptr<const pgobo::UserContext> seen;
  {
    const pgobo::UserScope scope{alice};
    auto bound = pgobo::bind_context([&] { seen = pgobo::current_user(); });
    std::thread(bound).join();
  }
  EXPECT_EQ(seen, alice);
}

TEST(BindContext, RestoresTheCallingThreadsContextAfterwards) {
  const auto alice = named_user("alice");
  const auto bob = named_user("bob");
  auto bound = [&] {
    const pgobo::UserScope scope{alice};
    return pgobo::bind_context([] {});
  }();
  const pgobo::UserScope scope{bob};
  bound();
  EXPECT_EQ(pgobo::current_user(), bob);
}

TEST(BindContext, RestoresTheCallingThreadsContextWhenItThrows) {
  const auto bob = named_user("bob");
  auto bound = [&] {
    const pgobo::UserScope scope{named_user("alice")};
    return pgobo::bind_context([] { throw std::runtime_error("boom"); });
  }();
  const pgobo::UserScope scope{bob};
  EXPECT_THROW(bound(), std::runtime_error);
  EXPECT_EQ(pgobo::current_user(), bob);
}

TEST(BindContext, BoundWithoutContextRunsAsServiceEvenInsideAUserScope) {
  auto bound = pgobo::bind_context([] { return pgobo::current_user(); });
  const pgobo::UserScope scope{named_user("alice")};
  EXPECT_EQ(bound(), nullptr);
}

TEST(BindContext, ForwardsArgumentsAndResult) {
  const pgobo::UserScope scope{named_user("alice")};
  auto bound = pgobo::bind_context([](int a, const std::string& b) {
    return b + std::to_string(a) + pgobo::current_user()->key();
  });
  EXPECT_EQ(bound(7, "x"), "x7alice@example.com");
}

TEST(BindContext, RunsAMoveOnlyCallableCalledAsRvalue) {
  const pgobo::UserScope scope{named_user("alice")};
  auto bound = pgobo::bind_context([owned = std::make_unique<int>(5)]() mutable {
    return *owned + static_cast<int>(pgobo::current_user() != nullptr);
  });
  EXPECT_EQ(std::move(bound)(), 6);
}

// A fixed-size thread pool, as a service would use: workers pop jobs and run them.
class ThreadPool {
 public:
  ThreadPool(std::size_t threads, std::function<void()> after_each_job)
      : after_each_job_(std::move(after_each_job)) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    jobs_changed_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  void post(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    jobs_changed_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        jobs_changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
      after_each_job_();
    }
  }

  std::function<void()> after_each_job_;
  std::mutex mutex_;
  std::condition_variable jobs_changed_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

TEST(BindContext, EightWorkersRunTenThousandTasksOfFiftyUsersEachAsItsSubmitter) {
  constexpr std::size_t kWorkers = 8;
  constexpr std::size_t kTasks = 10'000;
  constexpr std::size_t kUsers = 50;
  std::vector<std::shared_ptr<const pgobo::UserContext>> users;
  for (std::size_t i = 0; i < kUsers; ++i) users.push_back(named_user("user" + std::to_string(i)));

  std::atomic<std::size_t> ran{0};
  std::atomic<std::size_t> wrong_user{0};
  std::atomic<std::size_t> context_left_on_worker{0};
  std::latch all_done{static_cast<std::ptrdiff_t>(kTasks)};
  {
    ThreadPool pool(kWorkers, [&] {
      if (pgobo::current_user_ptr() != nullptr) ++context_left_on_worker;
      all_done.count_down();
    });
    for (std::size_t i = 0; i < kTasks; ++i) {
      const auto& submitter = users[i % kUsers];
      const pgobo::UserScope request{submitter};
      pool.post(pgobo::bind_context([&, expected = submitter.get()] {
        if (pgobo::current_user_ptr() != expected) ++wrong_user;
        ++ran;
      }));
    }
    all_done.wait();
  }
  EXPECT_EQ(ran.load(), kTasks);
  EXPECT_EQ(wrong_user.load(), 0U);
  EXPECT_EQ(context_left_on_worker.load(), 0U);
  EXPECT_EQ(pgobo::current_user(), nullptr);
}

}  // namespace
