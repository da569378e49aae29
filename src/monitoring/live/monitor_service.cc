#include "monitoring/live/monitor_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "monitoring/live/window_fold.h"
#include "registry/lineage.h"

namespace slipway::monitoring::live {
namespace {

using governance::Permission;
using governance::ResourceType;
using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

data::DatasetProfile Restrict(const data::DatasetProfile& profile,
                              const std::vector<std::string>& columns) {
  data::DatasetProfile out;
  out.row_count = profile.row_count;
  for (const std::string& name : columns) {
    if (const data::ColumnProfile* column = profile.Find(name)) out.columns.push_back(*column);
  }
  return out;
}

data::DatasetProfile Merged(const std::vector<MonitorWindow>& windows, bool outputs) {
  data::DatasetProfile merged;
  for (const MonitorWindow& window : windows) {
    MergeByName(merged, outputs ? window.outputs : window.inputs);
  }
  return merged;
}

}  // namespace

MonitorService::MonitorService(Options options, MonitorStore& store,
                               serving::PredictionLogReader reader,
                               serving::ServingService& serving,
                               registry::RegistryService& registry,
                               tracking::TrackingService& tracking, data::DatasetService& datasets,
                               governance::Authorizer& authorizer)
    : options_(std::move(options)),
      store_(store),
      reader_(std::move(reader)),
      serving_(serving),
      registry_(registry),
      tracking_(tracking),
      datasets_(datasets),
      authorizer_(authorizer) {}

// --- configuration

std::vector<std::string> MonitorService::ModelInputs(const std::string& deployment) {
  std::shared_ptr<serving::Deployment> served = serving_.Find(deployment);
  std::shared_ptr<const serving::Routing> routing = served->routing();
  if (!routing || !routing->primary || !routing->primary->model) {
    throw Error(ErrorCode::kInvalidState,
                "Deployment '" + deployment +
                    "' serves no version yet, so the model's inputs are unknown; retry once it "
                    "serves");
  }
  const ml::MlModel& mlmodel = routing->primary->model->mlmodel();
  std::vector<std::string> inputs;
  if (!mlmodel.signature) return inputs;
  for (const ml::ColumnSpec& column : mlmodel.signature->inputs.columns) {
    if (!column.name.empty()) inputs.push_back(column.name);
  }
  return inputs;
}

MonitorService::Reference MonitorService::ResolveReference(const std::string& deployment,
                                                           const std::string& requested,
                                                           std::string* model_name,
                                                           std::string* model_version) {
  serving::DeploymentInfo info = serving_.Get(deployment);
  for (const serving::VersionStatus& version : info.versions) {
    if (version.role == "primary" && version.state == "ready") {
      *model_name = version.model_name;
      *model_version = version.version;
      break;
    }
  }
  Reference reference;
  data::DatasetVersion version;
  if (!requested.empty()) {
    data::DatasetRef ref;
    try {
      ref = data::ParseDatasetRef(requested);
    } catch (const Error& e) {
      ThrowInvalid("reference '" + requested + "': " + e.what());
    }
    try {
      version = datasets_.Resolve(ref);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kResourceDoesNotExist) throw;
      ThrowNotFound("reference '" + requested + "': " + e.what());
    }
  } else {
    if (model_name->empty()) {
      throw Error(ErrorCode::kInvalidState,
                  "reference: deployment '" + deployment +
                      "' serves no version yet, so its lineage cannot name the training data; "
                      "name a reference (NAME@VERSION) or retry once it serves");
    }
    registry::ModelLineage lineage =
        registry::BuildLineage(registry_, tracking_, *model_name, *model_version);
    std::vector<registry::DatasetRef> candidates = lineage.datasets;
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](const registry::DatasetRef& d) { return d.context == "training"; });
    bool found = false;
    std::vector<std::string> named;
    for (const registry::DatasetRef& candidate : candidates) {
      named.push_back(candidate.name + " (digest " + candidate.digest + ")");
      std::vector<data::DatasetVersion> versions;
      try {
        versions = datasets_.Versions(candidate.name);
      } catch (const Error&) {
        continue;  // not in this store, or not readable
      }
      for (const data::DatasetVersion& v : versions) {
        if (data::RunInputDigest(v) == candidate.digest) {
          // The list leaves the profile out: the version's whole record.
          version = datasets_.Resolve(data::DatasetRef{v.name, v.version});
          found = true;
          break;
        }
      }
      if (found) break;
    }
    if (!found) {
      throw Error(ErrorCode::kInvalidState,
                  "reference: the lineage of model '" + *model_name + "' version " +
                      *model_version + " names " +
                      (named.empty() ? std::string("no dataset") : Join(named)) +
                      ", and no dataset version of this server has that digest; name a "
                      "reference (NAME@VERSION)");
    }
    reference.from_lineage = true;
  }
  reference.ref = version.name + "@" + std::to_string(version.version);
  try {
    reference.profile = datasets_.ProfileOf(version);
  } catch (const Error& e) {
    ThrowInvalid("reference '" + reference.ref + "' is not a profiled table: " + e.what());
  }
  return reference;
}

