// A directory of its own for a test's files (configuration files, fake
// programs), removed with everything in it by the destructor.
//
//   pgobo::test::TempDir dir;
//   std::string cfg = dir.write(".databrickscfg", "[DEFAULT]\nhost = …\n");
//   std::string cli = dir.write("bin/databricks", "#!/bin/sh\n…", 0755);
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgobo::test {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/pgobo-test.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("TempDir: mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

  // Writes `content` to `name` (sub-directories made as needed) with `mode`,
  // and returns its absolute path. The file is closed before this returns,
  // so a program written here can be executed at once.
  std::string write(const std::string& name, std::string_view content, mode_t mode = 0644) const {
    const std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      if (!out) throw std::runtime_error("TempDir: cannot write " + file.string());
    }
    if (::chmod(file.c_str(), mode) != 0) throw std::runtime_error("TempDir: chmod failed");
    return file.string();
  }

 private:
  std::string path_;
};

}  // namespace pgobo::test
