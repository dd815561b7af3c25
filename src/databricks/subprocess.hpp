// src/databricks/subprocess.hpp (private) — running a helper program (the
// Databricks CLI) without a shell, bounded in time and output.
//
//   detail::RunResult r = detail::run_program({"/usr/bin/databricks", "auth", "token", "--host",
//   h},
//                                             {{"DATABRICKS_CONFIG_FILE", file}}, 30s);
//
// posix_spawn with an argument vector (no shell, so nothing in an argument is
// interpreted), stdin /dev/null (a CLI never waits on a prompt), stdout and
// stderr through close-on-exec pipes, the child in a process group of its
// own: on timeout the whole group is killed with SIGKILL, so a helper's own
// children do not outlive it holding the pipes.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace pgobo::databricks::detail {

struct RunResult {
  bool timed_out = false;
  // WIFEXITED: exit_status; else the signal that ended it.
  bool exited = false;
  int exit_status = 0;
  int signal = 0;
  // False when the exit status could not be collected (SIGCHLD set to
  // SIG_IGN makes the kernel reap children at once).
  bool status_known = true;
  std::string out;  // at most max_output bytes of stdout
  std::string err;  // at most max_output bytes of stderr
  bool out_truncated = false;
};

// Runs argv[0] (an absolute path: no PATH search here) with `argv`, the
// process environment plus `environment` (replacing variables of the same
// name). Returns when the program ended, or when `timeout` passed (then the
// process group is killed and reaped). Throws CredentialError when the
// program cannot be started (with strerror). Output beyond `max_output`
// bytes per stream is read and dropped.
[[nodiscard]] RunResult run_program(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& environment,
    std::chrono::milliseconds timeout, std::size_t max_output = std::size_t{64} * 1024);

}  // namespace pgobo::databricks::detail
