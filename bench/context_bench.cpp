// What reading and switching the user context costs: the router reads it on
// every query, so current_user() must stay a thread-local load.
#include <benchmark/benchmark.h>

#include <coroutine>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "pgobo/context.hpp"
#include "pgobo/identity.hpp"
#include "pgobo/task.hpp"

namespace {

std::shared_ptr<const pgobo::UserContext> alice() {
  static const auto user = std::make_shared<const pgobo::UserContext>(
      pgobo::make_user_context("1234", "alice@example.com", "dapi-token-of-alice"));
  return user;
}

void BM_CurrentUser_ServicePrincipal(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::current_user());
}
BENCHMARK(BM_CurrentUser_ServicePrincipal)->ThreadRange(1, 2);

// A shared_ptr copy: one uncontended atomic increment and decrement per read
// (each thread has its own UserContext, as each request has).
void BM_CurrentUser_User(benchmark::State& state) {
  const pgobo::UserScope scope{std::make_shared<const pgobo::UserContext>(*alice())};
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::current_user());
}
BENCHMARK(BM_CurrentUser_User)->ThreadRange(1, 2);

void BM_CurrentUserPtr_User(benchmark::State& state) {
  const pgobo::UserScope scope{alice()};
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::current_user_ptr());
}
BENCHMARK(BM_CurrentUserPtr_User)->ThreadRange(1, 2);

// What the router does per query: read the context, then its key and fingerprint.
void BM_RouterRead_KeyAndFingerprint(benchmark::State& state) {
  const pgobo::UserScope scope{alice()};
  for (auto _ : state) {
    const auto* user = pgobo::current_user_ptr();
    benchmark::DoNotOptimize(user->key().data());
    benchmark::DoNotOptimize(user->token_fingerprint().data());
  }
}
BENCHMARK(BM_RouterRead_KeyAndFingerprint);

void BM_UserScope_EnterExit(benchmark::State& state) {
  const auto user = alice();
  for (auto _ : state) {
    const pgobo::UserScope scope{user};
    benchmark::DoNotOptimize(pgobo::current_user_ptr());
  }
}
BENCHMARK(BM_UserScope_EnterExit);

void BM_BindContext_Bind(benchmark::State& state) {
  const pgobo::UserScope scope{alice()};
  int calls = 0;
  for (auto _ : state) {
    auto bound = pgobo::bind_context([&calls] { ++calls; });
    benchmark::DoNotOptimize(bound);
  }
}
BENCHMARK(BM_BindContext_Bind);

void BM_BindContext_Call(benchmark::State& state) {
  auto bound = [] {
    const pgobo::UserScope scope{alice()};
    return pgobo::bind_context([] { return pgobo::current_user_ptr(); });
  }();
  for (auto _ : state) benchmark::DoNotOptimize(bound());
}
BENCHMARK(BM_BindContext_Call);

// Baseline for the two above: the same lambda without context.
void BM_PlainLambda_Call(benchmark::State& state) {
  auto plain = [] { return pgobo::current_user_ptr(); };
  for (auto _ : state) benchmark::DoNotOptimize(plain());
}
BENCHMARK(BM_PlainLambda_Call);

// --- Task resume: one suspend/resume cycle of a running Task ---------------

struct Parked {
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) const noexcept { *slot = self; }
  void await_resume() const noexcept {}
};

// Starts a Task and owns it, so the benchmark can resume it at will.
struct Runner {
  struct promise_type {
    Runner get_return_object() noexcept {
      return Runner{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  explicit Runner(std::coroutine_handle<promise_type> frame) noexcept : handle(frame) {}
  Runner(Runner&& other) noexcept : handle(std::exchange(other.handle, {})) {}
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  Runner& operator=(Runner&&) = delete;
  ~Runner() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};

Runner run(pgobo::Task<void> task) { co_await std::move(task); }

pgobo::Task<void> park_forever(std::coroutine_handle<>* slot) {
  for (;;) {
    co_await Parked{slot};
  }
}

void BM_Task_ResumeSuspend(benchmark::State& state) {
  std::coroutine_handle<> parked;
  auto task = [&] {
    const pgobo::UserScope scope{alice()};
    return park_forever(&parked);
  }();
  const Runner runner = run(std::move(task));
  for (auto _ : state) parked.resume();
}
BENCHMARK(BM_Task_ResumeSuspend);

pgobo::Task<int> answer() { co_return 42; }

void BM_Task_CreateAndSyncWait(benchmark::State& state) {
  const pgobo::UserScope scope{alice()};
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::sync_wait(answer()));
}
BENCHMARK(BM_Task_CreateAndSyncWait);

pgobo::Task<int> await_answer() { co_return co_await answer(); }

void BM_Task_AwaitNestedTask(benchmark::State& state) {
  const pgobo::UserScope scope{alice()};
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::sync_wait(await_answer()));
}
BENCHMARK(BM_Task_AwaitNestedTask);

// --- Building the context per request --------------------------------------

void BM_MakeUserContext(benchmark::State& state) {
  const std::string token(900, 'x');  // Databricks OAuth tokens are ~900 bytes
  for (auto _ : state) {
    benchmark::DoNotOptimize(pgobo::make_user_context("1234", "alice@example.com", token));
  }
}
BENCHMARK(BM_MakeUserContext);

void BM_UserContextFromHeaders(benchmark::State& state) {
  const std::map<std::string, std::string> request{
      {"Host", "app.example.com"},
      {"X-Forwarded-Access-Token", std::string(900, 'x')},
      {"X-Forwarded-Email", "alice@example.com"},
      {"X-Forwarded-Preferred-Username", "alice"},
      {"X-Forwarded-User", "1234"}};
  for (auto _ : state) benchmark::DoNotOptimize(pgobo::user_context_from_headers(request));
}
BENCHMARK(BM_UserContextFromHeaders);

}  // namespace

BENCHMARK_MAIN();
