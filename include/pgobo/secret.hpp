// pgobo/secret.hpp — a token or password that never prints itself.
//
//   pgobo::Secret token{"dapi-123"};
//   std::cout << token;                 // ***
//   fmt::format("{}", token);           // ***
//   // given: void use(std::string_view)
//   use(token.reveal());                // the only way to read it
//
// The bytes are wiped (explicit_bzero) when a Secret is destroyed, assigned
// over or moved from, so a token does not linger in freed heap memory.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

namespace pgobo {

namespace detail {
// Overwrites n bytes at p in a way the optimiser may not remove.
void secure_wipe(void* p, std::size_t n) noexcept;
}  // namespace detail

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) noexcept : value_(std::move(value)) {
    // A short string moves by copying its characters, which stay behind in
    // the parameter's inline buffer.
    wipe_moved_from(value);  // NOLINT(bugprone-use-after-move)
  }
  explicit Secret(std::string_view value) : value_(value) {}
  explicit Secret(const char* value) : value_(value) {}

  Secret(const Secret& other) = default;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      value_ = std::move(other.value_);
      other.wipe();
    }
    return *this;
  }
  ~Secret() { wipe(); }

  // The secret itself. Call it only where the value must leave pgobo (a
  // libpq conninfo, an Authorization header).
  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

  friend bool operator==(const Secret& a, const Secret& b) noexcept { return a.value_ == b.value_; }

 private:
  // Clears the whole buffer, including a short string's inline storage that
  // std::string's move leaves behind.
  void wipe() noexcept {
    detail::secure_wipe(value_.data(), value_.capacity());
    value_.clear();
  }

  static void wipe_moved_from(std::string& moved_from) noexcept {
    detail::secure_wipe(moved_from.data(), moved_from.capacity());
    moved_from.clear();
  }

  std::string value_;
};

inline constexpr std::string_view kRedacted = "***";

inline std::ostream& operator<<(std::ostream& out, const Secret&) { return out << kRedacted; }
[[nodiscard]] inline std::string to_string(const Secret&) { return std::string(kRedacted); }

}  // namespace pgobo

// fmt and spdlog print a Secret as "***" whatever format spec is given.
template <>
struct fmt::formatter<pgobo::Secret> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const pgobo::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(pgobo::kRedacted, ctx);
  }
};
