#include "tracing/trace_analysis.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "tracking/search_parser.h"

namespace slipway::tracing {
namespace {

// _calculate_npmi_core: NaN (nullopt) where undefined.
std::optional<double> NpmiCore(double n11, double n10, double n01, double n00, double smoothing) {
  const double a = n11 + smoothing, b = n10 + smoothing, c = n01 + smoothing, d = n00 + smoothing;
  const double total = a + b + c + d, n1 = a + b, n2 = a + c;
  if (n1 <= 0 || n2 <= 0 || a <= 0) return std::nullopt;
  if (n10 == 0 && n01 == 0 && n00 == 0) return 1.0;
  const double pmi = (std::log(a) + std::log(total)) - (std::log(n1) + std::log(n2));
  const double npmi = pmi / -(std::log(a) - std::log(total));
  if (std::isnan(npmi)) return std::nullopt;
  return std::clamp(npmi, -1.0, 1.0);
}

struct MetricConfig {
  std::vector<std::string> aggregations;  // sorted, as MLflow lists them
  std::vector<std::string> dimensions;    // sorted
};

using ViewConfig = std::vector<std::pair<std::string, MetricConfig>>;  // in MLflow's order

// MLflow's TRACES_, SPANS_ and ASSESSMENTS_METRICS_CONFIGS.
const std::map<std::string, ViewConfig>& ViewConfigs() {
  static const std::vector<std::string> kStats = {"AVG", "MAX", "MIN", "PERCENTILE"};
  static const std::vector<std::string> kSums = {"AVG", "MAX", "MIN", "PERCENTILE", "SUM"};
  static const std::vector<std::string> kTraceName = {"trace_name"};
  static const std::vector<std::string> kModel = {"span_model_name", "span_model_provider"};
  static const std::map<std::string, ViewConfig> views = {
      {"TRACES",
       {{"trace_count", {{"COUNT"}, {"trace_name", "trace_status"}}},
        {"session_count", {{"COUNT"}, {}}},
        {"latency", {kStats, kTraceName}},
        {"input_tokens", {kSums, kTraceName}},
        {"output_tokens", {kSums, kTraceName}},
        {"total_tokens", {kSums, kTraceName}},
        {"cache_read_input_tokens", {kSums, kTraceName}},
        {"cache_creation_input_tokens", {kSums, kTraceName}}}},
      {"SPANS",
       {{"span_count",
         {{"COUNT"},
          {"span_model_name", "span_model_provider", "span_name", "span_status", "span_type"}}},
        {"latency", {kStats, {"span_name", "span_status"}}},
        {"input_cost", {kSums, kModel}},
        {"output_cost", {kSums, kModel}},
        {"total_cost", {kSums, kModel}}}},
      {"ASSESSMENTS",
       {{"assessment_count", {{"COUNT"}, {"assessment_name", "assessment_value"}}},
        {"assessment_value", {kStats, {"assessment_name"}}}}},
  };
  return views;
}

// Python's repr of a list of strings: ['a', 'b'].
std::string PyList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", '" : "'") + items[i] + "'";
  return out + "]";
}

// Python's str of a float: 50.0, 99.9.
std::string PyFloat(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, end);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string AggregationKey(const MetricAggregation& a) {
  return a.type == "PERCENTILE" ? "P" + PyFloat(a.percentile) : a.type;
}

// numpy's linear percentile (method 7), as MLflow's SQLite aggregate.
double Percentile(std::vector<double> values, double percentile) {
  std::sort(values.begin(), values.end());
  const double index = percentile / 100.0 * static_cast<double>(values.size() - 1);
  const size_t low = static_cast<size_t>(std::floor(index));
  const size_t high = std::min(values.size() - 1, low + 1);
  return values[low] + (values[high] - values[low]) * (index - static_cast<double>(low));
}

}  // namespace

