#include "databricks/http.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

#include "databricks/url.hpp"
#include "json_limits.hpp"
#include "pgobo/detail/caller_deadline.hpp"
#include "pgobo/errors.hpp"
#include "pgobo/log.hpp"
#include "scrub.hpp"
#include "text.hpp"

namespace pgobo::databricks::detail {

// The core's private helpers this file builds on.
using pgobo::detail::kMaxJsonDepth;
using pgobo::detail::parse_json_bounded_or_discarded;
using pgobo::detail::scrub_secrets;
using pgobo::detail::secure_wipe;

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never undone with curl_global_cleanup: other threads of the process may
    // still be using libcurl when static destructors run.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw CredentialError("libcurl could not be initialised (curl_global_init failed)");
    }
  });
}

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
// The Authorization header's copy inside the list is wiped before it is freed.
struct ListDeleter {
  void operator()(curl_slist* list) const noexcept {
    for (curl_slist* item = list; item != nullptr; item = item->next) {
      secure_wipe(item->data, std::char_traits<char>::length(item->data));
    }
    curl_slist_free_all(list);
  }
};

// Secrets that pass through libcurl's buffers are wiped when the call ends.
class WipedString {
 public:
  WipedString() = default;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { secure_wipe(value.data(), value.capacity()); }
  std::string value;
};

struct BodySink {
  std::string* body = nullptr;
  std::size_t limit = 0;
  bool overflowed = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const std::size_t bytes = size * count;
  if (sink->body->size() + bytes > sink->limit) {
    sink->overflowed = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->body->append(data, bytes);
  return bytes;
}

// Keeps the Retry-After header of the last response (an interim 100
// Continue has its own header block): bounded, never a whole header.
constexpr std::size_t kMaxRetryAfter = 64;

std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* retry_after = static_cast<std::string*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  constexpr std::string_view kName = "retry-after:";
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  if (line.starts_with("HTTP/")) {
    retry_after->clear();  // a new response begins
  } else if (line.size() >= kName.size() &&
             std::equal(kName.begin(), kName.end(), line.begin(),
                        [&lower](char a, char b) { return a == lower(b); })) {
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                              value.back() == '\t')) {
      value.remove_suffix(1);
    }
    *retry_after = std::string(value.substr(0, kMaxRetryAfter));
  }
  return bytes;
}

// How much of a remote text is scrubbed and considered for a message (the
// message quotes at most 500 bytes of it): a 1 MiB body is not scrubbed whole.
constexpr std::size_t kScrubbedPrefix = 16 * 1024;

void set(CURL* handle, CURLoption option, auto value, const HttpRequest& request) {
  if (curl_easy_setopt(handle, option, value) != CURLE_OK) {
    throw CredentialError(describe_call(request) + ": libcurl refused an option (" +
                          std::to_string(static_cast<int>(option)) + ")");
  }
}

// Length of the well-formed UTF-8 sequence at the start of `text` (1 to 4),
// or 0 if it does not start with one (a stray continuation byte, an overlong
// or surrogate form, a sequence cut short).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// The code point of a well-formed sequence of `length` bytes.
char32_t decode_utf8(std::string_view sequence, std::size_t length) {
  const auto byte = [&sequence](std::size_t i) {
    return static_cast<char32_t>(static_cast<unsigned char>(sequence[i]));
  };
  if (length == 1) return byte(0);
  char32_t code = byte(0) & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) code = (code << 6) | (byte(i) & 0x3F);
  return code;
}

// Characters that end or reorder a line in some viewer: C0 and C1 controls,
// DEL, NEL, the line and paragraph separators, bidirectional overrides.
bool breaks_a_line(char32_t code) {
  return code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x2028 || code == 0x2029 ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

// A remote text for an error message: at most `limit` bytes, characters that
// break or reorder a line as spaces, bytes that are not well-formed UTF-8 as
// '?', and never cut inside a character, so the message stays one valid
// UTF-8 line while an API's non-English text still reads as it came.
std::string printable_excerpt(std::string_view text, std::size_t limit) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t length = utf8_sequence_length(text.substr(at));
    const std::size_t taken = length == 0 ? 1 : length;
    if (out.size() + taken > limit) break;
    if (length == 0) {
      out += '?';
    } else if (breaks_a_line(decode_utf8(text.substr(at), length))) {
      out += ' ';
    } else {
      out.append(text.substr(at, length));
    }
    at += taken;
  }
  if (at < text.size()) out += "...";
  return out;
}

}  // namespace

