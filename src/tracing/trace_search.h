// What a trace search may filter and order by, as MLflow 3.17.2's
// SearchTraceUtils and SQL store allow it, checked on the clauses that
// tracking's search grammar parsed (tracking/search_parser.h: the same
// tokens, quoting and `AND`; no OR).
//
//   attributes (prefix `attributes.`, `attribute.`, `trace.` or none):
//     timestamp_ms / timestamp, execution_time_ms / execution_time,
//     end_time_ms / end_time: numbers, = != > >= < <=;
//     status / state, request_id / trace_id, client_request_id, name:
//     strings, = != LIKE ILIKE IN NOT IN;
//     run_id: = only (the trace's mlflow.sourceRun, or a run it is linked to);
//     prompt: = only, '<name>/<version>' (a prompt version linked to it).
//   tags.<key> / tag.<key>, metadata.<key> / request_metadata.<key>:
//     = != LIKE ILIKE, IS NULL, IS NOT NULL.
//   span.name, span.type, span.status: = != LIKE ILIKE IN NOT IN; all span
//     clauses must hold for one span of the trace.
//   text (also trace.text, attributes.text): LIKE ILIKE over a span's stored
//     content (MLflow's span JSON: name, attributes, inputs, outputs); a span
//     clause on key "content".
//   feedback.<name>, expectation.<name>: valid assessments of that name;
//     = != LIKE ILIKE on the value's JSON text (a string matches quoted or
//     bare), > >= < <= on numeric values, IS NULL, IS NOT NULL.
//   issue.id: = only; the traces linked to that issue (an assessment of
//     kind issue named by the issue's id).
//
// Not taken (INVALID_PARAMETER_VALUE): RLIKE, span.attributes.*. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tracking/search_filter.h"

namespace slipway::tracing {

enum class TraceField { kAttribute, kTag, kMetadata, kSpan, kFeedback, kExpectation, kIssue };

struct TraceClause {
  TraceField field;
  // Attributes by their canonical name (timestamp_ms, execution_time_ms,
  // end_time_ms, status, request_id, client_request_id, name, run_id);
  // span clauses by the span column (name, type, status, content); else the
  // key.
  std::string key;
  tracking::CompareOp op;
  // A double for numeric comparisons, a string, a list for IN / NOT IN,
  // empty for IS NULL / IS NOT NULL.
  std::variant<double, std::string, std::vector<std::string>> value;
};

struct TraceFilter {
  std::vector<TraceClause> clauses;
};

struct TraceOrder {
  TraceField field;  // kAttribute, kTag or kMetadata
  std::string key;   // attributes: timestamp_ms, execution_time_ms, end_time_ms,
                     // status, request_id, name, run_id, experiment_id
  bool ascending = true;
};

TraceFilter ParseTraceFilter(std::string_view filter);
// The caller's terms, then MLflow's tie-breakers (timestamp_ms DESC,
// request_id ASC) unless already ordered by.
std::vector<TraceOrder> ParseTraceOrderBy(const std::vector<std::string>& order_by);

}  // namespace slipway::tracing