Correlation CorrelationOf(int64_t joint, int64_t filter1, int64_t filter2, int64_t total) {
  Correlation out{std::nullopt, std::nullopt, filter1, filter2, joint, total};
  if (total <= 0 || filter1 == 0 || filter2 == 0) return out;
  const int64_t n11 = joint, n10 = filter1 - joint, n01 = filter2 - joint,
                n00 = total - filter1 - filter2 + joint;
  if (std::min({n11, n10, n01, n00}) < 0) return out;
  const double a = static_cast<double>(n11), b = static_cast<double>(n10),
               c = static_cast<double>(n01), d = static_cast<double>(n00);
  out.npmi = joint == 0 ? std::optional<double>(-1.0) : NpmiCore(a, b, c, d, 0);
  out.npmi_smoothed = NpmiCore(a, b, c, d, 0.5);
  return out;
}

std::vector<MetricRowFilter> SplitMetricFilters(const std::string& view_type,
                                                const std::vector<std::string>& filters,
                                                std::string* trace_filter) {
  namespace si = tracking::search_internal;
  std::vector<MetricRowFilter> rows;
  trace_filter->clear();
  for (std::string text : filters) {
    const size_t at = text.find_first_not_of(" \t");
    auto starts = [&](const char* prefix) {
      return at != std::string::npos && text.compare(at, std::strlen(prefix), prefix) == 0;
    };
    const bool span = starts("span."), assessment = starts("assessment.");
    if (!span && !assessment) {
      for (const char* prefix : {"trace.tag.", "trace.metadata."})
        if (starts(prefix)) text.erase(at, std::strlen("trace."));
      *trace_filter += (trace_filter->empty() ? "" : " AND ") + text;
      continue;
    }
    const std::vector<si::RawClause> clauses = si::ParseFilterClauses(text);
    if (clauses.size() != 1)
      ThrowInvalid("Invalid filter: '" + text + "'. Expected one filter clause.");
    const si::RawClause& c = clauses[0];
    const char* view = span ? "span" : "assessment";
    const std::vector<std::string> fields = span
                                                ? std::vector<std::string>{"name", "status", "type"}
                                                : std::vector<std::string>{"name", "type"};
    if (std::find(fields.begin(), fields.end(), c.ident.key) == fields.end())
      ThrowInvalid("Invalid entity '" + c.ident.key + "' specified for view type '" + view +
                   "'. Valid entities are " + PyList(fields));
    if (c.op.text != "=")
      ThrowInvalid("Invalid comparator: '" + c.op.text + "', only '=' operator is supported");
    if (c.value.kind != si::ValueKind::kString)
      ThrowInvalid("Expected a quoted string value for " + c.ident.key +
                   " value (e.g. 'my-value'). Got value " + c.value.source);
    const char* wanted = span ? "SPANS" : "ASSESSMENTS";
    if (view_type != wanted)
      ThrowInvalid(std::string("Filtering by ") + view + " is only supported for " + wanted +
                   " view type, got " + view_type);
    rows.push_back({c.ident.key, c.value.str});
  }
  return rows;
}

void CheckTraceMetricsQuery(const TraceMetricsQuery& query) {
  auto view = ViewConfigs().find(query.view_type);
  if (view == ViewConfigs().end()) {
    ThrowInvalid("view_type must be one of ['TRACES', 'SPANS', 'ASSESSMENTS'], got '" +
                 query.view_type + "'");
  }
  const MetricConfig* config = nullptr;
  std::vector<std::string> names;
  for (const auto& [name, metric] : view->second) {
    names.push_back(name);
    if (name == query.metric_name) config = &metric;
  }
  if (config == nullptr) {
    ThrowInvalid("metric_name must be one of " + PyList(names) + ", got '" + query.metric_name +
                 "'");
  }
  if (query.aggregations.empty()) {
    ThrowInvalid("Missing value for required parameter 'aggregations'.");
  }
  std::set<std::string> bad;
  for (const MetricAggregation& a : query.aggregations) {
    const auto& allowed = config->aggregations;
    if (std::find(allowed.begin(), allowed.end(), a.type) == allowed.end()) bad.insert(a.type);
    if (a.type == "PERCENTILE" && (a.percentile < 0 || a.percentile > 100)) {
      ThrowInvalid("percentile_value must be between 0 and 100, got " + PyFloat(a.percentile));
    }
  }
  if (!bad.empty()) {
    ThrowInvalid("Found invalid aggregation_type(s): " + PyList({bad.begin(), bad.end()}) +
                 ". Supported aggregation types: " + PyList(config->aggregations));
  }
  for (const std::string& d : query.dimensions) {
    const auto& allowed = config->dimensions;
    if (std::find(allowed.begin(), allowed.end(), d) == allowed.end()) bad.insert(d);
  }
  if (!bad.empty()) {
    ThrowInvalid("Found invalid dimension(s): " + PyList({bad.begin(), bad.end()}) +
                 ". Supported dimensions: " + PyList(config->dimensions));
  }
  if (query.time_interval_seconds && (!query.start_time_ms || !query.end_time_ms)) {
    ThrowInvalid("start_time_ms and end_time_ms are required if time_interval_seconds is set");
  }
  if (query.time_interval_seconds && *query.time_interval_seconds <= 0) {
    ThrowInvalid("time_interval_seconds must be a positive integer");
  }
  if (query.max_results < 1) {
    ThrowInvalid("Invalid value " + std::to_string(query.max_results) +
                 " for parameter 'max_results' supplied. It must be a positive integer");
  }
}

