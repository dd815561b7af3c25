#include "pgobo/detail/periodic_task.hpp"

#include <exception>
#include <utility>

#include "pgobo/log.hpp"

namespace pgobo::detail {

PeriodicTask::PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task,
                           std::string name, FirstRun first)
    : interval_(interval), task_(std::move(task)), name_(std::move(name)), first_(first) {
  thread_ = std::thread([this] { run(); });
}

void PeriodicTask::stop() noexcept {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;  // another call joins (or joined) the thread
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PeriodicTask::run() {
  std::unique_lock lock(mutex_);
  bool wait = first_ == FirstRun::after_interval;
  while (!stopping_) {
    if (wait && wake_.wait_for(lock, interval_, [this] { return stopping_; })) break;
    wait = true;
    lock.unlock();
    try {
      task_();
    } catch (const std::exception& e) {
      logger()->warn("{} failed: {}", name_, e.what());
    }
    lock.lock();
  }
}

}  // namespace pgobo::detail
