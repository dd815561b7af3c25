// A ContextStorage of one's own (set_context_storage): UserScope,
// current_user(), bind_context() and Task go through it, and the thread-local
// default comes back when it is uninstalled.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "pgobo/context.hpp"
#include "pgobo/task.hpp"

namespace {

using UserPtr = std::shared_ptr<const pgobo::UserContext>;

UserPtr user(const std::string& name) {
  return std::make_shared<const pgobo::UserContext>(
      pgobo::make_user_context(name, name + "@example.com", "token-" + name));
}

// One context for the whole process (as a storage keyed by fiber or executor
// task would have one per fiber), counting every call.
class CountingStorage final : public pgobo::ContextStorage {
 public:
  [[nodiscard]] const pgobo::UserContext* get() const noexcept override {
    ++gets;
    return current.get();
  }
  [[nodiscard]] UserPtr get_shared() const noexcept override {
    ++gets;
    return current;
  }
  [[nodiscard]] UserPtr attach(UserPtr user) noexcept override {
    ++attaches;
    return std::exchange(current, std::move(user));
  }
  void detach(UserPtr previous) noexcept override {
    ++detaches;
    current = std::move(previous);
  }

  UserPtr current;
  mutable std::size_t gets = 0;
  std::size_t attaches = 0;
  std::size_t detaches = 0;
};

// Installs the storage for one test and always restores the default.
class ContextStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { previous_ = pgobo::set_context_storage(&storage_); }
  void TearDown() override { pgobo::set_context_storage(nullptr); }

  CountingStorage storage_;
  pgobo::ContextStorage* previous_ = nullptr;
};

TEST_F(ContextStorageTest, TheDefaultWasInForceBefore) {
  EXPECT_EQ(previous_, &pgobo::ThreadLocalContextStorage::instance());
  EXPECT_EQ(&pgobo::context_storage(), &storage_);
}

TEST_F(ContextStorageTest, UserScopeAndCurrentUserGoThroughTheInstalledStorage) {
  const UserPtr alice = user("alice");
  EXPECT_EQ(pgobo::current_user_ptr(), nullptr);
  {
    const pgobo::UserScope scope{alice};
    EXPECT_EQ(storage_.attaches, 1U);
    EXPECT_EQ(storage_.current, alice);
    EXPECT_EQ(pgobo::current_user_ptr(), alice.get());
    EXPECT_EQ(pgobo::current_user(), alice);
    {
      const pgobo::UserScope as_service{UserPtr{}};
      EXPECT_EQ(pgobo::current_user_ptr(), nullptr);
    }
    EXPECT_EQ(pgobo::current_user_ptr(), alice.get());
  }
  EXPECT_EQ(storage_.detaches, 2U);
  EXPECT_EQ(storage_.current, nullptr);
  EXPECT_GE(storage_.gets, 4U);
}

TEST_F(ContextStorageTest, TheThreadLocalDefaultIsLeftAlone) {
  const pgobo::UserScope scope{user("alice")};
  // Read the default directly: nothing reached it.
  EXPECT_EQ(pgobo::ThreadLocalContextStorage::instance().get(), nullptr);
}

TEST_F(ContextStorageTest, BindContextCapturesAndRunsThroughIt) {
  const UserPtr bob = user("bob");
  auto bound = [&] {
    const pgobo::UserScope scope{bob};
    return pgobo::bind_context([] { return pgobo::current_user_ptr(); });
  }();
  EXPECT_EQ(storage_.current, nullptr);
  EXPECT_EQ(bound(), bob.get());
  EXPECT_EQ(storage_.current, nullptr);
}

TEST_F(ContextStorageTest, TaskStepsSwapThroughIt) {
  const UserPtr carol = user("carol");
  auto task = [&] {
    const pgobo::UserScope scope{carol};
    return
        []() -> pgobo::Task<const pgobo::UserContext*> { co_return pgobo::current_user_ptr(); }();
  }();
  const std::size_t before = storage_.attaches;
  EXPECT_EQ(pgobo::sync_wait(std::move(task)), carol.get());
  EXPECT_GT(storage_.attaches, before);
  EXPECT_EQ(storage_.current, nullptr);
}

