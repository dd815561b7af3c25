// What tests measure and report beside their verdict: the process's thread
// count (nothing may be left running) and a "[ measured ]" line that also
// lands in the test's XML result.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>

namespace pgobo::test {

// Threads of this process, from /proc/self/task.
inline std::size_t thread_count() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

// Prints a measurement next to the test's result.
inline void report(const std::string& what) {
  std::cout << "[ measured ] " << what << std::endl;
  ::testing::Test::RecordProperty("measured", what);
}

}  // namespace pgobo::test
