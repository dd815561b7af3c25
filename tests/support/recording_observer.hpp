// RecordingObserver: a PoolObserver that writes down every hook call, for
// tests of the order, arguments and durations of events.
//
//   auto seen = std::make_shared<RecordingObserver>();
//   options.observer = seen;
//   ...
//   EXPECT_THAT(seen->kinds(), ElementsAre("acquire_started", ...));
//
// Every string a hook was given goes into its transcript; when the observer
// is destroyed, the transcript goes to the secret guard (secret_guard.hpp),
// which fails the test process if a known secret is in it. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "pgobo/source_location.hpp"

#include "pgobo/observer.hpp"
#include "secret_guard.hpp"

namespace pgobo::test {

class RecordingObserver : public PoolObserver {
 public:
  // One hook call. `kind` is the hook's name without "on_".
  struct Event {
    std::string kind;
    std::string pool;
    std::chrono::nanoseconds duration{};  // 0 when the hook has none
    std::string detail;                   // outcome, reason, error type…
    std::string text;                     // every string argument, joined
    std::optional<std::size_t> rows;
    SourceLocation where;
    bool flag = false;  // abnormal, still_out, read_only
  };

  RecordingObserver() = default;
  RecordingObserver(const RecordingObserver&) = delete;
  RecordingObserver& operator=(const RecordingObserver&) = delete;
  ~RecordingObserver() override { note_observed_text(transcript()); }

  void on_connection_opening(const ConnectionOpening& e) noexcept override {
    add(make("connection_opening", std::string(e.pool), {}, {}, params(e.connection)));
  }
  void on_connection_opened(const ConnectionOpened& e) noexcept override {
    add(make("connection_opened", std::string(e.pool), e.duration, std::to_string(e.total),
             params(e.connection)));
  }
  void on_connection_open_failed(const ConnectionOpenFailed& e) noexcept override {
    add(make("connection_open_failed", std::string(e.pool), e.duration, std::string(e.error_type),
             std::string(e.message) + " | " + params(e.connection)));
  }
  void on_backoff_started(const BackoffStarted& e) noexcept override {
    add(make("backoff_started", std::string(e.pool), e.backoff, std::string(e.error_type), {}));
  }
  void on_backoff_ended(const BackoffEnded& e) noexcept override {
    add(make("backoff_ended", std::string(e.pool), {}, std::to_string(e.failures), {}));
  }
  void on_connection_closed(const ConnectionClosed& e) noexcept override {
    Event event = make("connection_closed", std::string(e.pool), {},
                       std::string(to_string(e.reason)), std::string(e.description));
    event.flag = e.abnormal;
    add(std::move(event));
  }
  void on_close_gave_up(const CloseGaveUp& e) noexcept override {
    add(make("close_gave_up", std::string(e.pool), e.close_timeout, std::to_string(e.still_out),
             {}));
  }
  void on_acquire_started(const AcquireStarted& e) noexcept override {
    add(make("acquire_started", std::string(e.pool), {}, {}, {}));
  }
  void on_acquire_ended(const AcquireEnded& e) noexcept override {
    add(make("acquire_ended", std::string(e.pool), e.wait, std::string(to_string(e.outcome)),
             std::string(e.error_type)));
  }
  void on_lease_returned(const LeaseReturned& e) noexcept override {
    add(make("lease_returned", std::string(e.pool), e.held, {}, {}));
  }
  void on_lease_leak_suspected(const LeaseLeakSuspected& e) noexcept override {
    Event event = make(
        "lease_leak_suspected", std::string(e.pool), e.held, std::to_string(e.threshold.count()),
        std::string(e.acquired_at.file_name()) + ":" + std::to_string(e.acquired_at.line()) + " " +
            e.acquired_at.function_name());
    event.where = e.acquired_at;
    event.flag = e.still_out;
    add(std::move(event));
  }
  void on_credential_fetch_started(const CredentialFetchStarted& e) noexcept override {
    add(make("credential_fetch_started", std::string(e.pool), {}, {}, {}));
  }
  void on_credential_fetch_ended(const CredentialFetchEnded& e) noexcept override {
    add(make("credential_fetch_ended", std::string(e.pool), e.duration, std::string(e.error_type),
             {}));
  }
  void on_pool_changed(const PoolChanged& e) noexcept override {
    add(make("pool_changed", std::string(e.pool), {}, std::string(to_string(e.change)), {}));
  }
  void on_query_started(const QueryStarted& e) noexcept override {
    Event event = make("query_started", std::string(e.pool), {}, {},
                       std::string(e.sql) + " | " + params(e.connection));
    event.flag = e.read_only;
    add(std::move(event));
  }
  void on_query_ended(const QueryEnded& e) noexcept override {
    Event event =
        make("query_ended", std::string(e.pool), e.duration, std::string(e.error_type),
             std::string(e.sql) + " | " + std::string(e.sqlstate) + " | " + params(e.connection));
    event.rows = e.rows;
    event.flag = e.read_only;
    add(std::move(event));
  }

  [[nodiscard]] std::vector<Event> events() const {
    const std::lock_guard lock(mutex_);
    return events_;
  }
  // The events' kinds in order, optionally only those of one pool.
  [[nodiscard]] std::vector<std::string> kinds(std::string_view pool = {}) const {
    std::vector<std::string> out;
    for (const Event& e : events()) {
      if (pool.empty() || e.pool == pool) out.push_back(e.kind);
    }
    return out;
  }
  [[nodiscard]] std::vector<Event> of_kind(std::string_view kind) const {
    std::vector<Event> out;
    for (const Event& e : events()) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }
  [[nodiscard]] std::size_t count(std::string_view kind) const { return of_kind(kind).size(); }
  // Every string every hook was given, a line per event.
  [[nodiscard]] std::string transcript() const {
    const std::lock_guard lock(mutex_);
    return transcript_locked();
  }
  void clear() {
    const std::lock_guard lock(mutex_);
    note_observed_text(transcript_locked());
    events_.clear();
  }

 private:
  static Event make(std::string kind, std::string pool, std::chrono::nanoseconds duration,
                    std::string detail, std::string text) {
    Event event;
    event.kind = std::move(kind);
    event.pool = std::move(pool);
    event.duration = duration;
    event.detail = std::move(detail);
    event.text = std::move(text);
    return event;
  }
  static std::string params(const ConnectionParams& c) {
    std::string out = c.host + ":" + std::to_string(c.port) + "/" + c.dbname + " as " + c.user;
    out += " sslrootcert=" + c.sslrootcert + " application_name=" + c.application_name;
    for (const auto& [name, value] : c.settings) out += " " + name + "=" + value;
    return out;
  }
  void add(Event event) noexcept {
    try {
      const std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    } catch (...) {
      // Out of memory in a test: the missing event fails the test's checks.
    }
  }
  [[nodiscard]] std::string transcript_locked() const {
    std::string out;
    for (const Event& e : events_)
      out += e.kind + " " + e.pool + " " + e.detail + " " + e.text + "\n";
    return out;
  }

  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace pgobo::test