std::string required_text(const HttpRequest& request, const nlohmann::json& body,
                          std::string_view key) {
  const auto found = body.find(key);
  if (found == body.end() || !found->is_string() || found->get_ref<const std::string&>().empty()) {
    throw CredentialError(fmt::format("{} returned no {} (expected a non-empty string)",
                                      describe_call(request), key));
  }
  const auto& text = found->get_ref<const std::string&>();
  if (pgobo::detail::has_control_character(text)) {
    throw CredentialError(fmt::format("{} returned {} with a control character (CR, LF, NUL...)",
                                      describe_call(request), key));
  }
  return text;
}

std::string describe_call(const HttpRequest& request) {
  return fmt::format("{} ({} {})", request.call, request.method, url_for_message(request.url));
}

std::string scrub(const HttpRequest& request, std::string text) {
  // What pgobo sent: the bearer token, the client secret, and the basic
  // credential "<id>:<secret>" that goes out base64-encoded; each in every
  // encoding an endpoint may echo it in (detail/scrub.hpp).
  std::vector<std::string> secrets;
  if (request.bearer) secrets.push_back(request.bearer->reveal());
  if (request.basic_password) {
    secrets.push_back(request.basic_password->reveal());
    secrets.push_back(request.basic_user + ":" + request.basic_password->reveal());
  }
  text = scrub_secrets(std::move(text), secrets);
  for (auto& secret : secrets) secure_wipe(secret.data(), secret.capacity());
  return text;
}

