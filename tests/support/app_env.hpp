// A test fixture with an environment of its own for
// databricks::AppConfig::from_env: the process environment is never read or
// changed, so tests stay independent and may run beside others.
//
//   class MyEnv : public pgobo::test::AppEnvTest {};
//   TEST_F(MyEnv, Reads) {
//     set("PGHOST", "db");
//     EXPECT_THAT(error(), HasSubstr("PGDATABASE"));   // from_env threw ConfigError
//   }
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pgobo/config.hpp"
#include "pgobo/databricks/config.hpp"
#include "pgobo/errors.hpp"

namespace pgobo::test {

class AppEnvTest : public ::testing::Test {
 protected:
  void set(const std::string& name, std::string value) { env_[name] = std::move(value); }
  void unset(const std::string& name) { env_.erase(name); }

  [[nodiscard]] EnvLookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      const auto found = env_.find(std::string(name));
      if (found == env_.end()) return std::nullopt;
      return found->second;
    };
  }

  [[nodiscard]] databricks::AppConfig read() const {
    return databricks::AppConfig::from_env(lookup());
  }

  // read()'s ConfigError message; fails the test if none is thrown.
  [[nodiscard]] std::string error() const {
    try {
      (void)read();
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "from_env() accepted the environment";
    return "";
  }

 private:
  std::map<std::string, std::string> env_;
};

}  // namespace pgobo::test
