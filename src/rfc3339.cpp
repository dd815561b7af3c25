#include "rfc3339.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>

#include "pgobo/errors.hpp"
#include "text.hpp"

namespace pgobo::detail {
namespace {

using std::chrono::system_clock;

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  [[nodiscard]] bool at_end() const noexcept { return pos_ == text_.size(); }
  [[nodiscard]] std::optional<char> peek() const noexcept {
    if (at_end()) return std::nullopt;
    return text_[pos_];
  }

  // Exactly `count` decimal digits.
  [[nodiscard]] std::optional<int> digits(int count) noexcept {
    int value = 0;
    for (int i = 0; i < count; ++i) {
      if (at_end() || text_[pos_] < '0' || text_[pos_] > '9') return std::nullopt;
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    return value;
  }

  [[nodiscard]] bool literal(char expected) noexcept {
    if (at_end() || text_[pos_] != expected) return false;
    ++pos_;
    return true;
  }

  [[nodiscard]] bool one_of(char a, char b) noexcept { return literal(a) || literal(b); }

  // One or more digits after the decimal point, as nanoseconds.
  [[nodiscard]] std::optional<std::int64_t> fraction_nanoseconds() noexcept {
    std::int64_t nanos = 0;
    int used = 0;
    const std::size_t start = pos_;
    while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (used < 9) {
        nanos = nanos * 10 + (text_[pos_] - '0');
        ++used;
      }
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    for (; used < 9; ++used) nanos *= 10;
    return nanos;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

[[noreturn]] void reject(std::string_view text, std::string_view what, std::string_view why) {
  throw CredentialError(
      fmt::format("{} is not an RFC 3339 time ({}): '{}'", what, why, printable_excerpt(text, 40)));
}

}  // namespace

system_clock::time_point parse_rfc3339(std::string_view text, std::string_view what) {
  Reader in(text);
  const auto year = in.digits(4);
  if (!year || !in.literal('-')) reject(text, what, "expected YYYY-");
  const auto month = in.digits(2);
  if (!month || !in.literal('-')) reject(text, what, "expected MM-");
  const auto day = in.digits(2);
  if (!day || !in.one_of('T', 't')) reject(text, what, "expected DD followed by T");
  const auto hour = in.digits(2);
  if (!hour || !in.literal(':')) reject(text, what, "expected hh:");
  const auto minute = in.digits(2);
  if (!minute || !in.literal(':')) reject(text, what, "expected mm:");
  const auto second = in.digits(2);
  if (!second) reject(text, what, "expected ss");

  std::int64_t nanos = 0;
  if (in.literal('.')) {
    const auto fraction = in.fraction_nanoseconds();
    if (!fraction) reject(text, what, "expected digits after the decimal point");
    nanos = *fraction;
  }

  int offset_minutes = 0;
  const char zone = in.peek().value_or('\0');
  if (zone == 'Z' || zone == 'z') {
    (void)in.literal(zone);
  } else if (zone == '+' || zone == '-') {
    (void)in.literal(zone);
    const auto offset_hour = in.digits(2);
    if (!offset_hour || !in.literal(':')) reject(text, what, "expected an offset ±hh:mm");
    const auto offset_minute = in.digits(2);
    if (!offset_minute) reject(text, what, "expected an offset ±hh:mm");
    if (*offset_hour > 23 || *offset_minute > 59) reject(text, what, "offset out of range");
    offset_minutes = (*offset_hour * 60 + *offset_minute) * (zone == '-' ? -1 : 1);
  } else {
    reject(text, what, "expected Z or an offset ±hh:mm");
  }
  if (!in.at_end()) reject(text, what, "unexpected text after the time");

  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) reject(text, what, "no such date");
  // system_clock counts nanoseconds in 64 bits: years past 2262 (or before
  // 1677) would overflow. No credential expires outside these years.
  if (*year < 1970 || *year > 2200) reject(text, what, "year outside 1970 to 2200");
  if (*hour > 23 || *minute > 59 || *second > 60) reject(text, what, "time of day out of range");

  const auto local = std::chrono::sys_days{date} + std::chrono::hours{*hour} +
                     std::chrono::minutes{*minute} + std::chrono::seconds{std::min(*second, 59)} +
                     std::chrono::nanoseconds{nanos};
  const auto utc = local - std::chrono::minutes{offset_minutes};
  return std::chrono::time_point_cast<system_clock::duration>(utc);
}

std::string format_rfc3339(system_clock::time_point t) {
  const auto millis = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  const auto days = std::chrono::floor<std::chrono::days>(millis);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss time{millis - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count(),
                     time.subseconds().count());
}

}  // namespace pgobo::detail
