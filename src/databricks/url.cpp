#include "databricks/url.hpp"

#include <array>
#include <charconv>

namespace pgobo::databricks::detail {
namespace {

struct CurlString {
  char* value = nullptr;
  CurlString() = default;
  CurlString(const CurlString&) = delete;
  CurlString& operator=(const CurlString&) = delete;
  ~CurlString() { curl_free(value); }
};

// The part, or nullopt-like `present` false when the URL has none.
bool get_part(CURLU* url, CURLUPart part, std::string& out) {
  CurlString text;
  if (curl_url_get(url, part, &text.value, 0) != CURLUE_OK || text.value == nullptr) return false;
  out = text.value;
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Exactly four decimal octets 0-255 (libcurl's spelling of a parsed IPv4
// host), the first one 127.
bool is_loopback_ipv4(std::string_view host) {
  std::array<unsigned, 4> octets{};
  std::size_t at = 0;
  for (std::size_t i = 0; i < octets.size(); ++i) {
    if (i > 0) {
      if (at >= host.size() || host[at] != '.') return false;
      ++at;
    }
    const char* first = host.data() + at;
    const char* last = host.data() + host.size();
    std::size_t digits = 0;
    while (first + digits < last && first[digits] >= '0' && first[digits] <= '9') ++digits;
    if (digits == 0 || digits > 3) return false;
    const auto [end, error] = std::from_chars(first, first + digits, octets[i]);
    if (error != std::errc() || octets[i] > 255) return false;
    at += digits;
  }
  return at == host.size() && octets[0] == 127;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  return equals_ignoring_case(host, "localhost") || is_loopback_ipv4(host) || host == "[::1]";
}

ParsedUrl::ParsedUrl(const std::string& url) : handle_(curl_url()) {
  if (!handle_) {
    error_ = "out of memory";
    return;
  }
  // Any scheme parses, so that the caller can say which one it got.
  const CURLUcode code =
      curl_url_set(handle_.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (code != CURLUE_OK) {
    error_ = curl_url_strerror(code);
    no_host_ = code == CURLUE_NO_HOST;
    return;
  }
  if (!get_part(handle_.get(), CURLUPART_SCHEME, scheme_) ||
      !get_part(handle_.get(), CURLUPART_HOST, host_)) {
    error_ = "no host part in the URL";
    no_host_ = true;
    return;
  }
  for (char& c : scheme_) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  (void)get_part(handle_.get(), CURLUPART_PORT, port_);
  (void)get_part(handle_.get(), CURLUPART_PATH, path_);
  std::string ignored;
  userinfo_ = get_part(handle_.get(), CURLUPART_USER, ignored) ||
              get_part(handle_.get(), CURLUPART_PASSWORD, ignored) ||
              get_part(handle_.get(), CURLUPART_OPTIONS, ignored);
  ok_ = true;
}

std::string ParsedUrl::for_message() const {
  if (!ok_) return "<a URL libcurl cannot parse>";
  if (!userinfo_) {
    std::string whole;
    if (get_part(handle_.get(), CURLUPART_URL, whole)) return whole;
    return "<a URL libcurl cannot print>";
  }
  const std::unique_ptr<CURLU, Deleter> copy(curl_url_dup(handle_.get()));
  if (!copy || curl_url_set(copy.get(), CURLUPART_USER, nullptr, 0) != CURLUE_OK ||
      curl_url_set(copy.get(), CURLUPART_PASSWORD, nullptr, 0) != CURLUE_OK ||
      curl_url_set(copy.get(), CURLUPART_OPTIONS, nullptr, 0) != CURLUE_OK) {
    return "<a URL with a user name or password>";
  }
  std::string whole;
  if (!get_part(copy.get(), CURLUPART_URL, whole)) return "<a URL with a user name or password>";
  return whole;
}

std::string url_for_message(const std::string& url) { return ParsedUrl(url).for_message(); }

}  // namespace pgobo::databricks::detail
