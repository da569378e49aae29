// The persistence interface of tracing.
//
// TraceStore is what the trace service needs from a metadata store;
// SqliteTraceStore (store/) fills it today, a PostgreSQL store later.
// Implementations are thread-safe, and a write returns only once it is
// durable against a crash of the process. Lookups of unknown ids return an
// empty optional; writes on unknown traces throw RESOURCE_DOES_NOT_EXIST.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tracing/entities.h"
#include "tracing/trace_analysis.h"
#include "tracing/trace_search.h"
#include "tracking/tracking_store.h"

namespace slipway::tracing {

// The spans of one trace from one OTLP request, with what they say about
// the trace.
struct SpanWrite {
  // The trace as the spans describe it, for a trace the store does not have
  // yet: id, experiment, request time (the first span's start), duration
  // (to the last end, when a span has ended), state (the root's, or
  // IN_PROGRESS without the root), previews (the root's inputs and
  // outputs), tags (the artifact location, the root's mlflow.traceTag.*,
  // the resource's attributes) and metadata (mlflow.trace.user).
  TraceInfo trace;
  std::vector<Span> spans;
  bool has_root = false;
};

class TraceStore {
 public:
  virtual ~TraceStore() = default;

  // StartTraceV3: inserts the trace, or merges into the one with its id
  // (fields overwritten, previews only by values given, tags and metadata
  // merged, assessments added). Returns the trace as stored.
  virtual TraceInfo UpsertTraceInfo(const TraceInfo& info) = 0;

  // Adds or replaces spans (by trace and span id), creating traces that do
  // not exist from SpanWrite::trace. For a trace that exists: its time and
  // duration widen to cover the spans unless its info was finalized
  // (metadata mlflow.trace.infoFinalized), its state becomes the root's if it
  // was IN_PROGRESS or STATE_UNSPECIFIED, its previews are filled only where
  // empty, and the tags and metadata are merged. Every trace written gets
  // the tag mlflow.trace.spansLocation = TRACKING_STORE. One transaction:
  // a trace id that exists in another experiment than SpanWrite::trace's
  // refuses the whole call (INVALID_PARAMETER_VALUE) and writes nothing.
  virtual void LogSpans(const std::vector<SpanWrite>& writes) = 0;

  // With its tags, metadata and assessments.
  virtual std::optional<TraceInfo> GetTraceInfo(const std::string& trace_id) = 0;
  // The experiment of a trace, without the rest of it.
  virtual std::optional<std::string> ExperimentOfTrace(const std::string& trace_id) = 0;
  // Root first, then by start time.
  virtual std::vector<Span> GetSpans(const std::string& trace_id) = 0;
  // Traces of `experiment_ids` matching `filter`, in `order`, with their
  // tags, metadata and assessments.
  virtual tracking::PageOf<TraceInfo> SearchTraces(const std::vector<std::string>& experiment_ids,
                                                   const TraceFilter& filter,
                                                   const std::vector<TraceOrder>& order,
                                                   tracking::Page page) = 0;

  // How many traces of `experiment_ids` match every filter of `all_of`
  // (each filter on its own: a trace may match them through different
  // spans); 0 when `all_of` is empty.
  virtual int64_t CountTraces(const std::vector<std::string>& experiment_ids,
                              const std::vector<TraceFilter>& all_of) = 0;
  // The rows of metrics view `view_type` (TRACES, SPANS, ASSESSMENTS: see
  // MetricRow) of the traces of `experiment_ids` matching `filter`, with
  // their time in [start_ms, end_ms). `rows` are SplitMetricFilters' row
  // filters, all of which a span or assessment row must match.
  virtual std::vector<MetricRow> ScanMetricRows(const std::string& view_type,
                                                const std::vector<std::string>& experiment_ids,
                                                const TraceFilter& filter,
                                                const std::vector<MetricRowFilter>& rows,
                                                std::optional<int64_t> start_ms,
                                                std::optional<int64_t> end_ms) = 0;

  virtual void SetTraceTag(const std::string& trace_id, const std::string& key,
                           const std::string& value) = 0;
  // False when the trace has no such tag.
  virtual bool DeleteTraceTag(const std::string& trace_id, const std::string& key) = 0;
  // Deletes traces of the experiment with all they hold: those in `ids`, or
  // (when `ids` is empty) those at or before `max_timestamp`, oldest first,
  // at most `max_traces` when given. Returns how many.
  virtual int64_t DeleteTraces(const std::string& experiment_id,
                               const std::vector<std::string>& ids,
                               std::optional<int64_t> max_timestamp,
                               std::optional<int64_t> max_traces) = 0;
  // Links the traces to the run (again: no-op), whether they exist yet or
  // not: the client's export may bring a trace after its link.
  virtual void LinkTracesToRun(const std::vector<std::string>& trace_ids,
                               const std::string& run_id) = 0;
  // Links the trace to prompt versions, each "<name>/<version>" (again: no-op).
  virtual void LinkPromptsToTrace(const std::string& trace_id,
                                  const std::vector<std::string>& prompts) = 0;

  // Assessments. Create marks the one `overrides` names invalid; delete
  // makes it valid again.
  virtual void CreateAssessment(const Assessment& assessment) = 0;
  virtual std::optional<Assessment> GetAssessment(const std::string& trace_id,
                                                  const std::string& assessment_id) = 0;
  virtual void UpdateAssessment(const Assessment& assessment) = 0;
  // False when there is no such assessment.
  virtual bool DeleteAssessment(const std::string& trace_id, const std::string& assessment_id) = 0;
};

}  // namespace slipway::tracing
