// Helpers shared by the end-to-end benchmark programs (bench/e2e_*_bench.cpp,
// scale_bench.cpp, contention_bench.cpp): sample statistics, client CPU time,
// the throwaway server's address, and markdown table output.
//
//   pgobo::bench::Samples s;
//   s.add(std::chrono::nanoseconds(1200));
//   s.percentile(0.99);                       // nearest-rank, in ns
//
//   const auto cpu0 = pgobo::bench::process_cpu();
//   ...;
//   const auto cpu = pgobo::bench::process_cpu() - cpu0;   // user + system
//
// These programs print markdown that scripts/bench pastes into
// docs/benchmarks.md. They report numbers; they never assert them.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgobo::bench {

using Clock = std::chrono::steady_clock;

// Latency samples in nanoseconds.
class Samples {
 public:
  void reserve(std::size_t n) { values_.reserve(n); }
  void add(std::chrono::nanoseconds d) { values_.push_back(d.count()); }
  void add_ns(std::int64_t ns) { values_.push_back(ns); }
  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }

  // Nearest-rank percentile (0 < q ≤ 1) in ns; 0 when empty.
  [[nodiscard]] double percentile(double q) {
    if (values_.empty()) return 0;
    sort();
    auto rank = static_cast<std::size_t>(q * static_cast<double>(values_.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, values_.size());
    return static_cast<double>(values_[rank - 1]);
  }
  [[nodiscard]] double median() { return percentile(0.5); }
  [[nodiscard]] double max() {
    if (values_.empty()) return 0;
    sort();
    return static_cast<double>(values_.back());
  }
  [[nodiscard]] double mean() const {
    if (values_.empty()) return 0;
    double sum = 0;
    for (auto v : values_) sum += static_cast<double>(v);
    return sum / static_cast<double>(values_.size());
  }

 private:
  void sort() {
    if (!sorted_) std::sort(values_.begin(), values_.end());
    sorted_ = true;
  }
  std::vector<std::int64_t> values_;
  bool sorted_ = false;
};

// The median of a few numbers (e.g. one figure over repetitions).
inline double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// User + system CPU time of the whole process (every thread) so far.
inline std::chrono::nanoseconds process_cpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return std::chrono::duration_cast<std::chrono::nanoseconds>(tv(usage.ru_utime) +
                                                              tv(usage.ru_stime));
}

// Same, for the calling thread only.
inline std::chrono::nanoseconds thread_cpu() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return std::chrono::duration_cast<std::chrono::nanoseconds>(tv(usage.ru_utime) +
                                                              tv(usage.ru_stime));
}

inline std::string env_or(const char* name, std::string fallback = {}) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

inline long env_long(const char* name, long fallback) {
  const std::string text = env_or(name);
  return text.empty() ? fallback : std::strtol(text.c_str(), nullptr, 10);
}

// "--name=value" from argv, else the fallback.
inline long arg_long(int argc, char** argv, std::string_view name, long fallback) {
  const std::string prefix = "--" + std::string(name) + "=";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg.starts_with(prefix)) {
      return std::strtol(std::string(arg.substr(prefix.size())).c_str(), nullptr, 10);
    }
  }
  return fallback;
}

// The throwaway server scripts/pg started and the roles scripts/bench made
// (bench/sql/setup.sql): PGOBO_PG_HOST/PORT/DATABASE, and
// PGOBO_BENCH_PASSWORD, the password of every bench role.
struct Server {
  std::string host;
  std::string port;
  std::string database;
  std::string password;

  static Server from_env() {
    Server s{env_or("PGOBO_PG_HOST"), env_or("PGOBO_PG_PORT"),
             env_or("PGOBO_PG_DATABASE", "postgres"), env_or("PGOBO_BENCH_PASSWORD")};
    if (s.host.empty() || s.port.empty() || s.password.empty()) {
      throw std::runtime_error(
          "no server: run under scripts/bench (needs PGOBO_PG_HOST, PGOBO_PG_PORT and "
          "PGOBO_BENCH_PASSWORD)");
    }
    return s;
  }

  // libpq conninfo for `role` over TCP (scram-sha-256), as pgobo's pools log in.
  [[nodiscard]] std::string conninfo(std::string_view role) const {
    return "host=" + host + " port=" + port + " dbname=" + quote(database) +
           " user=" + quote(role) + " password=" + quote(password) + " sslmode=disable";
  }

  static std::string quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  }
};

// The role of bench user i: bench_u000, bench_u001, … (bench/sql/setup.sql).
inline std::string bench_role(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "bench_u%03d", i);
  return name;
}

// Formatting for the markdown tables.
inline std::string us(double ns, int decimals = 1) {
  char out[64];
  std::snprintf(out, sizeof out, "%.*f µs", decimals, ns / 1000.0);
  return out;
}
inline std::string fixed(double value, int decimals = 2) {
  char out[64];
  std::snprintf(out, sizeof out, "%.*f", decimals, value);
  return out;
}
inline std::string with_ns(double ns) {
  char out[64];
  if (ns < 10'000) {
    std::snprintf(out, sizeof out, "%.0f ns", ns);
  } else if (ns < 10'000'000) {
    std::snprintf(out, sizeof out, "%.1f µs", ns / 1e3);
  } else {
    std::snprintf(out, sizeof out, "%.1f ms", ns / 1e6);
  }
  return out;
}
inline const char* verdict(bool met) { return met ? "**met**" : "**missed**"; }

}  // namespace pgobo::bench