std::vector<MetricDataPoint> AggregateTraceMetrics(const std::vector<MetricRow>& rows,
                                                   const TraceMetricsQuery& query) {
  // Group key: the bucket (as a number, so it orders) and dimension values.
  using Key = std::pair<int64_t, std::vector<std::string>>;
  struct Group {
    std::vector<double> values;
    std::set<std::string> sessions;
  };
  const bool sessions = query.metric_name == "session_count";
  std::map<Key, Group> groups;
  const int64_t bucket_ms = query.time_interval_seconds.value_or(0) * 1000;
  for (const MetricRow& row : rows) {
    Key key{0, {}};
    if (bucket_ms > 0) {
      const int64_t t = row.time_ms;
      key.first = (t >= 0 ? t / bucket_ms : (t - bucket_ms + 1) / bucket_ms) * bucket_ms;
    }
    bool complete = true;
    for (const std::string& d : query.dimensions) {
      auto value = row.dimensions.find(d);
      if (value == row.dimensions.end()) {
        complete = false;  // no value for a dimension: left out, as MLflow
        break;
      }
      key.second.push_back(value->second);
    }
    if (!complete) continue;
    if (sessions) {
      if (row.session) groups[key].sessions.insert(*row.session);
      continue;
    }
    auto value = row.values.find(query.metric_name);
    if (value != row.values.end()) groups[key].values.push_back(value->second);
  }
  std::vector<MetricDataPoint> points;
  for (const auto& [key, group] : groups) {
    if (static_cast<int64_t>(points.size()) >= query.max_results) break;
    MetricDataPoint point;
    point.metric_name = query.metric_name;
    if (bucket_ms > 0) {
      // Python's isoformat of a UTC time, as MLflow writes it.
      std::string iso = FormatIso8601(key.first);
      if (!iso.empty() && iso.back() == 'Z') iso.replace(iso.size() - 1, 1, "+00:00");
      point.dimensions["time_bucket"] = iso;
    }
    for (size_t i = 0; i < query.dimensions.size(); ++i) {
      point.dimensions[query.dimensions[i]] = key.second[i];
    }
    const std::vector<double>& v = group.values;
    for (const MetricAggregation& a : query.aggregations) {
      if (sessions) {
        if (!group.sessions.empty()) {
          point.values[AggregationKey(a)] = static_cast<double>(group.sessions.size());
        }
        continue;
      }
      if (v.empty()) continue;
      double result = 0;
      if (a.type == "COUNT") {
        result = static_cast<double>(v.size());
      } else if (a.type == "SUM" || a.type == "AVG") {
        for (double x : v) result += x;
        if (a.type == "AVG") result /= static_cast<double>(v.size());
      } else if (a.type == "MIN") {
        result = *std::min_element(v.begin(), v.end());
      } else if (a.type == "MAX") {
        result = *std::max_element(v.begin(), v.end());
      } else {
        result = Percentile(v, a.percentile);
      }
      point.values[AggregationKey(a)] = result;
    }
    if (!point.values.empty()) points.push_back(std::move(point));
  }
  return points;
}

}  // namespace slipway::tracing
