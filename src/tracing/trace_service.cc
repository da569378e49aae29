#include "tracing/trace_service.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/page_token.h"
#include "core/sha256.h"
#include "tracing/span_content.h"

namespace slipway::tracing {
namespace {

using governance::Permission;
using governance::ResourceType;
using Json = nlohmann::json;

// Attribute values as MLflow keeps them: JSON text (a string "x" is "\"x\"").
std::string Dumped(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* FindAttribute(const Attributes& attributes, const std::string& key) {
  for (const auto& [k, v] : attributes)
    if (k == key) return &v;
  return nullptr;
}

const char* StatusName(int code) {
  switch (code) {
    case 1:
      return "OK";
    case 2:
      return "ERROR";
    default:
      return "UNSET";
  }
}

// Tag values from OpenTelemetry attributes: strings as they are, other
// values as JSON.
std::string TagValue(const Json& value) {
  return value.is_string() ? value.get<std::string>() : Dumped(value);
}

void CheckKey(const std::string& key, const char* what) {
  if (key.empty())
    ThrowInvalid(std::string("Missing value for required parameter '") + what + "'.");
  if (key.size() > kMaxTraceKeyLength)
    ThrowInvalid(std::string(what) + " '" + key.substr(0, 32) + "...' is longer than " +
                 std::to_string(kMaxTraceKeyLength) + " characters");
}

bool IsImmutableTag(const std::string& key) {
  return key == kSpansLocationTag || key == kArtifactLocationTag ||
         key == "mlflow.trace.archiveLocation";
}

int64_t NumSpansClaimed(const TraceInfo& info) {
  const auto it = info.metadata.find(kSizeStatsKey);
  if (it == info.metadata.end()) return 0;
  const Json stats = Json::parse(it->second, nullptr, false);
  if (!stats.is_object()) return 0;
  const auto n = stats.find("num_spans");
  return n != stats.end() && n->is_number_integer() ? n->get<int64_t>() : 0;
}

bool SpansInStore(const TraceInfo& info) {
  const auto it = info.tags.find(kSpansLocationTag);
  return it != info.tags.end() && it->second == kSpansInTrackingStore;
}

}  // namespace

std::string TraceIdOf(const std::string& otel_trace_id) { return "tr-" + ToHex(otel_trace_id); }

std::string Preview(const std::string& text) {
  if (text.size() <= kMaxPreviewLength) return text;
  size_t cut = kMaxPreviewLength - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

Span ToMlflowSpan(const OtelSpan& otel, const std::string& trace_id) {
  if (otel.trace_id.size() != 16 || otel.span_id.size() != 8 ||
      (!otel.parent_span_id.empty() && otel.parent_span_id.size() != 8))
    ThrowInvalid("Cannot convert OpenTelemetry span to MLflow span: span '" + otel.name +
                 "' has a trace id of " + std::to_string(otel.trace_id.size()) +
                 " bytes and a span id of " + std::to_string(otel.span_id.size()) +
                 " bytes (16 and 8 expected)");
  Span span;
  span.span_id = ToHex(otel.span_id);
  span.parent_span_id = otel.parent_span_id.empty() ? "" : ToHex(otel.parent_span_id);
  span.name = otel.name;
  span.status = StatusName(otel.status_code);
  span.start_ns = static_cast<int64_t>(otel.start_ns);
  span.end_ns = static_cast<int64_t>(otel.end_ns);
  for (const auto& [key, value] : otel.attributes)
    if (key == "mlflow.spanType" && value.is_string()) span.type = value.get<std::string>();
  span.content = SpanContent(otel, trace_id);
  return span;
}

TraceService::TraceService(TraceStore& store, tracking::TrackingStore& tracking, Options options,
                           governance::Authorizer& authorizer)
    : store_(store), tracking_(tracking), options_(options), authorizer_(authorizer) {}

tracking::Experiment TraceService::ActiveExperiment(const std::string& experiment_id) {
  auto experiment = tracking_.GetExperiment(experiment_id);
  if (!experiment || experiment->lifecycle_stage != tracking::kLifecycleActive)
    ThrowNotFound("No Experiment with id=" + experiment_id + " exists");
  return *experiment;
}

std::string TraceService::ArtifactLocation(const std::string& experiment_location,
                                           const std::string& trace_id) {
  std::string base = experiment_location;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/traces/" + trace_id + "/artifacts";
}

std::string TraceService::RequireTrace(const std::string& trace_id, Permission needed) {
  governance::NameTarget("trace:" + trace_id);
  std::optional<std::string> experiment = store_.ExperimentOfTrace(trace_id);
  governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment, experiment, "trace",
                            trace_id);
  if (!experiment) ThrowNotFound("Trace with ID '" + trace_id + "' not found.");
  return std::move(*experiment);
}

bool TraceService::MayRead(const std::string& experiment_id) {
  return governance::Allows(authorizer_, Permission::kRead, ResourceType::kExperiment,
                            experiment_id);
}

TraceInfo TraceService::StartTrace(TraceInfo info) {
  if (info.trace_id.empty())
    ThrowInvalid("Missing value for required parameter 'trace.trace_info.trace_id'.");
  if (info.trace_id.size() > kMaxTraceIdLength)
    ThrowInvalid("Trace id '" + info.trace_id.substr(0, 60) + "...' is longer than " +
                 std::to_string(kMaxTraceIdLength) + " characters");
  if (info.experiment_id.empty())
    ThrowInvalid(
        "Missing value for required parameter "
        "'trace.trace_info.trace_location.mlflow_experiment.experiment_id'.");
  governance::NameTarget("trace:" + info.trace_id);
  const std::string& experiment_id = tracking::CanonicalExperimentId(info.experiment_id);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kExperiment, experiment_id);
  // A trace never moves to another experiment: the one who may write there
  // must not take over a trace of an experiment they cannot write.
  if (auto existing = store_.ExperimentOfTrace(info.trace_id)) {
    governance::RequireWithin(authorizer_, Permission::kEdit, ResourceType::kExperiment, *existing,
                              "trace", info.trace_id);
    if (*existing != experiment_id)
      ThrowInvalid("Trace '" + info.trace_id + "' belongs to experiment " + *existing + ", not " +
                   experiment_id);
  }
  const tracking::Experiment experiment = ActiveExperiment(experiment_id);
  info.experiment_id = experiment_id;
  for (auto& [key, value] : info.tags) {
    if (key.size() > kMaxTraceKeyLength) CheckKey(key, "tag key");
    if (value.size() > kMaxTraceTagValueLength) value.resize(kMaxTraceTagValueLength);
  }
  info.tags.erase(kSpansLocationTag);  // the locations of a trace's data are the server's
  info.tags.erase("mlflow.trace.archiveLocation");
  info.tags[kArtifactLocationTag] = ArtifactLocation(experiment.artifact_location, info.trace_id);
  info.metadata[kInfoFinalizedKey] = "true";
  if (info.request_preview) info.request_preview = Preview(*info.request_preview);
  if (info.response_preview) info.response_preview = Preview(*info.response_preview);
  const int64_t now = NowMillis();
  for (Assessment& a : info.assessments) {
    CheckAssessment(a, experiment_id);
    a.assessment_id = NewAssessmentId();
    a.trace_id = info.trace_id;
    if (a.create_time == 0) a.create_time = now;
    if (a.last_update_time == 0) a.last_update_time = a.create_time;
    a.valid = true;
  }
  return store_.UpsertTraceInfo(info);
}

TraceInfo TraceService::StartTraceV2(const std::string& experiment_text, int64_t timestamp_ms,
                                     const std::map<std::string, std::string>& metadata,
                                     const std::map<std::string, std::string>& tags) {
  if (experiment_text.empty())
    ThrowInvalid("Missing value for required parameter 'experiment_id'.");
  const std::string& experiment_id = tracking::CanonicalExperimentId(experiment_text);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kExperiment, experiment_id);
  const tracking::Experiment experiment = ActiveExperiment(experiment_id);
  TraceInfo info;
  info.trace_id = NewRunId();
  governance::SetTarget("trace:" + info.trace_id);
  info.experiment_id = experiment_id;
  info.request_time = timestamp_ms;
  info.state = "IN_PROGRESS";
  info.metadata = metadata;
  for (const auto& [key, value] : tags) {
    CheckKey(key, "tag key");
    if (!IsImmutableTag(key)) info.tags[key] = value.substr(0, kMaxTraceTagValueLength);
  }
  info.tags[kArtifactLocationTag] = ArtifactLocation(experiment.artifact_location, info.trace_id);
  return store_.UpsertTraceInfo(info);
}