// Every attach() is undone by one detach() through the same storage, also
// for the steps of a Task. Before, a Task swapped its context in and out
// with attach() alone: a storage that pushes on attach() and pops on
// detach() grew by one on every suspension.
TEST_F(ContextStorageTest, EveryAttachOfATaskStepIsUndoneByADetach) {
  const UserPtr carol = user("carol");
  auto task = [&] {
    const pgobo::UserScope scope{carol};
    return []() -> pgobo::Task<int> {
      auto child = []() -> pgobo::Task<const pgobo::UserContext*> {
        co_return pgobo::current_user_ptr();
      };
      int same = 0;
      for (int i = 0; i < 3; ++i) {  // each co_await suspends this Task
        const pgobo::UserContext* seen = co_await child();
        if (seen == pgobo::current_user_ptr()) ++same;
      }
      co_return same;
    }();
  }();
  const std::size_t attaches_before = storage_.attaches;
  const std::size_t detaches_before = storage_.detaches;

  EXPECT_EQ(pgobo::sync_wait(std::move(task)), 3);

  EXPECT_GE(storage_.attaches - attaches_before, 7U);  // 4 steps of the Task, 3 children
  EXPECT_EQ(storage_.attaches - attaches_before, storage_.detaches - detaches_before);
  EXPECT_EQ(storage_.current, nullptr);
}

// A scope ends in the storage it began in, even if another storage was
// installed meanwhile. Before, its destructor detached through the new one
// and left the user behind in the thread-local default.
TEST(ContextStorage, AScopeEndsInTheStorageItBeganIn) {
  CountingStorage storage;
  const UserPtr alice = user("alice");
  {
    const pgobo::UserScope scope{alice};  // the thread-local default
    pgobo::set_context_storage(&storage);
  }
  pgobo::set_context_storage(nullptr);

  EXPECT_EQ(pgobo::ThreadLocalContextStorage::instance().get(), nullptr);
  EXPECT_EQ(storage.detaches, 0U);
  EXPECT_EQ(storage.current, nullptr);
}

TEST(ContextStorage, UninstallingRestoresTheThreadLocalDefault) {
  CountingStorage storage;
  const UserPtr alice = user("alice");
  pgobo::set_context_storage(&storage);
  {
    const pgobo::UserScope scope{alice};
    EXPECT_EQ(storage.current, alice);
  }
  EXPECT_EQ(pgobo::set_context_storage(nullptr), &storage);
  EXPECT_EQ(&pgobo::context_storage(), &pgobo::ThreadLocalContextStorage::instance());
  {
    const pgobo::UserScope scope{alice};
    EXPECT_EQ(storage.current, nullptr);  // no longer consulted
    EXPECT_EQ(pgobo::current_user_ptr(), alice.get());
    EXPECT_EQ(pgobo::ThreadLocalContextStorage::instance().get(), alice.get());
    // Another thread has its own current again.
    const pgobo::UserContext* seen = alice.get();
    std::thread([&] { seen = pgobo::current_user_ptr(); }).join();
    EXPECT_EQ(seen, nullptr);
  }
  EXPECT_EQ(storage.attaches, 1U);
}

TEST(ContextStorage, InstallingTheDefaultExplicitlyKeepsTheFastPath) {
  pgobo::ThreadLocalContextStorage& fallback = pgobo::ThreadLocalContextStorage::instance();
  EXPECT_EQ(pgobo::set_context_storage(&fallback), &fallback);
  EXPECT_EQ(&pgobo::context_storage(), &fallback);
  const UserPtr alice = user("alice");
  const pgobo::UserScope scope{alice};
  EXPECT_EQ(fallback.get(), alice.get());
  EXPECT_EQ(fallback.get_shared(), alice);
}

}  // namespace
