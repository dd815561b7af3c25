#include "text.hpp"

namespace pgobo::detail {

std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  out.reserve(text.size() < limit ? text.size() : limit + 3);
  for (const char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (text.size() > limit) out += "...";
  return out;
}

namespace {

constexpr bool is_control(unsigned char u) noexcept { return u < 0x20 || u == 0x7f; }

}  // namespace

bool has_control_character(std::string_view text, std::string_view allowed) noexcept {
  // A request's token (about 1 KB) is checked on every request: whole chunks
  // without any control byte are passed with a branch-free test the compiler
  // vectorises; a chunk that has one is looked at byte by byte.
  constexpr std::size_t kChunk = 32;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t checked = 0;
  for (; checked + kChunk <= text.size(); checked += kChunk) {
    unsigned found = 0;
    for (std::size_t i = 0; i < kChunk; ++i) found |= is_control(bytes[checked + i]) ? 1U : 0U;
    if (found != 0) break;
  }
  for (const char c : text.substr(checked)) {
    if (is_control(static_cast<unsigned char>(c)) && allowed.find(c) == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace pgobo::detail