TraceInfo TraceService::EndTraceV2(const std::string& trace_id, int64_t timestamp_ms,
                                   const std::string& state,
                                   const std::map<std::string, std::string>& metadata,
                                   const std::map<std::string, std::string>& tags) {
  RequireTrace(trace_id, Permission::kEdit);
  std::optional<TraceInfo> info = store_.GetTraceInfo(trace_id);
  if (!info) ThrowNotFound("Trace with ID '" + trace_id + "' not found.");
  info->execution_duration = std::max<int64_t>(0, timestamp_ms - info->request_time);
  info->state = state;
  for (const auto& [key, value] : metadata) info->metadata[key] = value;
  for (const auto& [key, value] : tags) {
    CheckKey(key, "tag key");
    if (!IsImmutableTag(key)) info->tags[key] = value.substr(0, kMaxTraceTagValueLength);
  }
  info->assessments.clear();  // kept as stored: the upsert adds, never removes
  return store_.UpsertTraceInfo(*info);
}

void TraceService::LogSpans(const std::string& experiment_text, const OtelBatch& batch,
                            const std::string& run_id) {
  const std::string& experiment_id = tracking::CanonicalExperimentId(experiment_text);
  governance::NameTarget("experiment:" + experiment_id);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kExperiment, experiment_id);
  const tracking::Experiment experiment = ActiveExperiment(experiment_id);
  if (batch.spans.empty()) ThrowInvalid("Invalid OpenTelemetry format - no spans found");

  std::map<std::string, SpanWrite> traces;  // by trace id
  std::map<std::string, std::pair<int64_t, int64_t>> extent;
  for (const OtelSpan& otel : batch.spans) {
    const std::string trace_id = TraceIdOf(otel.trace_id);
    Span span = ToMlflowSpan(otel, trace_id);
    SpanWrite& write = traces[trace_id];
    if (write.trace.trace_id.empty()) {
      write.trace.trace_id = trace_id;
      write.trace.experiment_id = experiment_id;
      write.trace.state = "IN_PROGRESS";
      write.trace.tags[kArtifactLocationTag] =
          ArtifactLocation(experiment.artifact_location, trace_id);
      extent[trace_id] = {span.start_ns, 0};
    }
    auto& [first, last] = extent[trace_id];
    first = std::min(first, span.start_ns);
    last = std::max(last, span.end_ns);
    if (const Json* user = FindAttribute(otel.attributes, "user.id"))
      write.trace.metadata[kTraceUserKey] = TagValue(*user);
    if (span.parent_span_id.empty()) {
      write.has_root = true;
      write.trace.state = otel.status_code == 2 ? "ERROR" : "OK";
      for (const auto& [key, value] : otel.attributes) {
        static const std::string kTagPrefix = "mlflow.traceTag.";
        // The root's mlflow.traceTag.<k> attributes become tags, but never the
        // ones that say where the trace's data is (those are the server's).
        if (key.rfind(kTagPrefix, 0) == 0 && key.size() > kTagPrefix.size() &&
            !IsImmutableTag(key.substr(kTagPrefix.size())))
          write.trace.tags[key.substr(kTagPrefix.size())] = TagValue(value);
        if (key == "mlflow.spanInputs") write.trace.request_preview = Preview(Dumped(value));
        if (key == "mlflow.spanOutputs") write.trace.response_preview = Preview(Dumped(value));
      }
    }
    if (otel.resource < batch.resources.size()) {
      for (const auto& [key, value] : batch.resources[otel.resource]) {
        if (key.rfind("telemetry.sdk.", 0) == 0 || key.rfind("mlflow.", 0) == 0) continue;
        write.trace.tags[key] = TagValue(value);
      }
    }
    write.spans.push_back(std::move(span));
  }
  std::vector<SpanWrite> writes;
  std::vector<std::string> rooted;
  for (auto& [trace_id, write] : traces) {
    const auto [first, last] = extent[trace_id];
    write.trace.request_time = first / 1000000;
    if (last > 0) write.trace.execution_duration = (last - first) / 1000000;
    if (write.has_root) rooted.push_back(trace_id);
    writes.push_back(std::move(write));
  }
  // A trace id is global: the store refuses spans for a trace of another
  // experiment, whoever sends them, in the same transaction as the write.
  store_.LogSpans(writes);
  if (!run_id.empty() && !rooted.empty()) {
    if (auto run = tracking_.GetRun(run_id); run && run->info.experiment_id == experiment_id)
      store_.LinkTracesToRun(rooted, run_id);
  }
}

