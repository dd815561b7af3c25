#include "scrub.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "pgobo/secret.hpp"

namespace pgobo::detail {
namespace {

constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto at = [&bytes](std::size_t k) {
    return unsigned{static_cast<unsigned char>(bytes[k])};
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (at(i) << 16U) | (at(i + 1) << 8U) | at(i + 2);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
    out += alphabet[v & 63U];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const unsigned v = (at(i) << 16U) | (rest == 2 ? at(i + 1) << 8U : 0U);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    if (rest == 2) out += alphabet[(v >> 6U) & 63U];
    if (pad) out.append(3 - rest, '=');
  }
  return out;
}

// The characters of base64(<any `offset` bytes> + secret + <anything>) that
// depend on the secret's bytes only: a secret inside a longer base64 text is
// found whatever precedes it. With 1 or 2 bytes before it, the first 2 or 3
// characters also carry those bytes; the last character of an incomplete
// group also carries what follows.
std::string base64_core(std::string_view secret, std::size_t offset, std::string_view alphabet) {
  std::string shifted(offset, '\0');
  shifted += secret;
  const std::string encoded = encode(shifted, alphabet, false);
  const std::size_t front = offset == 0 ? 0 : offset + 1;
  const std::size_t back = shifted.size() % 3 == 0 ? 0 : 1;
  if (encoded.size() <= front + back) return {};
  return encoded.substr(front, encoded.size() - front - back);
}

std::string hex(std::string_view bytes, bool upper) {
  const std::string_view digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4U];
    out += digits[u & 15U];
  }
  return out;
}

// A text with one kind of escaping undone, and for each of its bytes the
// span [begin, end) of the original text it was decoded from.
struct View {
  std::string text;
  std::vector<std::size_t> begin;
  std::vector<std::size_t> end;
  void add(char c, std::size_t from, std::size_t to) {
    text += c;
    begin.push_back(from);
    end.push_back(to);
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

View percent_decoded(std::string_view text, bool plus_is_space) {
  View view;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      view.add(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])), i, i + 3);
      i += 3;
    } else {
      view.add(plus_is_space && text[i] == '+' ? ' ' : text[i], i, i + 1);
      ++i;
    }
  }
  return view;
}

void add_utf8(View& view, char32_t code, std::size_t from, std::size_t to) {
  const auto put = [&](unsigned value) { view.add(static_cast<char>(value), from, to); };
  if (code < 0x80) {
    put(code);
  } else if (code < 0x800) {
    put(0xC0U | (code >> 6U));
    put(0x80U | (code & 0x3FU));
  } else if (code < 0x10000) {
    put(0xE0U | (code >> 12U));
    put(0x80U | ((code >> 6U) & 0x3FU));
    put(0x80U | (code & 0x3FU));
  } else {
    put(0xF0U | (code >> 18U));
    put(0x80U | ((code >> 12U) & 0x3FU));
    put(0x80U | ((code >> 6U) & 0x3FU));
    put(0x80U | (code & 0x3FU));
  }
}

// The four hex digits of a \uXXXX at `at`, or -1.
long unicode_escape(std::string_view text, std::size_t at) {
  if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return -1;
  long value = 0;
  for (std::size_t k = at + 2; k < at + 6; ++k) {
    const int digit = hex_value(text[k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

View json_unescaped(std::string_view text) {
  View view;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      view.add(text[i], i, i + 1);
      ++i;
      continue;
    }
    const char e = text[i + 1];
    const std::string_view simple = "\"\\/bfnrt";
    const std::string_view meant = "\"\\/\b\f\n\r\t";
    if (const auto k = simple.find(e); k != std::string_view::npos) {
      view.add(meant[k], i, i + 2);
      i += 2;
      continue;
    }
    const long code = unicode_escape(text, i);
    if (code < 0) {
      view.add(text[i], i, i + 1);
      ++i;
      continue;
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      const long low = unicode_escape(text, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        const auto combined =
            static_cast<char32_t>(0x10000 + ((code - 0xD800) << 10U) + (low - 0xDC00));
        add_utf8(view, combined, i, i + 12);
        i += 12;
        continue;
      }
    }
    add_utf8(view, static_cast<char32_t>(code), i, i + 6);
    i += 6;
  }
  return view;
}

// Replaces, in `text`, the original spans of every occurrence of `pattern`
// in `view` (decoded from `text`). True if anything was replaced.
bool redact_in_view(std::string& text, const View& view, std::string_view pattern) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (std::size_t at = view.text.find(pattern); at != std::string::npos;
       at = view.text.find(pattern, at + pattern.size())) {
    const std::size_t from = view.begin[at];
    const std::size_t to = view.end[at + pattern.size() - 1];
    // Already the placeholder (a secret that reads "***"): nothing to do.
    if (std::string_view(text).substr(from, to - from) != kRedacted) spans.emplace_back(from, to);
  }
  if (spans.empty()) return false;
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    text.replace(it->first, it->second - it->first, kRedacted);
  }
  return true;
}

void redact_plain(std::string& text, std::string_view pattern) {
  for (std::size_t at = text.find(pattern); at != std::string::npos;
       at = text.find(pattern, at + kRedacted.size())) {
    text.replace(at, pattern.size(), kRedacted);
  }
}

// Every form of `secret` to look for as plain bytes, longest first.
std::vector<std::string> forms_of(std::string_view secret) {
  std::vector<std::string> forms{std::string(secret), hex(secret, false), hex(secret, true)};
  for (const std::string_view alphabet : {kStandard, kUrl}) {
    forms.push_back(encode(secret, alphabet, true));
    for (std::size_t offset = 0; offset < 3; ++offset) {
      std::string core = base64_core(secret, offset, alphabet);
      // A core of a few characters would match ordinary words.
      if (core.size() >= 6) forms.push_back(std::move(core));
    }
  }
  return forms;
}

void wipe_all(std::vector<std::string>& strings) {
  for (auto& s : strings) secure_wipe(s.data(), s.capacity());
}

}  // namespace

std::string base64_encode(std::string_view bytes, bool url) {
  return url ? encode(bytes, kUrl, false) : encode(bytes, kStandard, true);
}

std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets) {
  // The forms of all secrets together, longest first: the whole base64 of
  // "<id>:<secret>" goes before the part of it that is the secret's alone.
  std::vector<std::string> forms;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    std::vector<std::string> more = forms_of(secret);
    forms.insert(forms.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
  }
  std::stable_sort(forms.begin(), forms.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& form : forms) redact_plain(text, form);
  // Escaped forms: decode, find, replace what the match was decoded from.
  // Again while something changes (a replacement can join two halves of an
  // escaped form), a few rounds at most.
  for (int round = 0; round < 4; ++round) {
    bool changed = false;
    const auto pass = [&](auto decode) {
      View view = decode(text);
      for (const auto& form : forms) {
        if (redact_in_view(text, view, form)) {
          changed = true;
          view = decode(text);
        }
      }
    };
    if (text.find_first_of("%+") != std::string::npos) {
      pass([](std::string_view t) { return percent_decoded(t, true); });
      pass([](std::string_view t) { return percent_decoded(t, false); });
    }
    if (text.find('\\') != std::string::npos) pass(json_unescaped);
    if (!changed) break;
  }
  wipe_all(forms);
  return text;
}

}  // namespace pgobo::detail