MonitorConfig MonitorService::Set(const std::string& deployment, const MonitorRequest& request) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, deployment);
  MonitorConfig config;
  config.deployment = deployment;
  config.window = WindowSpec::Parse(request.window);
  if (request.task != "" && request.task != "classification" && request.task != "regression") {
    ThrowInvalid("task '" + request.task + "': use classification or regression (or leave it out)");
  }
  config.task = request.task;
  Reference reference =
      ResolveReference(deployment, request.reference, &config.model_name, &config.model_version);
  config.reference = reference.ref;
  config.reference_from_lineage = reference.from_lineage;

  std::vector<std::string> inputs = ModelInputs(deployment);
  std::vector<std::string> reference_columns;
  for (const data::ColumnProfile& column : reference.profile.columns) {
    reference_columns.push_back(column.name);
  }
  // A model without a column signature: every column of the reference.
  if (inputs.empty()) inputs = reference_columns;
  std::vector<std::string> lacking;
  for (const std::string& input : inputs) {
    if (!reference.profile.Find(input)) lacking.push_back(input);
  }
  if (!lacking.empty()) {
    ThrowInvalid("reference '" + reference.ref + "' lacks the model's input column(s) " +
                 Join(lacking) + " (the model takes " + Join(inputs) + "; the reference has " +
                 Join(reference_columns) + ")");
  }
  const bool all =
      request.features.empty() || (request.features.size() == 1 && request.features[0] == "all");
  config.all_features = all;
  if (all) {
    config.features = inputs;
  } else {
    for (const std::string& feature : request.features) {
      if (std::find(inputs.begin(), inputs.end(), feature) == inputs.end()) {
        ThrowInvalid("features: '" + feature +
                     "' is not an input of the model (its inputs: " + Join(inputs) + ")");
      }
      if (std::find(config.features.begin(), config.features.end(), feature) ==
          config.features.end()) {
        config.features.push_back(feature);
      }
    }
  }
  for (const auto& [feature, value] : request.thresholds) {
    bool known = std::find(config.features.begin(), config.features.end(), feature) !=
                     config.features.end() ||
                 feature.rfind("prediction", 0) == 0;
    if (!known) {
      ThrowInvalid("thresholds: '" + feature +
                   "' is neither a monitored feature nor a prediction column");
    }
    if (!(value > 0)) ThrowInvalid("thresholds: '" + feature + "' must be a positive PSI");
  }
  config.thresholds = request.thresholds;
  if (request.default_threshold) {
    if (!(*request.default_threshold > 0)) ThrowInvalid("default_threshold must be positive");
    config.default_threshold = *request.default_threshold;
  }
  const int64_t now = NowMs();
  if (request.retention_age)
    config.retention.max_age_ms = Retention::ParseAge(*request.retention_age);
  if (request.max_windows) {
    if (*request.max_windows < 0) ThrowInvalid("retention.max_windows: must be 0 or more");
    config.retention.max_windows = *request.max_windows;
  }
  if (request.max_predictions) {
    if (*request.max_predictions < 0) ThrowInvalid("retention.max_predictions: must be 0 or more");
    config.retention.max_predictions = *request.max_predictions;
  }
  config.created_by = governance::CurrentActorName();
  config.creation_time = now;
  config.last_updated_time = now;
  config.generation = 1;
  if (std::optional<StoredMonitor> old = store_.Get(deployment)) {
    config.creation_time = old->config.creation_time;
    config.generation = old->config.generation + 1;
  }
  data::DatasetProfile restricted = Restrict(reference.profile, config.features);
  {
    // Under the fold's lock, so no gauge update of the old config lands
    // after its gauges went (features may have changed).
    std::lock_guard<std::mutex> lock(fold_mu_);
    store_.Put(config, restricted.ToJson().dump());
    RemoveGauges(deployment);
  }
  return config;
}

