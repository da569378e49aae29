// MLflow's span dictionary (Span.to_dict) as JSON text: what a span's
// `content` holds, written straight from an OpenTelemetry span.
//
// This is on the OTLP ingestion path, once per span: building an nlohmann
// tree of the dictionary and dumping it (attribute values are JSON text
// inside JSON strings, so each is escaped twice) cost a fifth of the
// server's CPU in a profile of bench/tracing. The writer gives byte for byte
// what nlohmann's compact dump of that tree gives (keys sorted, a repeated
// key's last value, invalid UTF-8 replaced by U+FFFD as nlohmann does), which the unit tests
// check against nlohmann itself. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "tracing/entities.h"

namespace slipway::tracing {

// Appends `text` as a JSON string (quotes included) to `out`: `"` `\` and
// control characters escaped as nlohmann does, other UTF-8 as it is; text
// that is not valid UTF-8 as nlohmann replaces it (U+FFFD).
void AppendJsonString(std::string& out, std::string_view text);

// The span's dictionary: base64 ids, attribute values as JSON text (the
// trace's `mlflow.traceRequestId` set to `trace_id`), events, status.
std::string SpanContent(const OtelSpan& span, const std::string& trace_id);

}  // namespace slipway::tracing