std::string form_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out += c;
    } else if (u == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

namespace {

// One attempt's outcome: an answer, or why none came and whether another
// attempt may get one.
struct Attempt {
  std::optional<HttpResponse> response;
  std::string reason;      // when no answer: why, scrubbed (libcurl's text or ours)
  bool retryable = false;  // the connection failed before any answer
  bool timed_out = false;
};

// libcurl's codes for a connection that failed or broke before an answer:
// refused, reset, closed without a reply, or a host (or proxy) name that
// did not resolve. A TLS failure is none of these: it does not heal.
bool connection_failed(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return true;
    default:
      return false;
  }
}

constexpr std::string_view kCaSettings =
    "PGOBO_HTTP_CA_FILE (JSON http_ca_file, HttpOptions::ca_file), or CURL_CA_BUNDLE or "
    "SSL_CERT_FILE in the environment";

// Why TLS verification failed, and what to change. libcurl reports an
// untrusted chain and a certificate for another host with the same code;
// it checks the host name itself, and says so in its text ("... target host
// name ..."), with every TLS backend. (The chain's verification result does
// not tell them apart: libcurl sets it for a host mismatch too.)
std::string verification_failure(const HttpOptions& options, std::string_view detail) {
  if (detail.find("host name") != std::string_view::npos) {
    return fmt::format(
        "the workspace's TLS certificate is for another host: the host name does not match "
        "({}). Use the workspace URL (DATABRICKS_HOST / workspace_url) with the host name the "
        "certificate was issued for",
        detail);
  }
  return fmt::format(
      "the workspace's TLS certificate is not trusted ({}; trusting {}). If a corporate proxy "
      "or a private CA signs it, set {} to a PEM file with that CA's certificate",
      detail,
      options.ca_file.empty() ? "the system's CA certificates" : "the CAs in " + options.ca_file,
      kCaSettings);
}

Attempt attempt_once(const HttpRequest& request, const HttpOptions& options) {
  init_curl_once();
  const std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
  if (!handle) throw CredentialError(describe_call(request) + ": libcurl could not start a call");
  CURL* curl = handle.get();

  HttpResponse response;
  BodySink sink{&response.body, options.max_response_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {};
  WipedString authorization;
  WipedString form_body;
  std::unique_ptr<curl_slist, ListDeleter> headers;
  auto add_header = [&](const char* line) {
    curl_slist* next = curl_slist_append(headers.get(), line);
    if (!next) throw CredentialError(describe_call(request) + ": out of memory for headers");
    (void)headers.release();
    headers.reset(next);
  };

  // The URL libcurl connects to is the one checked here: the parsed handle
  // itself is given to libcurl (CURLOPT_CURLU), not the text again.
  const ParsedUrl url(request.url);
  if (!url.ok()) {
    throw CredentialError(describe_call(request) + ": not a valid URL (" + url.error() + ")");
  }
  if (url.scheme() != "https" && url.scheme() != "http") {
    throw CredentialError(describe_call(request) + ": only https:// (or http:// to loopback)");
  }
  // Refused before any connection: a user name or password in the URL
  // would be sent as basic credentials, and makes "http://localhost:1@evil"
  // look like a loopback URL while naming the host "evil".
  if (url.has_userinfo()) {
    throw CredentialError(describe_call(request) +
                          ": the URL contains a user name or password (before '@'); refused");
  }
  if (url.scheme() == "http" && !url.loopback()) {
    throw CredentialError(describe_call(request) +
                          ": http:// is only allowed to localhost, 127.0.0.0/8 or [::1]; "
                          "refused before connecting (use https://)");
  }
  set(curl, CURLOPT_CURLU, url.handle(), request);
  // Nothing but HTTP(S), whatever else this libcurl speaks. The string form
  // arrived in 7.85 (and the bit mask was deprecated then); Ubuntu 22.04 has
  // 7.81. (curl_url_strerror, in url.cpp, sets the floor at 7.80.)
#if LIBCURL_VERSION_NUM >= 0x075500
  set(curl, CURLOPT_PROTOCOLS_STR, "https,http", request);
#else
  set(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTPS | CURLPROTO_HTTP), request);
#endif
  set(curl, CURLOPT_NOSIGNAL, 1L, request);  // no SIGALRM for DNS timeouts: threads
  set(curl, CURLOPT_FOLLOWLOCATION, 0L, request);
  set(curl, CURLOPT_SSL_VERIFYPEER, 1L, request);
  set(curl, CURLOPT_SSL_VERIFYHOST, 2L, request);
  if (!options.ca_file.empty()) set(curl, CURLOPT_CAINFO, options.ca_file.c_str(), request);
  set(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()), request);
  set(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()), request);
  set(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_bytes),
      request);
  set(curl, CURLOPT_WRITEFUNCTION, &write_body, request);
  set(curl, CURLOPT_WRITEDATA, static_cast<void*>(&sink), request);
  set(curl, CURLOPT_HEADERFUNCTION, &read_header, request);
  set(curl, CURLOPT_HEADERDATA, static_cast<void*>(&response.retry_after), request);
  set(curl, CURLOPT_ERRORBUFFER, static_cast<char*>(error_buffer), request);
  set(curl, CURLOPT_USERAGENT, "pgobo", request);
  // A local fake must be reached directly, whatever http_proxy says.
  if (url.loopback()) set(curl, CURLOPT_PROXY, "", request);

  add_header("Accept: application/json");
  if (request.bearer) {
    authorization.value = "Authorization: Bearer " + request.bearer->reveal();
    add_header(authorization.value.c_str());
  }
  if (request.basic_password) {
    set(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC), request);
    set(curl, CURLOPT_USERNAME, request.basic_user.c_str(), request);
    set(curl, CURLOPT_PASSWORD, request.basic_password->reveal().c_str(), request);
  }

  if (request.method == "POST") {
    set(curl, CURLOPT_POST, 1L, request);
    if (!request.json_body.empty()) {
      add_header("Content-Type: application/json");
      form_body.value = request.json_body;
    } else {
      add_header("Content-Type: application/x-www-form-urlencoded");
      for (const auto& [name, value] : request.form) {
        if (!form_body.value.empty()) form_body.value += '&';
        form_body.value += form_encode(name) + '=' + form_encode(value);
      }
    }
    set(curl, CURLOPT_POSTFIELDS, form_body.value.c_str(), request);
    set(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form_body.value.size()),
        request);
  } else if (request.method != "GET") {
    throw CredentialError(describe_call(request) + ": unsupported HTTP method");
  }
  set(curl, CURLOPT_HTTPHEADER, headers.get(), request);

  const CURLcode code = curl_easy_perform(curl);
  Attempt outcome;
  if (code != CURLE_OK) {
    const std::string detail =
        error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code);
    std::string reason;
    if (sink.overflowed || code == CURLE_FILESIZE_EXCEEDED) {
      reason = fmt::format("the response body exceeds {} bytes", options.max_response_bytes);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      reason = fmt::format("timed out (connect timeout {} ms, total timeout {} ms)",
                           options.connect_timeout.count(), options.timeout.count());
      outcome.timed_out = true;
    } else if (code == CURLE_PEER_FAILED_VERIFICATION) {
      reason = verification_failure(options, detail);
    } else if (code == CURLE_SSL_CACERT_BADFILE) {
      reason = fmt::format("the CA file {} could not be read ({}); set {} to a readable PEM file",
                           options.ca_file.empty() ? "(libcurl's default)" : options.ca_file,
                           detail, kCaSettings);
    } else {
      reason = detail;
      outcome.retryable = connection_failed(code);
    }
    outcome.reason = scrub(request, std::move(reason));
    return outcome;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  logger()->trace("{}: HTTP {} ({} bytes)", describe_call(request), response.status,
                  response.body.size());
  outcome.response = std::move(response);
  return outcome;
}

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

