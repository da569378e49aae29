// MLflow 3's tracing: traces, their spans from OpenTelemetry, assessments.
//
// TraceService checks input as MLflow 3.17.2 does, turns OpenTelemetry spans
// into MLflow's span records, and calls the TraceStore. It knows nothing of
// HTTP, JSON wire forms or protobuf: the REST and OTLP routes call it with
// parsed values. Failures throw slipway::Error with MLflow's codes.
//
// A trace lives in an experiment, and its experiment's permissions are the
// trace's: reading a trace or searching needs READ, writing one (spans, the
// trace's info, tags, assessments, links) EDIT, deleting traces MANAGE. A
// trace the actor may not see and one that does not exist are refused
// alike. Thread-safe if the stores are.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "governance/authorization.h"
#include "tracing/entities.h"
#include "tracing/trace_store.h"
#include "tracking/tracking_store.h"

namespace slipway::tracing {

// MLflow's limits.
inline constexpr int64_t kDefaultTracesPerPage = 100;
inline constexpr int64_t kMaxTracesPerPage = 500;
inline constexpr size_t kMaxTracesPerLink = 100;
inline constexpr size_t kMaxPreviewLength = 1000;
inline constexpr size_t kMaxTraceTagValueLength = 8000;
inline constexpr size_t kMaxTraceKeyLength = 250;
inline constexpr size_t kMaxTraceIdLength = 50;

template <typename T>
struct Found {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

class TraceService {
 public:
  struct Options {
    // How long GetTrace waits for spans a trace says it has (its
    // mlflow.trace.sizeStats) before it answers that the trace is not
    // fully exported yet, as MLflow does (about 3 s).
    std::chrono::milliseconds complete_wait{3000};
    // The experiment of an issue (genai's), or nothing when there is no
    // such issue. An assessment of kind issue links its trace to the issue
    // it names, which must be of the trace's experiment; unset, no issue
    // exists.
    std::function<std::optional<std::string>(const std::string& issue_id)> issue_experiment;
  };