StoredMonitor MonitorService::Load(const std::string& deployment) {
  std::optional<StoredMonitor> monitor = store_.Get(deployment);
  if (!monitor) {
    // RESOURCE_DOES_NOT_EXIST naming the deployment when there is none.
    serving_.Get(deployment);
    ThrowNotFound("Deployment '" + deployment + "' has no monitor.");
  }
  return std::move(*monitor);
}

MonitorConfig MonitorService::Get(const std::string& deployment) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  return Load(deployment).config;
}

void MonitorService::Delete(const std::string& deployment) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kEdit, ResourceType::kDeployment, deployment);
  std::lock_guard<std::mutex> lock(fold_mu_);
  if (!store_.Delete(deployment)) {
    serving_.Get(deployment);  // RESOURCE_DOES_NOT_EXIST naming it when there is none
    ThrowNotFound("Deployment '" + deployment + "' has no monitor.");
  }
  RemoveGauges(deployment);
  changes_.erase(deployment);
}

void MonitorService::RemoveGauges(const std::string& deployment) {
  if (options_.metrics)
    options_.metrics->RemoveSeries("slipway_monitor_", "deployment", deployment);
}

// --- the fold

int64_t MonitorService::FoldDeployment(const std::string& deployment) {
  std::lock_guard<std::mutex> lock(fold_mu_);
  const int64_t rows = FoldLog(store_, reader_, deployment, options_.max_segments_per_fold);
  if (rows > 0) ++changes_[deployment];
  return rows;
}

