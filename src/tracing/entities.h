// The records of MLflow 3's tracing: traces, their spans and assessments.
//
// Plain values with no behaviour. The trace service fills and checks them,
// the store keeps them, the HTTP layer turns them into MLflow's wire forms
// (TraceInfoV3 JSON, OpenTelemetry spans). Times of traces and assessments
// are milliseconds since the Unix epoch, span times nanoseconds, as in
// MLflow.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slipway::tracing {

// Keys MLflow gives meaning to.
inline constexpr const char* kSpansLocationTag = "mlflow.trace.spansLocation";
inline constexpr const char* kSpansInTrackingStore = "TRACKING_STORE";
inline constexpr const char* kArtifactLocationTag = "mlflow.artifactLocation";
inline constexpr const char* kTraceNameTag = "mlflow.traceName";
inline constexpr const char* kInfoFinalizedKey = "mlflow.trace.infoFinalized";
inline constexpr const char* kSizeStatsKey = "mlflow.trace.sizeStats";
inline constexpr const char* kSourceRunKey = "mlflow.sourceRun";
inline constexpr const char* kTraceUserKey = "mlflow.trace.user";

// A judgement on a trace (or one of its spans): feedback (a score, a label,
// a judge's verdict) or an expectation (the right answer).
struct Assessment {
  std::string assessment_id;  // "a-<32 hex>", issued by the server
  std::string trace_id;
  std::string name;
  std::string kind;  // "feedback" or "expectation"
  // The value as JSON text: "0.8", "\"yes\"", "true", "null", "{...}".
  std::string value;
  // An expectation the client sent as serialized_value (dicts, lists,
  // None): it goes back in that form.
  bool serialized = false;
  // A feedback's error, {error_code, error_message, stack_trace} as JSON
  // text; empty for none.
  std::string error;
  std::string span_id;  // 16 hex digits, or empty for the whole trace
  std::string source_type = "SOURCE_TYPE_UNSPECIFIED";
  std::string source_id;
  std::string rationale;
  std::string overrides;  // the id of the assessment this one replaces
  std::map<std::string, std::string> metadata;
  bool valid = true;  // false once another assessment overrides it
  int64_t create_time = 0;
  int64_t last_update_time = 0;
};

// MLflow's TraceInfoV3. `state` is OK, ERROR, IN_PROGRESS or
// STATE_UNSPECIFIED.
struct TraceInfo {
  std::string trace_id;  // "tr-<32 hex>": the OpenTelemetry trace id
  std::string experiment_id;
  std::optional<std::string> client_request_id;
  int64_t request_time = 0;
  std::optional<int64_t> execution_duration;
  std::string state = "STATE_UNSPECIFIED";
  std::optional<std::string> request_preview;
  std::optional<std::string> response_preview;
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> tags;
  std::vector<Assessment> assessments;
};

// One span as stored. `content` is MLflow's span dictionary (Span.to_dict:
// base64 ids, attribute values as JSON text), the form MLflow keeps and
// writes to traces.json; the other fields are what searches look at.
struct Span {
  std::string span_id;         // 16 hex digits
  std::string parent_span_id;  // 16 hex digits; empty for the root
  std::string name;
  std::string type;    // the span's mlflow.spanType (LLM, TOOL, ...), or ""
  std::string status;  // OK, ERROR or UNSET
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // 0 while the span has not ended
  std::string content;
};

struct Trace {
  TraceInfo info;
  std::vector<Span> spans;  // root first, then by start time
};

// A span as OpenTelemetry exports it (OTLP), decoded from protobuf or JSON.
// Attribute values are OTLP AnyValues as JSON values: strings, booleans,
// integers, doubles, arrays, objects (kvlists); bytes as base64 text.
using Attributes = std::vector<std::pair<std::string, nlohmann::json>>;

struct OtelEvent {
  std::string name;
  uint64_t time_ns = 0;
  Attributes attributes;
};

struct OtelSpan {
  std::string trace_id;        // 16 bytes
  std::string span_id;         // 8 bytes
  std::string parent_span_id;  // 8 bytes, or empty for a root
  std::string name;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  int status_code = 0;  // 0 unset, 1 ok, 2 error
  std::string status_message;
  Attributes attributes;
  std::vector<OtelEvent> events;
  size_t resource = 0;  // index into OtelBatch::resources
};

// One OTLP export request: its resources' attributes and all their spans.
struct OtelBatch {
  std::vector<Attributes> resources;
  std::vector<OtelSpan> spans;
};

}  // namespace slipway::tracing