std::vector<std::string> TraceService::ReadableExperiments(const std::vector<std::string>& ids) {
  if (ids.empty()) ThrowInvalid("Missing value for required parameter 'experiment_ids'.");
  std::vector<std::string> out;
  for (const std::string& text : ids) {
    const auto id = tracking::ParseExperimentId(text);
    if (!id) continue;  // names no experiment
    const std::string canonical = std::to_string(*id);
    governance::Require(authorizer_, Permission::kRead, ResourceType::kExperiment, canonical);
    if (tracking_.GetExperiment(canonical)) out.push_back(canonical);
  }
  return out;
}

Correlation TraceService::CalculateFilterCorrelation(const std::vector<std::string>& experiment_ids,
                                                     const std::string& filter1,
                                                     const std::string& filter2,
                                                     const std::string& base_filter) {
  if (filter1.empty()) ThrowInvalid("Missing value for required parameter 'filter_string1'.");
  if (filter2.empty()) ThrowInvalid("Missing value for required parameter 'filter_string2'.");
  const TraceFilter base = ParseTraceFilter(base_filter);
  auto with_base = [&](const std::string& text) {
    TraceFilter combined = base;
    for (TraceClause& c : ParseTraceFilter(text).clauses) combined.clauses.push_back(std::move(c));
    return combined;
  };
  const TraceFilter first = with_base(filter1), second = with_base(filter2);
  const std::vector<std::string> experiments = ReadableExperiments(experiment_ids);
  if (experiments.empty()) return CorrelationOf(0, 0, 0, 0);
  const int64_t total = store_.CountTraces(experiments, {base});
  const int64_t count1 = store_.CountTraces(experiments, {first});
  const int64_t count2 = store_.CountTraces(experiments, {second});
  const int64_t joint = store_.CountTraces(experiments, {first, second});
  return CorrelationOf(joint, count1, count2, total);
}

