// Analyses over an experiment's traces, as MLflow 3.17.2 computes them for
// its UI: metrics of traces aggregated by group and time bucket
// (QueryTraceMetrics), and how strongly two trace filters go together
// (CalculateTraceFilterCorrelation, normalized pointwise mutual
// information). The stores hand these the rows or counts; the arithmetic is
// here. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace slipway::tracing {

// ------------------------------------------------------------- correlation

struct Correlation {
  std::optional<double> npmi;           // nullopt where MLflow's value is NaN
  std::optional<double> npmi_smoothed;  // with Jeffreys' prior (0.5 per cell)
  int64_t filter1_count = 0;
  int64_t filter2_count = 0;
  int64_t joint_count = 0;
  int64_t total_count = 0;
};

// MLflow's calculate_npmi_from_counts: -1 when both filters match traces
// but never the same one, 1 when they always match together.
Correlation CorrelationOf(int64_t joint, int64_t filter1, int64_t filter2, int64_t total);

// ----------------------------------------------------------------- metrics

// One row of a metrics view: a trace (TRACES), a span (SPANS) or a valid
// assessment (ASSESSMENTS) of the traces in scope, with the view's
// dimensions and metrics it has a value for (a row without a metric's value
// does not count for it; one without a dimension's value is left out of a
// grouping by that dimension, as MLflow's SQL leaves NULLs out).
//
//   TRACES: dimensions trace_name, trace_status; metrics trace_count (1),
//     latency (ms), input_tokens, output_tokens, total_tokens,
//     cache_read_input_tokens, cache_creation_input_tokens (the trace's
//     mlflow.trace.tokenUsage); `session` (mlflow.trace.session) for
//     session_count.
//   SPANS: dimensions span_name, span_type, span_status, span_model_name,
//     span_model_provider (the span's mlflow.llm.model / mlflow.llm.provider);
//     metrics span_count (1), latency (ms, whole), input_cost, output_cost,
//     total_cost (the span's mlflow.llm.cost).
//   ASSESSMENTS: dimensions assessment_name, assessment_value (the value's
//     JSON text); metrics assessment_count (1), assessment_value (numeric
//     values, booleans as 1 and 0).
struct MetricRow {
  int64_t time_ms = 0;  // the trace's start; a span's own start in SPANS
  std::map<std::string, std::string> dimensions;
  std::map<std::string, double> values;
  std::optional<std::string> session;
};

struct MetricAggregation {
  std::string type;  // COUNT, SUM, AVG, MIN, MAX, PERCENTILE
  double percentile = 0;
};

struct TraceMetricsQuery {
  std::string view_type;  // TRACES, SPANS, ASSESSMENTS
  std::string metric_name;
  std::vector<MetricAggregation> aggregations;
  std::vector<std::string> dimensions;
  std::optional<int64_t> time_interval_seconds;
  std::optional<int64_t> start_time_ms;
  std::optional<int64_t> end_time_ms;
  int64_t max_results = 1000;
};

struct MetricDataPoint {
  std::string metric_name;
  std::map<std::string, std::string> dimensions;  // and time_bucket (ISO 8601)
  std::map<std::string, double> values;           // COUNT, AVG, P50.0, ...
};

// MLflow's metric filters that pick the view's rows rather than traces:
// `span.name|status|type = '<v>'` (SPANS view only) and
// `assessment.name|type = '<v>'` (ASSESSMENTS only; type is feedback,
// expectation or issue). One clause per filter, `=` and a quoted value.
struct MetricRowFilter {
  std::string field;  // name, status, type
  std::string value;
};

// Splits the request's `filters`: row filters (checked against the view,
// with MLflow's messages) are returned; the others are trace filters, with
// MLflow's `trace.tag.<k>` and `trace.metadata.<k>` spelled as the trace
// grammar spells them (`tag.<k>`, `metadata.<k>`), ANDed into
// `*trace_filter`.
std::vector<MetricRowFilter> SplitMetricFilters(const std::string& view_type,
                                                const std::vector<std::string>& filters,
                                                std::string* trace_filter);

// INVALID_PARAMETER_VALUE with MLflow's messages for a view, metric,
// aggregation or dimension MLflow does not have, or a time interval without
// a range.
void CheckTraceMetricsQuery(const TraceMetricsQuery& query);

// The data points of `rows` (of the query's view), grouped by the time
// bucket (first) and the dimensions, in ascending order of the groups, at
// most max_results.
std::vector<MetricDataPoint> AggregateTraceMetrics(const std::vector<MetricRow>& rows,
                                                   const TraceMetricsQuery& query);

}  // namespace slipway::tracing
