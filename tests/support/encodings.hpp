// Encodings a secret may be echoed back in, written for the tests
// independently of pgobo's scrubber (base64 through OpenSSL's EVP encoder):
//
//   pgobo::test::base64("id:secret")          // what a Basic header carries
//   pgobo::test::base64url("secret")          // unpadded
//   pgobo::test::percent_encode_all("s e", false)   // %73%20%65, lower-case hex
//   pgobo::test::json_escaped_ascii("é")      // \u00e9, as a JSON string's content
#pragma once

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgobo::test {

inline std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string base64url(std::string_view bytes) {
  std::string out = base64(bytes);
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

inline std::string base64_decode(std::string_view text) {
  std::string out(3 * (text.size() / 4) + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) throw std::invalid_argument("base64_decode: not base64");
  std::size_t size = static_cast<std::size_t>(n);
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --size;
  out.resize(size);
  return out;
}

// Every byte as %XX.
inline std::string percent_encode_all(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += '%';
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

// Only what a URL component must escape, space as %20 (encodeURIComponent).
inline std::string percent_encode_component(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        std::string_view("-_.!~*'()").find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += percent_encode_all(std::string_view(&c, 1), true);
    }
  }
  return out;
}

inline std::string hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

// The content of a JSON string holding `text`, non-ASCII as \uXXXX and '/' as
// \/ (as some encoders write it).
inline std::string json_escaped_ascii(std::string_view text) {
  const std::string quoted = nlohmann::json(std::string(text)).dump(-1, ' ', true);
  std::string out;
  for (const char c : quoted.substr(1, quoted.size() - 2)) {
    if (c == '/') {
      out += "\\/";
    } else {
      out += c;
    }
  }
  return out;
}

// `secret` in every encoding named in pgobo's docs/security.md, each with a
// name for failure messages. `carrier` (e.g. "<id>:<secret>") is encoded in
// base64 forms too.
inline std::vector<std::pair<std::string, std::string>> encodings_of(const std::string& secret,
                                                                     const std::string& carrier) {
  return {
      {"raw", secret},
      {"percent, every byte, lower-case hex", percent_encode_all(secret, false)},
      {"percent, every byte, upper-case hex", percent_encode_all(secret, true)},
      {"percent, URL component", percent_encode_component(secret)},
      {"JSON-escaped, ASCII only", json_escaped_ascii(secret)},
      {"hex, lower case", hex(secret, false)},
      {"hex, upper case", hex(secret, true)},
      {"base64 of the secret", base64(secret)},
      {"base64url of the secret", base64url(secret)},
      {"base64 of the carrier", base64(carrier)},
      {"base64url of the carrier", base64url(carrier)},
      {"base64 of the secret after one byte", base64("x" + secret + "tail")},
      {"base64 of the secret after two bytes", base64("xy" + secret + "t")},
      {"base64url of the secret after one byte", base64url("{" + secret + "}")},
      {"percent-encoded base64 of the carrier", percent_encode_component(base64(carrier))},
      {"JSON-escaped base64 of the carrier", json_escaped_ascii(base64(carrier))},
  };
}

}  // namespace pgobo::test