  TraceService(TraceStore& store, tracking::TrackingStore& tracking, Options options,
               governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  // StartTraceV3 (the client calls it when a trace ends): creates the
  // trace or merges into it, adds the artifact location tag and
  // mlflow.trace.infoFinalized, issues ids to the assessments it carries.
  TraceInfo StartTrace(TraceInfo info);

  // MLflow 2's StartTrace (deprecated, still served): a new IN_PROGRESS
  // trace with a 32-hex id (no "tr-"), started at `timestamp_ms`.
  TraceInfo StartTraceV2(const std::string& experiment_id, int64_t timestamp_ms,
                         const std::map<std::string, std::string>& metadata,
                         const std::map<std::string, std::string>& tags);
  // MLflow 2's EndTrace: the trace's state and duration (to `timestamp_ms`),
  // its metadata and tags merged with those given.
  TraceInfo EndTraceV2(const std::string& trace_id, int64_t timestamp_ms, const std::string& state,
                       const std::map<std::string, std::string>& metadata,
                       const std::map<std::string, std::string>& tags);

  // OTLP ingest: the spans of `batch` into `experiment_id`, creating traces
  // as they first appear. With `run_id`, the traces whose root is in the
  // batch are linked to that run.
  void LogSpans(const std::string& experiment_id, const OtelBatch& batch,
                const std::string& run_id = "");

  // MLflow's CalculateTraceFilterCorrelation: how strongly `filter1` and
  // `filter2` (trace filters, each ANDed with `base_filter`) go together
  // over the traces `base_filter` selects. Unknown experiments count
  // nothing; READ on each known one.
  Correlation CalculateFilterCorrelation(const std::vector<std::string>& experiment_ids,
                                         const std::string& filter1, const std::string& filter2,
                                         const std::string& base_filter);
  // MLflow's QueryTraceMetrics over the traces of the experiments matching
  // `filters` (MLflow's metric filters: trace.status, trace.tag.<k>,
  // trace.metadata.<k>, or any trace filter).
  std::vector<MetricDataPoint> QueryTraceMetrics(const std::vector<std::string>& experiment_ids,
                                                 const TraceMetricsQuery& query,
                                                 const std::vector<std::string>& filters);

  TraceInfo GetTraceInfo(const std::string& trace_id);
  // With its spans, which must be in the store (spans location
  // TRACKING_STORE). Unless `allow_partial`, a trace with fewer spans than
  // its size stats count is waited for, then NOT_FOUND.
  Trace GetTrace(const std::string& trace_id, bool allow_partial);
  // The complete traces of `trace_ids` the actor may read, in that order;
  // others are left out, as MLflow leaves them out.
  std::vector<Trace> BatchGetTraces(const std::vector<std::string>& trace_ids);
  std::vector<TraceInfo> BatchGetTraceInfos(const std::vector<std::string>& trace_ids);
  // Unknown experiments match nothing; one the actor may not read is
  // PERMISSION_DENIED.
  Found<TraceInfo> SearchTraces(const std::vector<std::string>& experiment_ids,
                                const std::string& filter, std::optional<int64_t> max_results,
                                const std::vector<std::string>& order_by,
                                const std::string& page_token);

  void SetTraceTag(const std::string& trace_id, const std::string& key, std::string value);
  void DeleteTraceTag(const std::string& trace_id, const std::string& key);
  // Exactly one of `ids` (non-empty) and `max_timestamp`; `max_traces` only
  // with `max_timestamp`.
  int64_t DeleteTraces(const std::string& experiment_id, const std::vector<std::string>& ids,
                       std::optional<int64_t> max_timestamp, std::optional<int64_t> max_traces);
  // Traces not stored yet are linked too (the client may link a trace
  // before its export arrives).
  void LinkTracesToRun(const std::vector<std::string>& trace_ids, const std::string& run_id);
  // The prompt versions (name, version) a trace used; the trace then
  // matches `prompt = '<name>/<version>'`.
  void LinkPromptsToTrace(const std::string& trace_id,
                          const std::vector<std::pair<std::string, std::string>>& prompts);

  Assessment CreateAssessment(Assessment assessment);
  Assessment GetAssessment(const std::string& trace_id, const std::string& assessment_id);
  // `fields` names what `update` changes: assessment_name, feedback,
  // expectation, rationale, metadata (merged), valid.
  Assessment UpdateAssessment(const std::string& trace_id, const std::string& assessment_id,
                              const Assessment& update, const std::vector<std::string>& fields);
  void DeleteAssessment(const std::string& trace_id, const std::string& assessment_id);

 private:
  // Checks `needed` on the trace's experiment; NOT_FOUND if there is no
  // such trace (after the check, so a hidden one and a missing one are
  // refused alike). Returns the experiment.
  std::string RequireTrace(const std::string& trace_id, governance::Permission needed);
  // A known kind, and an issue link names an issue of `experiment_id`.
  void CheckAssessment(const Assessment& a, const std::string& experiment_id);
  bool MayRead(const std::string& experiment_id);
  std::string ArtifactLocation(const std::string& experiment_location, const std::string& trace_id);
  tracking::Experiment ActiveExperiment(const std::string& experiment_id);
  // The canonical ids of those of `ids` that exist, each checked for READ.
  std::vector<std::string> ReadableExperiments(const std::vector<std::string>& ids);
  bool Complete(const Trace& trace) const;

  TraceStore& store_;
  tracking::TrackingStore& tracking_;
  Options options_;
  governance::Authorizer& authorizer_;
};

// MLflow's span record for an OpenTelemetry span: the span dictionary with
// its attribute values as JSON text and mlflow.traceRequestId set to
// `trace_id`. Exposed for tests.
Span ToMlflowSpan(const OtelSpan& span, const std::string& trace_id);

// "tr-" and the 32 hex digits of an OpenTelemetry trace id (16 bytes).
std::string TraceIdOf(const std::string& otel_trace_id);

// A preview as MLflow keeps one: at most 1000 characters, cut ones ending
// in "...", never in the middle of a UTF-8 sequence.
std::string Preview(const std::string& text);

}  // namespace slipway::tracing
