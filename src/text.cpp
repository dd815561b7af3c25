#include "text.hpp"

#include <cmath>
#include <locale>
#include <sstream>

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

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Where the run of digits from `at` ends.
std::size_t skip_digits(std::string_view text, std::size_t at) {
  while (at < text.size() && is_digit(text[at])) ++at;
  return at;
}

// The grammar of parse_decimal(), checked before any conversion, so that the
// conversion below (which would also take '+', spaces or hex) sees only it.
bool is_decimal(std::string_view text) {
  std::size_t at = 0;
  if (at < text.size() && text[at] == '-') ++at;
  const std::size_t integer_end = skip_digits(text, at);
  std::size_t digits = integer_end - at;
  at = integer_end;
  if (at < text.size() && text[at] == '.') {
    const std::size_t fraction_end = skip_digits(text, at + 1);
    digits += fraction_end - (at + 1);
    at = fraction_end;
  }
  if (digits == 0) return false;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
    const std::size_t exponent_end = skip_digits(text, at);
    if (exponent_end == at) return false;
    at = exponent_end;
  }
  return at == text.size();
}

}  // namespace

std::optional<double> parse_decimal(std::string_view text) {
  if (!is_decimal(text)) return std::nullopt;
  // The classic locale, whatever the process's global one: '.' is the
  // decimal point even where the user's locale writes ','.
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  double value = 0;
  in >> value;
  if (in.fail() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace pgobo::detail
