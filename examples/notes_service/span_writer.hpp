// OpenTelemetry-shaped traces without an OpenTelemetry SDK: a PoolObserver
// that writes one database client span per query as a line of OTLP JSON
// (the field names of opentelemetry-proto's JSON encoding), ready for an
// OpenTelemetry Collector's file receiver or any tool that reads OTLP JSON.
//
//   auto spans = std::make_shared<notes::SpanWriter>("traces.jsonl");
//   config.routing.observer = spans;        // every pool and every query
//   ...
//   { notes::TraceScope trace(request.get_header_value("traceparent"));
//     db.query(...); }                       // a span in that trace
//
// The attributes follow OpenTelemetry's database semantic conventions:
// db.system.name, db.namespace, server.address and server.port (with one
// server; none with several, when the observer cannot know which one ran it),
// db.operation.name, db.query.text (the statement as written, its parameters
// are never given to observers), db.response.status_code and error.type (the
// SQLSTATE or the exception type), db.response.returned_rows, and
// db.client.connection.pool.name. The pool's name holds the user's key for a
// user pool: a trace of that user's request, never a metric label.
#pragma once

#include <pgobo/errors.hpp>
#include <pgobo/observer.hpp>

#include <fstream>
#include <mutex>
#include <string>
#include <string_view>

namespace notes {

// The trace the current thread's queries belong to, for as long as it lives:
// the W3C traceparent header's trace (its span becomes the queries' parent),
// or a new random trace when the header is absent or malformed.
class TraceScope {
 public:
  explicit TraceScope(std::string_view traceparent);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

  [[nodiscard]] static const std::string& trace_id() noexcept;   // 32 hex digits, or empty
  [[nodiscard]] static const std::string& parent_id() noexcept;  // 16 hex digits, or empty

 private:
  std::string previous_trace_;
  std::string previous_parent_;
};

class SpanWriter final : public pgobo::PoolObserver {
 public:
  // Appends to `path`. Throws pgobo::ConfigError if it cannot be opened.
  explicit SpanWriter(const std::string& path);

  void on_query_ended(const pgobo::QueryEnded& query) noexcept override;

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

}  // namespace notes
