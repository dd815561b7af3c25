#include "span_writer.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

namespace notes {
namespace {

thread_local std::string current_trace;
thread_local std::string current_parent;

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  while (out.size() < digits) {
    std::uint64_t bits = random();
    for (int i = 0; i < 16 && out.size() < digits; ++i, bits >>= 4U) out += kHex[bits & 0xFU];
  }
  return out;
}

bool is_lower_hex(std::string_view text) {
  for (const char c : text) {
    if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", ids not all zero.
bool parse_traceparent(std::string_view header, std::string& trace, std::string& parent) {
  if (header.size() != 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') {
    return false;
  }
  const std::string_view t = header.substr(3, 32);
  const std::string_view p = header.substr(36, 16);
  if (!is_lower_hex(header.substr(0, 2)) || !is_lower_hex(t) || !is_lower_hex(p) ||
      !is_lower_hex(header.substr(53, 2)) || t.find_first_not_of('0') == std::string_view::npos ||
      p.find_first_not_of('0') == std::string_view::npos) {
    return false;
  }
  trace = t;
  parent = p;
  return true;
}

// The first keyword of the statement, upper-cased: SELECT, INSERT, WITH…
std::string operation_name(std::string_view sql) {
  std::size_t at = 0;
  while (at < sql.size() && std::isspace(static_cast<unsigned char>(sql[at])) != 0) ++at;
  std::string word;
  while (at < sql.size() && std::isalpha(static_cast<unsigned char>(sql[at])) != 0) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[at])));
    ++at;
  }
  return word;
}

std::string unix_nanos(std::chrono::system_clock::time_point at) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
}

// Invalid UTF-8 (a user's key comes from a request) is replaced when the
// line is written (error_handler_t::replace), never thrown.
nlohmann::json string_attribute(std::string_view key, std::string_view value) {
  return {{"key", key}, {"value", {{"stringValue", std::string(value)}}}};
}

nlohmann::json int_attribute(std::string_view key, std::uint64_t value) {
  // OTLP JSON writes 64-bit integers as strings.
  return {{"key", key}, {"value", {{"intValue", std::to_string(value)}}}};
}

}  // namespace

TraceScope::TraceScope(std::string_view traceparent)
    : previous_trace_(std::move(current_trace)), previous_parent_(std::move(current_parent)) {
  std::string trace;
  std::string parent;
  if (!parse_traceparent(traceparent, trace, parent)) {
    trace = random_hex(32);
    parent.clear();
  }
  current_trace = std::move(trace);
  current_parent = std::move(parent);
}

TraceScope::~TraceScope() {
  current_trace = std::move(previous_trace_);
  current_parent = std::move(previous_parent_);
}

const std::string& TraceScope::trace_id() noexcept { return current_trace; }
const std::string& TraceScope::parent_id() noexcept { return current_parent; }

SpanWriter::SpanWriter(const std::string& path) : out_(path, std::ios::app) {
  if (!out_) throw pgobo::ConfigError("the trace file " + path + " cannot be opened for appending");
}

void SpanWriter::on_query_ended(const pgobo::QueryEnded& query) noexcept {
  try {
    const auto end = std::chrono::system_clock::now();
    const auto start =
        end - std::chrono::duration_cast<std::chrono::system_clock::duration>(query.duration);
    const std::string operation = operation_name(query.sql);
    nlohmann::json attributes = nlohmann::json::array({
        string_attribute("db.system.name", "postgresql"),
        string_attribute("db.namespace", query.connection.dbname),
        string_attribute("db.query.text", query.sql),
        string_attribute("db.client.connection.pool.name", query.pool),
    });
    // The server, when there is only one: with several (failover), the
    // observer is told the list, not the one this statement ran on.
    if (query.connection.hosts().size() == 1) {
      attributes.push_back(string_attribute("server.address", query.connection.host));
      attributes.push_back(int_attribute("server.port", query.connection.port));
    }
    if (!operation.empty()) attributes.push_back(string_attribute("db.operation.name", operation));
    if (query.rows) attributes.push_back(int_attribute("db.response.returned_rows", *query.rows));
    if (!query.sqlstate.empty()) {
      attributes.push_back(string_attribute("db.response.status_code", query.sqlstate));
    }
    if (!query.error_type.empty()) {
      attributes.push_back(string_attribute("error.type", query.error_type));
    }
    std::string trace = TraceScope::trace_id();
    if (trace.empty()) trace = random_hex(32);  // a query outside any request
    nlohmann::json span = {
        {"traceId", trace},
        {"spanId", random_hex(16)},
        {"name", operation.empty() ? std::string("postgresql") : operation},
        {"kind", 3},  // SPAN_KIND_CLIENT
        {"startTimeUnixNano", unix_nanos(start)},
        {"endTimeUnixNano", unix_nanos(end)},
        {"attributes", std::move(attributes)},
        {"status", query.error_type.empty() ? nlohmann::json{{"code", 1}}    // STATUS_CODE_OK
                                            : nlohmann::json{{"code", 2}}},  // STATUS_CODE_ERROR
    };
    if (!TraceScope::parent_id().empty()) span["parentSpanId"] = TraceScope::parent_id();
    const nlohmann::json line = {
        {"resourceSpans",
         {{{"resource", {{"attributes", {string_attribute("service.name", "notes-service")}}}},
           {"scopeSpans", {{{"scope", {{"name", "pgobo"}}}, {"spans", {span}}}}}}}}};
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::lock_guard lock(mutex_);
    out_ << text << '\n';
    out_.flush();
  } catch (...) {  // a lost span must not fail the request (hooks are noexcept)
  }
}

}  // namespace notes