std::shared_ptr<const RetryTiming> real_timing() {
  static const auto timing = std::make_shared<const RetryTiming>(
      RetryTiming{[] { return std::chrono::steady_clock::now(); },
                  [] { return std::chrono::system_clock::now(); },
                  [](milliseconds delay) { std::this_thread::sleep_for(delay); },
                  [] {
                    thread_local std::mt19937_64 generator{std::random_device{}()};
                    return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
                  }});
  return timing;
}

std::mutex timing_mutex;
std::shared_ptr<const RetryTiming> timing_override;  // ScopedRetryTiming's, or null

std::shared_ptr<const RetryTiming> current_timing() {
  const std::lock_guard lock(timing_mutex);
  return timing_override ? timing_override : real_timing();
}

long long count_ms(std::chrono::nanoseconds duration) {
  return std::chrono::duration_cast<milliseconds>(duration).count();
}

// When the retries must stop: the end of the retry budget or, if sooner,
// the caller's deadline; and how a message names it.
struct RetryLimit {
  SteadyTime end;
  bool callers = false;  // the caller's deadline, not the budget

  [[nodiscard]] std::string describe(SteadyTime now, const HttpOptions& options) const {
    const long long left = std::max(0LL, count_ms(end - now));
    if (callers) {
      return fmt::format("the caller's deadline (e.g. the pool's acquire_timeout), {} ms away",
                         left);
    }
    return fmt::format("the end of the retry budget (http_retry_timeout_ms {}), {} ms away",
                       options.retry_timeout.count(), left);
  }
};

// The delay before attempt `next` (2, 3...): kFirstRetryBackoff doubled per
// attempt up to kMaxRetryBackoff, drawn from its upper half so that callers
// that failed together do not come back together.
milliseconds backoff_before(int next, double jitter) {
  const int doublings = std::min(next - 2, 16);
  const auto base = std::min(kFirstRetryBackoff * (std::int64_t{1} << doublings), kMaxRetryBackoff);
  const double share = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::max(
      milliseconds{1},
      milliseconds{static_cast<std::int64_t>(static_cast<double>(base.count()) * share)});
}

bool retryable_status(long status) { return status == 429 || status == 503; }

}  // namespace