std::vector<MetricDataPoint> TraceService::QueryTraceMetrics(
    const std::vector<std::string>& experiment_ids, const TraceMetricsQuery& query,
    const std::vector<std::string>& filters) {
  CheckTraceMetricsQuery(query);
  std::string trace_filter;
  const std::vector<MetricRowFilter> row_filters =
      SplitMetricFilters(query.view_type, filters, &trace_filter);
  const TraceFilter filter = ParseTraceFilter(trace_filter);
  const std::vector<std::string> experiments = ReadableExperiments(experiment_ids);
  if (experiments.empty()) return {};
  return AggregateTraceMetrics(
      store_.ScanMetricRows(query.view_type, experiments, filter, row_filters, query.start_time_ms,
                            query.end_time_ms),
      query);
}

TraceInfo TraceService::GetTraceInfo(const std::string& trace_id) {
  RequireTrace(trace_id, Permission::kRead);
  std::optional<TraceInfo> info = store_.GetTraceInfo(trace_id);
  if (!info) ThrowNotFound("Trace with ID '" + trace_id + "' not found.");  // deleted meanwhile
  return std::move(*info);
}

bool TraceService::Complete(const Trace& trace) const {
  if (trace.spans.empty()) return false;
  return static_cast<int64_t>(trace.spans.size()) >= NumSpansClaimed(trace.info);
}

