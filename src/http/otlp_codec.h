// OTLP/HTTP trace export requests (OpenTelemetry's ExportTraceServiceRequest)
// in their two encodings, protobuf and JSON, into tracing::OtelBatch; and the
// spans MLflow's trace API answers with (OpenTelemetry's Span as proto JSON)
// from the span records Slipway keeps.
//
// The protobuf form is read field by field with protobuf's own wire reader
// (CodedInputStream), by the field numbers of opentelemetry-proto's
// trace/v1, common/v1 and resource/v1 messages: those messages are all this
// needs, and generated code would need their .proto files, which Debian
// does not package. Unknown fields are skipped, as protobuf readers do.
// Nesting of attribute values is limited to kMaxValueDepth levels.
#pragma once

#include <string_view>

#include "http/json_codec.h"
#include "tracing/entities.h"

namespace slipway::http {

inline constexpr int kMaxValueDepth = 32;

// Throw INVALID_PARAMETER_VALUE naming what is wrong ("Invalid
// OpenTelemetry format: ...").
tracing::OtelBatch DecodeOtlpProtobuf(std::string_view body);
// OTLP's JSON mapping: camelCase or snake_case names, trace and span ids in
// hex (base64 taken too), enums as numbers or names, 64-bit integers as
// numbers or strings.
tracing::OtelBatch DecodeOtlpJson(std::string_view body);

// A stored span (MLflow's span dictionary) as OpenTelemetry's Span in proto
// JSON with MLflow's field names: base64 ids, times in nanoseconds as
// numbers, attribute values as AnyValues decoded from their JSON text.
Json SpanToOtelJson(const tracing::Span& span);

}  // namespace slipway::http