void MonitorService::FoldAll() {
  governance::Operation operation(governance::Actor::System("monitoring"), "monitor/fold");
  std::vector<StoredMonitor> monitors;
  try {
    monitors = store_.List();
  } catch (const std::exception& e) {
    spdlog::warn("monitoring: cannot list monitors: {}", e.what());
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool hourly = last_prune_ == std::chrono::steady_clock::time_point{} ||
                      now - last_prune_ >= std::chrono::hours(1);
  if (hourly) last_prune_ = now;
  for (const StoredMonitor& monitor : monitors) {
    const std::string& name = monitor.config.deployment;
    try {
      const int64_t rows = FoldDeployment(name);
      // Windows come with folded rows: the counts are kept at every fold
      // that added some; ages pass without traffic: hourly.
      if (rows > 0 || hourly) {
        const Retention& retention = monitor.config.retention;
        const int64_t max_age_ms =
            retention.max_age_ms > 0
                ? retention.max_age_ms
                : std::chrono::duration_cast<std::chrono::milliseconds>(options_.keep_predictions)
                      .count();
        MonitorStore::Pruned pruned = store_.Prune(
            name, NowMs() - max_age_ms, retention.max_windows, retention.max_predictions);
        if (pruned.windows > 0 || pruned.predictions > 0) {
          std::lock_guard<std::mutex> lock(fold_mu_);
          ++changes_[name];
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("monitoring: fold of deployment '{}' failed: {}", name, e.what());
    }
  }
  // The gauges read each monitor's config and reference, which folding
  // does not change: the list above serves both.
  UpdateGauges(monitors);
}

// --- drift and accuracy

bool MonitorService::Closed(const MonitorConfig& config, const MonitorWindow& window,
                            int64_t now_ms) const {
  if (config.window.kind == WindowSpec::Kind::kRows) return window.rows >= config.window.rows;
  return window.end_ms + options_.close_delay.count() <= now_ms;
}

RangeDrift MonitorService::DriftOf(const StoredMonitor& monitor,
                                   const std::vector<MonitorWindow>& windows, int64_t from_ms,
                                   int64_t to_ms, const data::DatasetProfile& reference,
                                   const std::optional<MonitorWindow>& baseline,
                                   bool with_distributions, const EstimatedPerformance* estimated) {
  RangeDrift drift;
  drift.from_ms = from_ms;
  drift.to_ms = to_ms;
  drift.windows = static_cast<int64_t>(windows.size());
  for (const MonitorWindow& window : windows) drift.rows += window.rows;
  if (!windows.empty()) {
    drift.first_window_start_ms = windows.front().start_ms;
    drift.last_window_end_ms = windows.back().end_ms;
  }
  data::DatasetProfile inputs = Merged(windows, false);
  // Features that no request carried are all missing: compare what came.
  drift.features = data::DatasetDrift(reference, inputs, options_.drift);
  if (with_distributions) {
    drift.distributions = FeatureDistributions(reference, inputs, monitor.config.features);
  }
  for (const std::string& feature : monitor.config.features) {
    const data::ColumnProfile* column = inputs.Find(feature);
    int64_t missing = column ? column->missing : inputs.row_count;
    drift.missing_rate[feature] =
        inputs.row_count > 0 ? static_cast<double>(missing) / static_cast<double>(inputs.row_count)
                             : 0.0;
  }
  if (baseline) {
    drift.predictions =
        data::DatasetDrift(baseline->outputs, Merged(windows, true), options_.drift);
  }
  // Feedback joins predictions by their time: the range's span.
  if (!windows.empty()) {
    int64_t start = windows.front().start_ms;
    int64_t end = windows.back().end_ms + 1;
    if (monitor.config.window.kind == WindowSpec::Kind::kTime) end = windows.back().end_ms;
    drift.accuracy =
        ComputeAccuracy(store_.Joined(monitor.config.deployment, start, end), monitor.config.task);
    drift.estimated = estimated != nullptr
                          ? *estimated
                          : EstimatePerformance(store_.Kept(monitor.config.deployment, start, end));
  }
  return drift;
}

RangeDrift MonitorService::Drift(const std::string& deployment, int64_t from_ms, int64_t to_ms) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  if (from_ms >= to_ms) ThrowInvalid("from must be before to");
  StoredMonitor monitor = Load(deployment);
  data::DatasetProfile reference =
      data::DatasetProfile::FromJson(json::parse(monitor.reference_profile));
  std::vector<MonitorWindow> windows = store_.Windows(deployment, from_ms, to_ms);
  return DriftOf(monitor, windows, from_ms, to_ms, reference, store_.FirstWindow(deployment),
                 /*with_distributions=*/true);
}

std::vector<WindowDrift> MonitorService::Series(const std::string& deployment, int64_t from_ms,
                                                int64_t to_ms) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  if (from_ms >= to_ms) ThrowInvalid("from must be before to");
  StoredMonitor monitor = Load(deployment);
  data::DatasetProfile reference =
      data::DatasetProfile::FromJson(json::parse(monitor.reference_profile));
  std::optional<MonitorWindow> baseline = store_.FirstWindow(deployment);
  const int64_t now = NowMs();
  std::vector<WindowDrift> series;
  for (MonitorWindow& window : store_.Windows(deployment, from_ms, to_ms)) {
    WindowDrift item;
    item.closed = Closed(monitor.config, window, now);
    item.drift = DriftOf(monitor, {window}, window.start_ms, window.end_ms, reference, baseline);
    item.window.seq = window.seq;
    item.window.start_ms = window.start_ms;
    item.window.end_ms = window.end_ms;
    item.window.rows = window.rows;
    series.push_back(std::move(item));
  }
  return series;
}

// --- feedback

void MonitorService::AddFeedback(const std::string& deployment,
                                 const std::vector<FeedbackItem>& items) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kUse, ResourceType::kDeployment, deployment);
  if (items.empty()) ThrowInvalid("feedback: no entries");
  if (!store_.Get(deployment)) {
    throw Error(ErrorCode::kInvalidState,
                "Deployment '" + deployment +
                    "' has no monitor: set one (PUT /api/v1/deployments/" + deployment +
                    "/monitor) before sending feedback");
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].request_id.empty()) {
      ThrowInvalid("feedback entry " + std::to_string(i) + ": request_id is missing");
    }
    ids.push_back(items[i].request_id);
  }
  auto unknown = [&] {
    std::vector<std::string> known = store_.KnownRequests(deployment, ids);
    std::set<std::string> found(known.begin(), known.end());
    std::vector<size_t> missing;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!found.count(ids[i])) missing.push_back(i);
    }
    return missing;
  };
  std::vector<size_t> missing = unknown();
  if (!missing.empty()) {
    // The prediction may still be in the log's open segment, or published
    // and not folded yet.
    if (options_.flush_log) options_.flush_log();
    FoldDeployment(deployment);
    missing = unknown();
  }
  if (!missing.empty()) {
    std::string text;
    for (size_t i = 0; i < missing.size() && i < 20; ++i) {
      text += (text.empty() ? "" : ", ") + std::string("entry ") + std::to_string(missing[i]) +
              " ('" + ids[missing[i]] + "')";
    }
    if (missing.size() > 20) text += ", and " + std::to_string(missing.size() - 20) + " more";
    ThrowNotFound("feedback: no logged prediction of deployment '" + deployment +
                  "' has the request id of " + text + "; nothing was stored");
  }
  const int64_t now = NowMs();
  std::vector<Feedback> feedback;
  for (const FeedbackItem& item : items) feedback.push_back({item.request_id, item.labels, now});
  store_.AddFeedback(deployment, feedback);
  std::lock_guard<std::mutex> lock(fold_mu_);
  ++changes_[deployment];  // the accuracy gauges are due
}