Trace TraceService::GetTrace(const std::string& trace_id, bool allow_partial) {
  Trace trace{GetTraceInfo(trace_id), {}};
  if (!SpansInStore(trace.info))
    ThrowNotFound("Trace data of trace '" + trace_id +
                  "' is not stored in the tracking store (it is in its artifact location)");
  trace.spans = store_.GetSpans(trace_id);
  if (allow_partial) return trace;
  const auto deadline = std::chrono::steady_clock::now() + options_.complete_wait;
  while (!Complete(trace)) {
    if (std::chrono::steady_clock::now() >= deadline)
      ThrowNotFound("Trace with ID " + trace_id +
                    " is not fully exported yet, please try again later.");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    trace.info = GetTraceInfo(trace_id);
    trace.spans = store_.GetSpans(trace_id);
  }
  return trace;
}

std::vector<Trace> TraceService::BatchGetTraces(const std::vector<std::string>& trace_ids) {
  std::vector<Trace> out;
  for (const std::string& id : trace_ids) {
    std::optional<TraceInfo> info = store_.GetTraceInfo(id);
    if (!info || !MayRead(info->experiment_id) || !SpansInStore(*info)) continue;
    Trace trace{std::move(*info), store_.GetSpans(id)};
    if (Complete(trace)) out.push_back(std::move(trace));
  }
  return out;
}

std::vector<TraceInfo> TraceService::BatchGetTraceInfos(const std::vector<std::string>& trace_ids) {
  std::vector<TraceInfo> out;
  for (const std::string& id : trace_ids) {
    std::optional<TraceInfo> info = store_.GetTraceInfo(id);
    if (info && MayRead(info->experiment_id)) out.push_back(std::move(*info));
  }
  return out;
}

Found<TraceInfo> TraceService::SearchTraces(const std::vector<std::string>& experiment_ids,
                                            const std::string& filter,
                                            std::optional<int64_t> max_results,
                                            const std::vector<std::string>& order_by,
                                            const std::string& page_token) {
  if (experiment_ids.empty()) ThrowInvalid("Missing value for required parameter 'locations'.");
  const int64_t limit = max_results.value_or(kDefaultTracesPerPage);
  if (limit < 1 || limit > kMaxTracesPerPage)
    ThrowInvalid("Invalid value " + std::to_string(limit) +
                 " for parameter 'max_results' supplied: it must be a positive integer of at "
                 "most " +
                 std::to_string(kMaxTracesPerPage));
  const TraceFilter parsed = ParseTraceFilter(filter);
  const std::vector<TraceOrder> order = ParseTraceOrderBy(order_by);
  const int64_t offset = DecodePageToken(page_token);
  std::vector<std::string> searched;
  for (const std::string& text : experiment_ids) {
    const auto id = tracking::ParseExperimentId(text);
    if (!id) continue;  // names no experiment
    const std::string canonical = std::to_string(*id);
    governance::Require(authorizer_, Permission::kRead, ResourceType::kExperiment, canonical);
    auto experiment = tracking_.GetExperiment(canonical);
    if (experiment && experiment->lifecycle_stage == tracking::kLifecycleActive)
      searched.push_back(canonical);
  }
  if (searched.empty()) return {};
  auto page = store_.SearchTraces(searched, parsed, order, {offset, limit});
  Found<TraceInfo> out;
  out.items = std::move(page.items);
  // As MLflow: a full page always has a next one (which may be empty).
  if (static_cast<int64_t>(out.items.size()) == limit)
    out.next_page_token = EncodePageToken(offset + limit);
  return out;
}

void TraceService::SetTraceTag(const std::string& trace_id, const std::string& key,
                               std::string value) {
  CheckKey(key, "key");
  if (IsImmutableTag(key))
    ThrowInvalid("Tag '" + key + "' is immutable and cannot be set on a trace.");
  RequireTrace(trace_id, Permission::kEdit);
  if (value.size() > kMaxTraceTagValueLength) value.resize(kMaxTraceTagValueLength);
  store_.SetTraceTag(trace_id, key, value);
}

