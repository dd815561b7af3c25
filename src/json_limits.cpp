#include "json_limits.hpp"
#include "text.hpp"

#include <fmt/format.h>

namespace pgobo::detail {

nlohmann::json parse_json_bounded(std::string_view text, int max_depth) {
  // The callback sees each array or object start with the number of
  // containers already open around it.
  const nlohmann::json::parser_callback_t bound = [max_depth](int depth,
                                                              nlohmann::json::parse_event_t event,
                                                              nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw JsonTooDeep(fmt::format("arrays and objects nest more than {} levels deep", max_depth));
    }
    return true;
  };
  return nlohmann::json::parse(text, bound);
}

nlohmann::json parse_json_bounded_or_discarded(std::string_view text, bool* too_deep,
                                               int max_depth) {
  if (too_deep != nullptr) *too_deep = false;
  try {
    return parse_json_bounded(text, max_depth);
  } catch (const JsonTooDeep&) {
    if (too_deep != nullptr) *too_deep = true;
  } catch (const nlohmann::json::exception&) {
  }
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

std::string describe_json_value(const nlohmann::json& value, std::size_t limit) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      const bool cut = text.size() > limit;
      return "\"" + printable_excerpt(std::string_view(text).substr(0, limit), limit) +
             (cut ? "\"..." : "\"");
    }
    case nlohmann::json::value_t::array:
      return fmt::format("an array of {} element(s)", value.size());
    case nlohmann::json::value_t::object:
      return fmt::format("an object of {} key(s)", value.size());
    case nlohmann::json::value_t::binary:
      return "binary data";
    case nlohmann::json::value_t::discarded:
      return "a discarded value";
    default:
      // A number, boolean or null: a few bytes.
      return value.dump();
  }
}

}  // namespace pgobo::detail