// --- labelled traffic (the closed loop's training data)

LabelledRange MonitorService::Labelled(const std::string& deployment, int64_t from_ms,
                                       int64_t to_ms) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  if (from_ms >= to_ms) ThrowInvalid("from must be before to");
  const StoredMonitor monitor = Load(deployment);
  LabelledRange range;
  range.from_ms = from_ms;
  range.to_ms = to_ms;
  range.window = monitor.config.window.ToString();
  range.features = monitor.config.features;
  range.records = store_.Joined(deployment, from_ms, to_ms);
  if (monitor.config.window.kind == WindowSpec::Kind::kTime) {
    const int64_t length = monitor.config.window.millis;
    for (const JoinedRecord& record : range.records) {
      const int64_t seq = record.prediction.time_ms / length;
      range.first_seq = range.first_seq < 0 ? seq : std::min(range.first_seq, seq);
      range.last_seq = std::max(range.last_seq, seq);
    }
  } else {
    for (const MonitorWindow& window : store_.Windows(deployment, from_ms, to_ms)) {
      range.first_seq = range.first_seq < 0 ? window.seq : std::min(range.first_seq, window.seq);
      range.last_seq = std::max(range.last_seq, window.seq);
    }
  }
  return range;
}

std::optional<MonitorWindow> MonitorService::ClosedWindowAt(const std::string& deployment,
                                                            int64_t at_ms) {
  governance::SetTarget("deployment:" + deployment);
  governance::Require(authorizer_, Permission::kRead, ResourceType::kDeployment, deployment);
  const StoredMonitor monitor = Load(deployment);
  // Windows still open at `at_ms` are the newest few; 64 reach far enough.
  for (const MonitorWindow& window : store_.LastWindows(deployment, 64)) {
    if (window.end_ms > at_ms || !Closed(monitor.config, window, at_ms)) continue;
    MonitorWindow found;
    found.seq = window.seq;
    found.start_ms = window.start_ms;
    found.end_ms = window.end_ms;
    found.rows = window.rows;
    return found;
  }
  return std::nullopt;
}