void TraceService::DeleteTraceTag(const std::string& trace_id, const std::string& key) {
  CheckKey(key, "key");
  if (IsImmutableTag(key))
    ThrowInvalid("Tag '" + key + "' is immutable and cannot be deleted on a trace.");
  RequireTrace(trace_id, Permission::kEdit);
  if (!store_.DeleteTraceTag(trace_id, key))
    ThrowNotFound("No trace tag with key '" + key + "' for trace with ID '" + trace_id + "'");
}

int64_t TraceService::DeleteTraces(const std::string& experiment_text,
                                   const std::vector<std::string>& ids,
                                   std::optional<int64_t> max_timestamp,
                                   std::optional<int64_t> max_traces) {
  if (experiment_text.empty())
    ThrowInvalid("Missing value for required parameter 'experiment_id'.");
  if (!max_timestamp && ids.empty())
    ThrowInvalid("Either `max_timestamp_millis` or `trace_ids` must be specified.");
  if (max_timestamp && !ids.empty())
    ThrowInvalid("Only one of `max_timestamp_millis` and `trace_ids` can be specified.");
  if (max_traces && !max_timestamp)
    ThrowInvalid("`max_traces` can't be specified if `max_timestamp_millis` is not specified.");
  if (max_traces && *max_traces <= 0)
    ThrowInvalid("`max_traces` must be a positive integer, received " +
                 std::to_string(*max_traces) + ".");
  const std::string& experiment_id = tracking::CanonicalExperimentId(experiment_text);
  governance::NameTarget("experiment:" + experiment_id);
  governance::Require(authorizer_, Permission::kManage, ResourceType::kExperiment, experiment_id);
  return store_.DeleteTraces(experiment_id, ids, max_timestamp, max_traces);
}

void TraceService::LinkTracesToRun(const std::vector<std::string>& trace_ids,
                                   const std::string& run_id) {
  if (run_id.empty()) ThrowInvalid("Missing value for required parameter 'run_id'.");
  if (trace_ids.size() > kMaxTracesPerLink)
    ThrowInvalid("Cannot link more than " + std::to_string(kMaxTracesPerLink) +
                 " traces to a run in a single request. Provided " +
                 std::to_string(trace_ids.size()) + " traces.");
  auto run = tracking_.GetRun(run_id);
  governance::RequireWithin(
      authorizer_, Permission::kEdit, ResourceType::kExperiment,
      run ? std::optional<std::string>(run->info.experiment_id) : std::nullopt, "run", run_id);
  if (!run) ThrowNotFound("Run with id=" + run_id + " not found");
  // A trace that is there needs EDIT on its experiment; one that is not
  // (yet: the client exports in the background) is linked on the run's
  // EDIT alone, as MLflow links it.
  for (const std::string& id : trace_ids) {
    if (id.empty() || id.size() > kMaxTraceIdLength)
      ThrowInvalid("Invalid trace id '" + id.substr(0, 60) + "'");
    if (store_.ExperimentOfTrace(id)) RequireTrace(id, Permission::kEdit);
  }
  store_.LinkTracesToRun(trace_ids, run_id);
}

void TraceService::LinkPromptsToTrace(
    const std::string& trace_id, const std::vector<std::pair<std::string, std::string>>& prompts) {
  if (trace_id.empty()) ThrowInvalid("Missing value for required parameter 'trace_id'.");
  std::vector<std::string> ids;
  for (const auto& [name, version] : prompts) {
    if (name.empty()) ThrowInvalid("Missing value for required parameter 'prompt_versions.name'.");
    const bool numeric =
        !version.empty() && version.size() <= 18 &&
        std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric)
      ThrowInvalid("Invalid prompt version '" + version + "' of prompt '" + name +
                   "': a version is a positive integer");
    ids.push_back(name + "/" + std::to_string(std::stoll(version)));
  }
  RequireTrace(trace_id, Permission::kEdit);
  if (!ids.empty()) store_.LinkPromptsToTrace(trace_id, ids);
}

