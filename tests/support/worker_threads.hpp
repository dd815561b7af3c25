// A small thread pool for tests: threads that run posted jobs with no user
// context of their own (the service principal) unless a job carries one, and
// an awaitable that moves a coroutine onto them.
//
//   WorkerThreads workers(2);
//   workers.post(pgobo::bind_context([&] { ... }));   // runs as the poster's user
//   auto value = workers.run([&] { return ...; });     // posts and waits for the result
//   co_await ResumeOn{workers};                        // the coroutine continues there
#pragma once

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgobo::test {

class WorkerThreads {
 public:
  explicit WorkerThreads(int count) {
    for (int i = 0; i < count; ++i) threads_.emplace_back([this] { loop(); });
  }
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;
  ~WorkerThreads() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void post(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    changed_.notify_one();
  }

  // Runs f on a worker and waits for its result (or exception).
  template <class F>
  auto run(F f) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    std::future<R> result = task->get_future();
    post([task] { (*task)(); });
    return result.get();
  }

  [[nodiscard]] bool runs_here() const {
    for (const auto& t : threads_) {
      if (t.get_id() == std::this_thread::get_id()) return true;
    }
    return false;
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// co_await ResumeOn{workers}: the coroutine continues on a worker thread.
struct ResumeOn {
  WorkerThreads& workers;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) const {
    workers.post([self] { self.resume(); });
  }
  void await_resume() const noexcept {}
};

}  // namespace pgobo::test
