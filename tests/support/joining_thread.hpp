// A thread joined when it goes out of scope, even when an assertion returns
// early: std::jthread without its stop token, which libc++ 19 offers only
// as an experimental feature (-fexperimental-library).
//
//   JoiningThread waiter([&] { got = pool.connect()->id(); });
//   ...
//   waiter.join();   // or let the destructor join
#pragma once

#include <concepts>
#include <thread>
#include <type_traits>
#include <utility>

namespace pgobo::test {

class JoiningThread {
 public:
  template <class F>
  requires(!std::same_as<std::remove_cvref_t<F>, JoiningThread>) explicit JoiningThread(F&& body)
      : thread_(std::forward<F>(body)) {}
  JoiningThread(JoiningThread&&) noexcept = default;
  JoiningThread& operator=(JoiningThread&&) = delete;
  JoiningThread(const JoiningThread&) = delete;
  JoiningThread& operator=(const JoiningThread&) = delete;
  ~JoiningThread() {
    if (thread_.joinable()) thread_.join();
  }

  void join() { thread_.join(); }
  [[nodiscard]] bool joinable() const noexcept { return thread_.joinable(); }

 private:
  std::thread thread_;
};

}  // namespace pgobo::test