void TraceService::CheckAssessment(const Assessment& a, const std::string& experiment_id) {
  if (a.kind != "feedback" && a.kind != "expectation" && a.kind != "issue")
    ThrowInvalid("Unknown assessment type: None");
  if (a.kind != "issue") return;
  // Unlike MLflow, which keeps a link to any id, the issue must exist and
  // be of the trace's experiment: its trace count and the issue.id filter
  // then never count traces its readers cannot see.
  std::optional<std::string> issue_experiment;
  if (options_.issue_experiment) issue_experiment = options_.issue_experiment(a.name);
  if (!issue_experiment || *issue_experiment != experiment_id)
    ThrowNotFound("Issue '" + a.name + "' not found in experiment " + experiment_id +
                  ": a trace links only to an issue of its own experiment");
}

Assessment TraceService::CreateAssessment(Assessment assessment) {
  if (assessment.kind != "feedback" && assessment.kind != "expectation" &&
      assessment.kind != "issue")
    ThrowInvalid("Unknown assessment type: None");
  if (assessment.name.empty())
    ThrowInvalid("Missing value for required parameter 'assessment.assessment_name'.");
  CheckAssessment(assessment, RequireTrace(assessment.trace_id, Permission::kEdit));
  if (!assessment.overrides.empty() &&
      !store_.GetAssessment(assessment.trace_id, assessment.overrides))
    ThrowNotFound("Assessment with ID '" + assessment.overrides + "' not found for trace '" +
                  assessment.trace_id + "'");
  assessment.assessment_id = NewAssessmentId();
  const int64_t now = NowMillis();
  if (assessment.create_time == 0) assessment.create_time = now;
  if (assessment.last_update_time == 0) assessment.last_update_time = assessment.create_time;
  assessment.valid = true;
  store_.CreateAssessment(assessment);
  return assessment;
}

Assessment TraceService::GetAssessment(const std::string& trace_id,
                                       const std::string& assessment_id) {
  RequireTrace(trace_id, Permission::kRead);
  auto found = store_.GetAssessment(trace_id, assessment_id);
  if (!found)
    ThrowNotFound("Assessment with ID '" + assessment_id + "' not found for trace '" + trace_id +
                  "'");
  return *found;
}

Assessment TraceService::UpdateAssessment(const std::string& trace_id,
                                          const std::string& assessment_id,
                                          const Assessment& update,
                                          const std::vector<std::string>& fields) {
  RequireTrace(trace_id, Permission::kEdit);
  auto found = store_.GetAssessment(trace_id, assessment_id);
  if (!found)
    ThrowNotFound("Assessment with ID '" + assessment_id + "' not found for trace '" + trace_id +
                  "'");
  Assessment a = std::move(*found);
  for (const std::string& field : fields) {
    if (field == "assessment_name") {
      if (update.name.empty()) ThrowInvalid("assessment_name may not be empty");
      a.name = update.name;
    } else if (field == "feedback" || field == "expectation") {
      if (field != a.kind)
        ThrowInvalid(std::string("Cannot update ") + field + " value on " +
                     (a.kind == "feedback"      ? "a Feedback"
                      : a.kind == "expectation" ? "an Expectation"
                                                : "an IssueReference") +
                     " assessment.");
      a.value = update.value;
      a.serialized = update.serialized;
      a.error = update.error;
    } else if (field == "rationale") {
      a.rationale = update.rationale;
    } else if (field == "metadata") {
      for (const auto& [k, v] : update.metadata) a.metadata[k] = v;
    } else if (field == "valid") {
      a.valid = update.valid;
    } else {
      ThrowInvalid("Invalid field '" + field + "' in update_mask");
    }
  }
  a.last_update_time = NowMillis();
  store_.UpdateAssessment(a);
  return a;
}

void TraceService::DeleteAssessment(const std::string& trace_id, const std::string& assessment_id) {
  RequireTrace(trace_id, Permission::kEdit);
  store_.DeleteAssessment(trace_id, assessment_id);  // deleting twice is fine, as in MLflow
}

}  // namespace slipway::tracing
