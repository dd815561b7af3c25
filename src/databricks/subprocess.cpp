#include "databricks/subprocess.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <array>

#include "pgobo/errors.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace pgobo::databricks::detail {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

[[noreturn]] void fail(std::string_view what, int error) {
  throw CredentialError(fmt::format("cannot run the program: {}: {}", what, std::strerror(error)));
}

std::pair<Fd, Fd> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) fail("pipe", errno);
  return {Fd(fds[0]), Fd(fds[1])};
}

// Secrets of this process that the CLI has no use for: it reads its own
// credentials from its token cache (and an auth type would change what it does).
constexpr std::array<std::string_view, 5> kWithheld{"PGPASSWORD", "DATABRICKS_TOKEN",
                                                    "DATABRICKS_CLIENT_SECRET",
                                                    "DATABRICKS_CLIENT_ID", "DATABRICKS_AUTH_TYPE"};

// The environment: the process's without kWithheld, with `overrides`
// replacing or adding.
std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    bool replaced = false;
    for (const std::string_view name : kWithheld) {
      replaced = replaced || (variable.size() > name.size() && variable.starts_with(name) &&
                              variable[name.size()] == '=');
    }
    for (const auto& [name, value] : overrides) {
      replaced = replaced || (variable.size() > name.size() && variable.starts_with(name) &&
                              variable[name.size()] == '=');
    }
    if (!replaced) out.emplace_back(variable);
  }
  for (const auto& [name, value] : overrides) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Reads what is there; false at end of file.
bool drain(int fd, std::string& into, std::size_t max, bool* truncated) {
  std::array<char, 4096> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;  // nothing more now (non-blocking)
    if (n == 0) return false;
    const auto count = static_cast<std::size_t>(n);
    const std::size_t room = into.size() < max ? max - into.size() : 0;
    into.append(buffer.data(), std::min(room, count));
    if (count > room && truncated != nullptr) *truncated = true;
  }
}

// True once the child has ended, without reaping it: while it is a zombie
// its pid and process group id stay ours, so killing the group cannot hit
// an unrelated process that reused the number.
// `gone` is set when it is not our child any more (reaped elsewhere: SIGCHLD
// ignored, another thread's waitpid(-1)): its number may already belong to
// another process, which must then never be signalled.
bool ended(pid_t pid, bool& gone) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) {
      gone = true;
      return true;
    }
  }
  return info.si_pid == pid;
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) != pid) {
    if (errno != EINTR) return -1;
  }
  return status;
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);  // the group the child leads, and its own children
  ::kill(pid, SIGKILL);   // in case it left the group
}

}  // namespace

RunResult run_program(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& environment,
                      std::chrono::milliseconds timeout, std::size_t max_output) {
  const auto deadline = Clock::now() + timeout;
  auto [out_read, out_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  struct Cleanup {
    posix_spawn_file_actions_t* actions;
    posix_spawnattr_t* attributes;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(actions);
      posix_spawnattr_destroy(attributes);
    }
  } cleanup{&actions, &attributes};
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Nothing else of this process reaches the CLI: not its PostgreSQL
  // sockets, not a descriptor some library opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
  // Its own process group (killable as one), default signal dispositions
  // and an empty mask whatever this process set (an ignored SIGPIPE, say).
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(
      &attributes,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

  std::vector<std::string> args(argv);
  std::vector<std::string> env = child_environment(environment);
  std::vector<char*> arg_pointers = pointers(args);
  std::vector<char*> env_pointers = pointers(env);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, args.at(0).c_str(), &actions, &attributes,
                                    arg_pointers.data(), env_pointers.data());
  if (spawned != 0) fail(args.at(0), spawned);
  out_write.reset();  // the child holds the write ends now
  err_write.reset();
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);

  RunResult result;
  bool out_open = true;
  bool err_open = true;
  bool gone = false;
  // Whatever it started in its group must not outlive it (and on timeout or
  // an error here, neither must it).
  const auto end_child = [&]() -> int {
    if (gone) return -1;
    kill_group(pid);
    return reap(pid);
  };
  try {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        break;
      }
      if (!out_open && !err_open) {
        // Both streams closed; the program may still be running. Wait for it
        // in short steps, bounded by the deadline.
        if (ended(pid, gone)) break;
        const timespec step{0, 5'000'000};
        ::nanosleep(&step, nullptr);
        continue;
      }
      std::array<pollfd, 2> fds{pollfd{out_open ? out_read.get() : -1, POLLIN, 0},
                                pollfd{err_open ? err_read.get() : -1, POLLIN, 0}};
      const int ready =
          ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 1000)));
      if (ready < 0 && errno != EINTR) fail("poll", errno);
      if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        out_open = drain(out_read.get(), result.out, max_output, &result.out_truncated);
      }
      if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        err_open = drain(err_read.get(), result.err, max_output, nullptr);
      }
    }
  } catch (...) {
    (void)end_child();
    throw;
  }
  const int status = end_child();
  if (result.timed_out) return result;
  if (status == -1) {
    result.status_known = false;
  } else if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace pgobo::databricks::detail
