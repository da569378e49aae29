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

// One trace as the TRACES view of the metrics sees it.
struct TraceMetricRow {
  int64_t request_time = 0;  // ms
  std::optional<std::string> name;
  std::string state;
  std::optional<int64_t> duration_ms;
  std::optional<std::string> session;
  std::map<std::string, int64_t> tokens;  // input_tokens, output_tokens, ... as reported
};

struct MetricAggregation {
  std::string type;  // COUNT, SUM, AVG, MIN, MAX, PERCENTILE
  double percentile = 0;
};

struct TraceMetricsQuery {
  std::string view_type;  // TRACES (SPANS and ASSESSMENTS are not computed yet)
  std::string metric_name;
  std::vector<MetricAggregation> aggregations;
  std::vector<std::string> dimensions;  // trace_name, trace_status
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

// INVALID_PARAMETER_VALUE with MLflow's messages for a metric, aggregation
// or dimension the view does not have, or a time interval without a range.
void CheckTraceMetricsQuery(const TraceMetricsQuery& query);

// The data points of `rows`, grouped by the time bucket (first) and the
// dimensions, in ascending order of the groups, at most max_results.
std::vector<MetricDataPoint> AggregateTraceMetrics(const std::vector<TraceMetricRow>& rows,
                                                   const TraceMetricsQuery& query);

}  // namespace slipway::tracing
