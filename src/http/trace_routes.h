// MLflow 3's tracing over HTTP: the trace API (v3, and the v2 paths the
// client still calls for tags, deletes and links), assessments, OTLP/HTTP
// ingestion at /v1/traces, and `GET /version`, by which MLflow's client
// decides whether the server takes spans over OTLP.
#pragma once

#include "http/http_server.h"
#include "http/json_codec.h"
#include "tracing/trace_service.h"

namespace slipway::http {

// The MLflow release whose tracking protocol Slipway speaks, as
// `GET /version` answers it (MLflow's client sends spans over OTLP only to
// servers of 3.4 or later).
inline constexpr const char* kMlflowProtocolVersion = "3.17.2";

void AddTraceRoutes(HttpServer& server, tracing::TraceService& traces, bool multipart_uploads);

// TraceInfoV3 JSON; exposed for tests.
Json TraceInfoToJson(const tracing::TraceInfo& info);
tracing::TraceInfo TraceInfoFromJson(const Json& trace_info);
// google.protobuf.Timestamp / Duration JSON text <-> milliseconds.
std::string FormatTimestamp(int64_t millis);
int64_t ParseTimestamp(const std::string& text, const char* field);
std::string FormatDuration(int64_t millis);
int64_t ParseDuration(const std::string& text, const char* field);

}  // namespace slipway::http