// --- gauges

void MonitorService::UpdateGauges(const std::vector<StoredMonitor>& monitors) {
  if (!options_.metrics) return;
  const int64_t now = NowMs();
  std::map<std::string, GaugeState> states;
  for (const StoredMonitor& monitor : monitors) {
    const std::string& name = monitor.config.deployment;
    GaugeState state = gauge_states_[name];
    try {
      std::lock_guard<std::mutex> lock(fold_mu_);
      const uint64_t changes = changes_[name];
      // Recomputed only when its windows or feedback changed, a window
      // closed, or the monitor was set again.
      if (state.changes != changes || state.generation != monitor.config.generation ||
          now >= state.recheck_at_ms) {
        // Not for a monitor deleted or set again since the list was read:
        // that removed its gauges.
        std::optional<StoredMonitor> current = store_.Get(name);
        if (current && current->config.generation == monitor.config.generation) {
          state.recheck_at_ms = SetGauges(monitor);
          options_.metrics
              ->GetCounter("slipway_monitor_gauge_updates_total",
                           "Times the gauges of a monitor were recomputed (when its windows "
                           "or feedback change, or a window closes)",
                           {{"deployment", name}})
              .Increment();
        }
        state.generation = monitor.config.generation;
        state.changes = changes;
      }
    } catch (const std::exception& e) {
      spdlog::warn("monitoring: gauges of deployment '{}': {}", name, e.what());
    }
    states[name] = state;
  }
  gauge_states_ = std::move(states);  // deleted monitors' states go
}

