// A fixed set of worker threads taking jobs from a queue: a stand-in for the
// executor, thread pool or event loop a real service hands its work to.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace examples {

class WorkQueue {
 public:
  explicit WorkQueue(std::size_t threads) {
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this] { work(); });
    }
  }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  // Runs the jobs already posted, then joins the workers. (std::thread, not
  // std::jthread: libc++ 19 has jthread only as an experimental feature.)
  ~WorkQueue() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  // Runs `job` on a worker thread.
  void post(std::function<void()> job) {
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  // Runs `job` on a worker thread; the future gets its result or exception.
  template <class F>
  [[nodiscard]] std::future<std::invoke_result_t<F&>> submit(F job) {
    auto task = std::make_shared<std::packaged_task<std::invoke_result_t<F&>()>>(std::move(job));
    auto result = task->get_future();
    post([task] { (*task)(); });
    return result;
  }

  // co_await queue.resume_on(): the coroutine continues on a worker thread.
  [[nodiscard]] auto resume_on() {
    struct Awaiter {
      WorkQueue* queue;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> coroutine) const {
        queue->post([coroutine] { coroutine.resume(); });
      }
      void await_resume() const noexcept {}
    };
    return Awaiter{this};
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace examples
