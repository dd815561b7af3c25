// pgobo/detail/pool_wait_histogram.hpp — acquire-wait percentiles in O(1)
// memory.
//
// Every connect() records how long it waited. Keeping each sample would grow
// without bound, so waits are counted in power-of-two buckets of
// microseconds; a percentile is reported as its bucket's upper bound (at most
// 2× the true value), the maximum exactly. Recording is a few instructions
// and never allocates. Not thread-safe: the pool's mutex guards it.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>

namespace pgobo::detail {

class WaitHistogram {
 public:
  // Bucket 0: under 1 µs; bucket i: [2^(i-1), 2^i) µs; the last bucket holds
  // everything longer (2^38 µs is over three days).
  static constexpr std::size_t kBuckets = 40;

  void record(std::chrono::microseconds wait) noexcept {
    const auto us = static_cast<std::uint64_t>(wait.count() < 0 ? 0 : wait.count());
    std::size_t bucket = static_cast<std::size_t>(std::bit_width(us));
    if (bucket >= kBuckets) bucket = kBuckets - 1;
    ++counts_[bucket];
    ++total_;
    if (wait > max_) max_ = wait;
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }
  [[nodiscard]] std::chrono::microseconds max() const noexcept { return max_; }

  // The upper bound of the bucket holding the q-quantile (0 < q ≤ 1), capped
  // at the observed maximum; zero when nothing was recorded.
  [[nodiscard]] std::chrono::microseconds percentile(double q) const noexcept {
    if (total_ == 0) return std::chrono::microseconds{0};
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t bucket = 0; bucket < kBuckets; ++bucket) {
      seen += counts_[bucket];
      if (seen >= rank) {
        const std::chrono::microseconds upper{bucket == 0 ? 0 : (std::int64_t{1} << bucket) - 1};
        return upper < max_ ? upper : max_;
      }
    }
    return max_;
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::chrono::microseconds max_{0};
};

}  // namespace pgobo::detail
