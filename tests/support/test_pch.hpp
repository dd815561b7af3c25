// The headers nearly every test file includes, compiled once per test binary
// (target_precompile_headers in tests/CMakeLists.txt) instead of once per
// file: GoogleTest, GoogleMock, cpp-httplib, libpqxx, nlohmann-json, spdlog
// and pgobo's public API are most of each test file's compile time, and CI
// builds the suites four times (dev, asan, tsan, libcxx).
//
// Only headers the files include anyway belong here: a precompiled header is
// included ahead of every file, so a test that must prove a header does *not*
// pull something in cannot live in these binaries.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pgobo/databricks.hpp"
#include "pgobo/pgobo.hpp"
