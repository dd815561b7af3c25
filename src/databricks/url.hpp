// src/url.hpp (internal) — URLs as libcurl reads them.
//
// pgobo decides whether a URL may carry a token in clear text (http:// only
// to this machine) and whether to bypass a proxy by the host libcurl will
// connect to, never by a prefix of the text: "http://localhost:1@evil" has
// the host "evil". So URLs are parsed with libcurl's own URL API, and the
// parsed handle is what the HTTP call hands to libcurl (CURLOPT_CURLU): the
// host that was checked is the host that is connected to.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

namespace pgobo::databricks::detail {

// True for the hosts that are this machine without asking DNS: "localhost"
// (any case; libcurl resolves it itself), an IPv4 address in 127.0.0.0/8 and
// the IPv6 address ::1, as libcurl spells a parsed host ("127.0.0.1",
// "[::1]"). Not "localhost." (resolved by DNS), not "::ffff:127.0.0.1", not
// "127.0.0.1.nip.io" or "localhost.example.com".
[[nodiscard]] bool is_loopback_host(std::string_view host);

class ParsedUrl {
 public:
  // Parses `url` (which must have a scheme) with curl_url_set. Any scheme is
  // accepted here; callers check it. Never throws for a bad URL: ok() is false
  // and error() says why (libcurl's reason, never the URL).
  explicit ParsedUrl(const std::string& url);

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  // The URL was refused for having no host ("https://", "https:///x").
  [[nodiscard]] bool no_host() const noexcept { return no_host_; }

  // Lower case, e.g. "https".
  [[nodiscard]] const std::string& scheme() const noexcept { return scheme_; }
  // As libcurl connects to it: IPv4 normalised ("0x7f.1" is "127.0.0.1"),
  // IPv6 in brackets, percent-encoding decoded.
  [[nodiscard]] const std::string& host() const noexcept { return host_; }
  // Empty when the URL names none.
  [[nodiscard]] const std::string& port() const noexcept { return port_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // A user name or password before '@' (even an empty one, "http://@host").
  [[nodiscard]] bool has_userinfo() const noexcept { return userinfo_; }
  [[nodiscard]] bool loopback() const { return ok_ && is_loopback_host(host_); }

  // The handle to give libcurl (CURLOPT_CURLU); owned by this object.
  [[nodiscard]] CURLU* handle() const noexcept { return handle_.get(); }

  // The URL for a message: without its user name and password. For a URL
  // libcurl cannot parse, a placeholder (it may hold a password anywhere).
  [[nodiscard]] std::string for_message() const;

 private:
  struct Deleter {
    void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
  };
  std::unique_ptr<CURLU, Deleter> handle_;
  bool ok_ = false;
  bool no_host_ = false;
  std::string error_;
  std::string scheme_;
  std::string host_;
  std::string port_;
  std::string path_;
  bool userinfo_ = false;
};

// ParsedUrl(url).for_message().
[[nodiscard]] std::string url_for_message(const std::string& url);

}  // namespace pgobo::databricks::detail
