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

bool has_control_character(std::string_view text, std::string_view allowed) noexcept {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 || u == 0x7f) && allowed.find(c) == std::string_view::npos) return true;
  }
  return false;
}

}  // namespace pgobo::detail