int64_t MonitorService::SetGauges(const StoredMonitor& monitor) {
  const std::string& name = monitor.config.deployment;
  const int64_t now = NowMs();
  std::optional<MonitorWindow> latest;
  // When the newest window not closed yet closes (time windows; row
  // windows close as rows are folded): the gauges are due again then.
  int64_t recheck_at = std::numeric_limits<int64_t>::max();
  for (MonitorWindow& window : store_.LastWindows(name, 2)) {
    if (Closed(monitor.config, window, now)) {
      latest = std::move(window);
      break;
    }
    if (monitor.config.window.kind == WindowSpec::Kind::kTime) {
      recheck_at = std::min(recheck_at, window.end_ms + options_.close_delay.count());
    }
  }
  if (!latest) return recheck_at;
  data::DatasetProfile reference =
      data::DatasetProfile::FromJson(json::parse(monitor.reference_profile));
  const int64_t seq = latest->seq;
  const int64_t start = latest->start_ms, end = latest->end_ms, rows = latest->rows;
  CachedEstimate& cached = gauge_estimates_[name];
  if (cached.generation != monitor.config.generation || cached.seq != seq || cached.rows != rows) {
    // The window's span as DriftOf joins it (row windows: end inclusive).
    const int64_t kept_end = monitor.config.window.kind == WindowSpec::Kind::kTime ? end : end + 1;
    cached = {monitor.config.generation, seq, rows,
              EstimatePerformance(store_.Kept(name, start, kept_end))};
  }
  RangeDrift drift =
      DriftOf(monitor, {std::move(*latest)}, start, end, reference, store_.FirstWindow(name),
              /*with_distributions=*/false, &cached.estimated);
  MetricRegistry& m = *options_.metrics;
  const Labels deployment = {{"deployment", name}};
  m.GetGauge("slipway_monitor_window_rows", "Rows in the latest closed monitoring window",
             deployment)
      .Set(static_cast<double>(rows));
  m.GetGauge("slipway_monitor_window_seq", "Sequence number of the latest closed window",
             deployment)
      .Set(static_cast<double>(seq));
  m.GetGauge("slipway_monitor_window_end_seconds",
             "End of the latest closed window (Unix time, seconds)", deployment)
      .Set(static_cast<double>(end) / 1000.0);
  for (const data::ColumnDrift& column : drift.features.columns) {
    const Labels labels = {{"deployment", name}, {"feature", column.column}};
    m.GetGauge("slipway_monitor_drift_psi",
               "PSI of a feature in the latest closed window against the reference", labels)
        .Set(column.psi);
    m.GetGauge("slipway_monitor_drift_js",
               "Jensen-Shannon distance of a feature in the latest closed window against the "
               "reference",
               labels)
        .Set(column.js);
    if (column.ks) {
      m.GetGauge("slipway_monitor_drift_ks",
                 "Kolmogorov-Smirnov statistic of a numeric feature in the latest closed window "
                 "against the reference",
                 labels)
          .Set(*column.ks);
    }
    m.GetGauge("slipway_monitor_drift_over_threshold",
               "1 when a feature's PSI in the latest closed window is above its threshold", labels)
        .Set(column.psi > monitor.config.ThresholdOf(column.column) ? 1 : 0);
  }
  for (const auto& [feature, rate] : drift.missing_rate) {
    m.GetGauge("slipway_monitor_missing_rate",
               "Share of missing values of a feature in the latest closed window",
               {{"deployment", name}, {"feature", feature}})
        .Set(rate);
  }
  for (const data::ColumnDrift& column : drift.predictions.columns) {
    const Labels labels = {{"deployment", name}, {"output", column.column}};
    m.GetGauge("slipway_monitor_prediction_drift_psi",
               "PSI of a prediction column in the latest closed window against the first window",
               labels)
        .Set(column.psi);
    m.GetGauge("slipway_monitor_prediction_drift_js",
               "Jensen-Shannon distance of a prediction column in the latest closed window "
               "against the first window",
               labels)
        .Set(column.js);
  }
  const LiveAccuracy& accuracy = drift.accuracy;
  m.GetGauge("slipway_monitor_labeled_rows", "Rows of the latest closed window that have feedback",
             deployment)
      .Set(static_cast<double>(accuracy.rows));
  auto set = [&](const char* metric, const char* help, const std::optional<double>& value) {
    if (value) m.GetGauge(metric, help, deployment).Set(*value);
  };
  set("slipway_monitor_accuracy", "Accuracy of the latest closed window's labeled predictions",
      accuracy.accuracy);
  set("slipway_monitor_f1", "F1 of the latest closed window's labeled predictions", accuracy.f1);
  set("slipway_monitor_roc_auc", "ROC AUC of the latest closed window's labeled predictions",
      accuracy.roc_auc);
  set("slipway_monitor_rmse", "RMSE of the latest closed window's labeled predictions",
      accuracy.rmse);
  set("slipway_monitor_mae", "MAE of the latest closed window's labeled predictions", accuracy.mae);
  set("slipway_monitor_estimated_accuracy",
      "Accuracy of the latest closed window estimated from its predictions' probabilities (CBPE)",
      drift.estimated.accuracy);
  set("slipway_monitor_estimated_roc_auc",
      "ROC AUC of the latest closed window estimated from its predictions' probabilities (CBPE)",
      drift.estimated.roc_auc);
  if (accuracy.label_delay_p50_seconds) {
    m.GetGauge("slipway_monitor_label_delay_seconds",
               "Feedback time minus prediction time in the latest closed window (quantile)",
               {{"deployment", name}, {"quantile", "0.5"}})
        .Set(*accuracy.label_delay_p50_seconds);
    m.GetGauge("slipway_monitor_label_delay_seconds",
               "Feedback time minus prediction time in the latest closed window (quantile)",
               {{"deployment", name}, {"quantile", "0.9"}})
        .Set(*accuracy.label_delay_p90_seconds);
  }
  return recheck_at;
}

}  // namespace slipway::monitoring::live
