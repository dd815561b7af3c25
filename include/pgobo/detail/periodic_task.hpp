// pgobo/detail/periodic_task.hpp — a thread that runs one function every
// interval until it is stopped.
//
// PoolManager's sweeper is one: every sweep_interval it reaps idle and old
// connections and drops unused pools. The first run comes one interval after
// construction; stop() (or destruction) ends the wait at once, lets a run in
// progress finish and joins the thread. A run that throws std::exception is
// logged as a warning and the next run comes as usual. Not copyable or
// movable (the thread holds `this`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace pgobo::detail {

class PeriodicTask {
 public:
  // When the first run comes: one interval after construction (the
  // sweeper), or at once (a heartbeat that others wait for).
  enum class FirstRun { after_interval, at_once };

  // Starts the thread. `name` is for the log ("PoolManager: sweep" logs
  // "PoolManager: sweep failed: …"). `interval` must be positive.
  PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task, std::string name,
               FirstRun first = FirstRun::after_interval);

  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  ~PeriodicTask() { stop(); }

  // Ends the wait, lets a run in progress finish and joins the thread. Only
  // the first call waits; later ones return at once. Must not be called from
  // the task itself (it would join its own thread).
  void stop() noexcept;

 private:
  void run();

  std::chrono::milliseconds interval_;
  std::function<void()> task_;
  std::string name_;
  FirstRun first_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace pgobo::detail
