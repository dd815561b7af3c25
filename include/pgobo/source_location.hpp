// pgobo/source_location.hpp — where a call was made, for leak reports.
//
//   void f(pgobo::SourceLocation where = pgobo::SourceLocation::current());
//   // inside f: where.file_name(), where.line() and where.function_name()
//   // name f's caller
//
// Like std::source_location, which pgobo cannot use everywhere: clang before
// 15 with libstdc++ (Debian 12's clang 14, for one) has an empty
// <source_location>. The compiler builtins it is made of work on every
// compiler pgobo builds with. A default-constructed one is "unknown" (line 0).
#pragma once

#include <cstdint>

namespace pgobo {

class SourceLocation {
 public:
  constexpr SourceLocation() noexcept = default;

  // Used as a default argument, the location of the call that omitted it.
  [[nodiscard]] static constexpr SourceLocation current(
      const char* file = __builtin_FILE(), const char* function = __builtin_FUNCTION(),
      std::uint_least32_t line = __builtin_LINE()) noexcept {
    SourceLocation where;
    where.file_ = file;
    where.function_ = function;
    where.line_ = line;
    return where;
  }

  [[nodiscard]] constexpr const char* file_name() const noexcept { return file_; }
  [[nodiscard]] constexpr const char* function_name() const noexcept { return function_; }
  [[nodiscard]] constexpr std::uint_least32_t line() const noexcept { return line_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};

}  // namespace pgobo