HttpResponse send(const HttpRequest& request, const HttpOptions& options) {
  const std::shared_ptr<const RetryTiming> timing = current_timing();
  const SteadyTime started = timing->now();
  RetryLimit limit{started + std::max(options.retry_timeout, milliseconds{0}), false};
  if (const auto deadline = pgobo::detail::caller_deadline(); deadline && *deadline < limit.end) {
    limit = RetryLimit{*deadline, true};
  }
  for (int attempts = 1;; ++attempts) {
    // A retry never runs past the limit it was started under: its timeouts
    // are cut to what is left (the first attempt keeps its own, as before
    // retries: a caller's short deadline must not turn a slow answer into a
    // failure that every caller of a shared credential cache then sees).
    HttpOptions attempt_options = options;
    if (attempts > 1) {
      const milliseconds left = std::max(
          milliseconds{1}, std::chrono::duration_cast<milliseconds>(limit.end - timing->now()));
      attempt_options.timeout = std::min(options.timeout, left);
      attempt_options.connect_timeout = std::min(options.connect_timeout, left);
    }
    Attempt attempt = attempt_once(request, attempt_options);
    const bool retryable = attempt.response ? retryable_status(attempt.response->status)
                                            : attempt.retryable || attempt.timed_out;
    const SteadyTime now = timing->now();
    const auto after = [&](const std::string& why) {
      return attempts == 1 ? (why.empty() ? std::string() : " (not retried: " + why + ")")
                           : fmt::format(" (after {} attempts in {} ms{}{})", attempts,
                                         count_ms(now - started), why.empty() ? "" : "; ", why);
    };
    const auto stop = [&](const std::string& why) -> HttpResponse {
      if (!attempt.response) {
        throw CredentialError(describe_call(request) + " failed: " + attempt.reason + after(why));
      }
      attempt.response->retry_note = after(why);
      return std::move(*attempt.response);
    };
    if (!retryable) return stop("");
    if (options.retry_timeout.count() <= 0) {
      return stop("retries are off: http_retry_timeout_ms is 0");
    }

    std::optional<milliseconds> asked;
    if (attempt.response) {
      asked = parse_retry_after(attempt.response->retry_after, timing->wall_now());
    }
    const milliseconds delay =
        std::max(asked.value_or(milliseconds{0}), backoff_before(attempts + 1, timing->jitter()));
    if (asked && now + *asked >= limit.end) {
      // The header's text is not quoted: it is the server's, and may echo
      // a part of a secret too short to be recognised and scrubbed.
      return stop(fmt::format("the workspace asked to retry after {} ms (Retry-After), past {}",
                              asked->count(), limit.describe(now, options)));
    }
    if (now + delay >= limit.end) {
      return stop(fmt::format("the next backoff of {} ms would end past {}", delay.count(),
                              limit.describe(now, options)));
    }
    if (attempt.timed_out && now + delay + options.timeout > limit.end) {
      return stop(
          fmt::format("a timed-out call is retried only if another whole attempt ({} ms) "
                      "fits before {}",
                      options.timeout.count(), limit.describe(now, options)));
    }
    logger()->info(
        "{}: {} (attempt {}); retrying in {} ms", describe_call(request),
        attempt.response ? fmt::format("HTTP {}", attempt.response->status) : attempt.reason,
        attempts, delay.count());
    timing->sleep(delay);
  }
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Delta-seconds; more than 9 digits (31 years) counts as 9 nines.
    std::int64_t seconds = 0;
    for (char c : value.substr(0, std::min<std::size_t>(value.size(), 9))) {
      seconds = seconds * 10 + (c - '0');
    }
    if (value.size() > 9) seconds = 999'999'999;
    return milliseconds{seconds * 1000};
  }
  const std::string text(value);
  const std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  // In whole seconds, clamped as delta-seconds are: a date in the year 9999
  // would overflow system_clock's nanoseconds.
  const std::time_t now_seconds = std::chrono::system_clock::to_time_t(now);
  if (when <= now_seconds) return milliseconds{0};
  const std::int64_t seconds =
      std::min<std::int64_t>(static_cast<std::int64_t>(when) - now_seconds, 999'999'999);
  return milliseconds{seconds * 1000};
}

std::optional<std::string> ca_file_problem(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) return "it does not exist";
  if (error) return "it cannot be read: " + error.message();
  if (std::filesystem::is_directory(status)) return "it is a directory, not a file";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "it cannot be read: " + std::error_code(errno, std::generic_category()).message();
  char first = 0;
  if (!in.get(first)) return "it is empty or cannot be read";
  return std::nullopt;
}

ScopedRetryTiming::ScopedRetryTiming(RetryTiming timing) {
  const auto real = real_timing();
  if (!timing.now) timing.now = real->now;
  if (!timing.wall_now) timing.wall_now = real->wall_now;
  if (!timing.sleep) timing.sleep = real->sleep;
  if (!timing.jitter) timing.jitter = real->jitter;
  const std::lock_guard lock(timing_mutex);
  previous_ = timing_override;
  timing_override = std::make_shared<const RetryTiming>(std::move(timing));
}

ScopedRetryTiming::~ScopedRetryTiming() {
  const std::lock_guard lock(timing_mutex);
  timing_override = previous_;
}

std::string describe_error_body(const HttpRequest& request, std::string_view body) {
  // Bounded depth: a hostile body nested 300,000 deep is quoted as text.
  const auto parsed = parse_json_bounded_or_discarded(body);
  std::string text;
  if (parsed.is_object()) {
    auto field = [&parsed](const char* key) -> std::string {
      const auto it = parsed.find(key);
      return it != parsed.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string code = !field("error_code").empty() ? field("error_code") : field("error");
    const std::string message =
        !field("message").empty() ? field("message") : field("error_description");
    if (!code.empty() && !message.empty()) {
      text = code + ": " + message;
    } else {
      text = code + message;
    }
  }
  // Scrubbed before it is cut (scrubbed_prefix): a secret echoed across the
  // cut would otherwise leave its first bytes behind.
  if (text.empty()) {
    return body.empty() ? "(empty body)"
                        : printable_excerpt(scrubbed_prefix(request, body, kScrubbedPrefix), 200);
  }
  return printable_excerpt(scrubbed_prefix(request, text, kScrubbedPrefix), 500);
}

std::string scrubbed_prefix(const HttpRequest& request, std::string_view text,
                            std::size_t max_bytes) {
  if (text.size() <= max_bytes) return scrub(request, std::string(text));
  // Scrubbing a prefix finds every whole encoded secret in it; one that the
  // cut goes through is partly left, in the prefix's last bytes (at most the
  // longest form of a secret: 6 bytes per byte, \u00XX). Those bytes are
  // dropped: the prefix's tail if no replacement touched it, else all that
  // follows the last replacement (which is then shorter than that).
  std::size_t longest = 0;
  if (request.bearer) longest = request.bearer->reveal().size();
  if (request.basic_password) {
    longest =
        std::max(longest, request.basic_user.size() + 1 + request.basic_password->reveal().size());
  }
  const std::size_t margin = std::min(6 * longest + 16, max_bytes);
  const std::string_view cut = text.substr(0, max_bytes);
  const std::string_view tail = cut.substr(cut.size() - margin);
  std::string scrubbed = scrub(request, std::string(cut));
  if (std::string_view(scrubbed).ends_with(tail)) {
    scrubbed.resize(scrubbed.size() - tail.size());
  } else if (const auto last = scrubbed.rfind(kRedacted); last != std::string::npos) {
    scrubbed.resize(last + kRedacted.size());
  } else {
    scrubbed.clear();
  }
  return scrubbed;
}

nlohmann::json send_for_json(const HttpRequest& request, const HttpOptions& options) {
  const HttpResponse response = send(request, options);
  if (response.status < 200 || response.status > 299) {
    throw CredentialError(fmt::format("{} failed: HTTP {}: {}{}", describe_call(request),
                                      response.status, describe_error_body(request, response.body),
                                      response.retry_note));
  }
  bool too_deep = false;
  auto parsed = parse_json_bounded_or_discarded(response.body, &too_deep);
  if (too_deep) {
    throw CredentialError(
        fmt::format("{} returned HTTP {} with a JSON body nested more than {} "
                    "levels deep",
                    describe_call(request), response.status, kMaxJsonDepth));
  }
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw CredentialError(fmt::format("{} returned HTTP {} with a body that is not a JSON object",
                                      describe_call(request), response.status));
  }
  return parsed;
}

}  // namespace pgobo::databricks::detail
