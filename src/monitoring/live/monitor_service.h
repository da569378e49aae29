// Live monitoring of deployments: drift of their traffic against a
// reference dataset version, and accuracy against ground truth sent back
// as feedback (issue 15, the live part).
//
// A deployment's monitor (MonitorConfig) names the reference, the windows
// and the features. The fold, a background task of the server (FoldAll),
// follows each monitored deployment's prediction log by published segment
// and folds its records into tumbling windows of mergeable profiles
// (window_fold.h), committing the changed windows, the predictions kept for
// feedback and the position (the last segment folded) in one transaction
// (MonitorStore::CommitFold): a kill at any moment neither loses nor
// counts twice a record the log published. Drift over any range is the
// merge of its stored windows compared with the reference's profile
// (data::DatasetDrift); prediction drift compares the predictions with
// those of the monitor's first window. Feedback is joined to the logged
// prediction by request id (the X-Request-Id of the prediction's reply).
//
// Authorization (the current governance::Operation's actor), on the
// deployment:
//   set, delete    EDIT (and READ on a reference dataset named by the user,
//                  or on the model and dataset of the lineage)
//   get, drift, series
//                  READ
//   feedback       USE: who may ask for predictions may report their truth
// The fold acts as "system:monitoring" and checks nothing: it reads the
// prediction log and the monitor's own state, never a user's resource
// (the reference profile is a snapshot taken at Set).
//
// Every value of the latest closed window goes to the metric registry as
// gauges (UpdateGauges; names in docs/monitoring_live.md).
//
// Thread-safe. Folds are serialized by one mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset_service.h"
#include "data/drift.h"
#include "governance/authorization.h"
#include "monitoring/live/cbpe.h"
#include "monitoring/live/feature_distribution.h"
#include "monitoring/live/live_metrics.h"
#include "monitoring/live/monitor_config.h"
#include "monitoring/live/monitor_store.h"
#include "monitoring/metric_registry.h"
#include "registry/registry_service.h"
#include "serving/prediction_log.h"
#include "serving/serving_service.h"
#include "tracking/tracking_service.h"

namespace slipway::monitoring::live {

// What a user asks for; Set resolves and checks it into a MonitorConfig.
struct MonitorRequest {
  std::string reference;                     // "NAME@V" or "NAME"; "": the model's lineage
  std::string window = "5m";                 // WindowSpec::Parse
  std::vector<std::string> features;         // empty or {"all"}: every model input
  std::map<std::string, double> thresholds;  // PSI per feature or output column
  std::optional<double> default_threshold;
  std::string task;  // "", "classification", "regression"
  // Retention (monitor_config.h): the maximum age ("30d"), and the counts
  // of windows and kept predictions (0: no limit); unset: the defaults.
  std::optional<std::string> retention_age;
  std::optional<int64_t> max_windows;
  std::optional<int64_t> max_predictions;
};

// The drift of one range of windows (or of one window).
struct RangeDrift {
  int64_t from_ms = 0;  // the range asked for
  int64_t to_ms = 0;
  int64_t windows = 0;  // windows merged
  int64_t rows = 0;
  int64_t first_window_start_ms = 0;  // of the windows merged; 0 when none
  int64_t last_window_end_ms = 0;
  data::DriftReport features;     // against the reference
  data::DriftReport predictions;  // against the first window
  // Missing values per monitored feature, over the range's rows.
  std::map<std::string, double> missing_rate;
  LiveAccuracy accuracy;  // of the range's predictions that have feedback
  // Before labels: CBPE over all the range's kept predictions (cbpe.h).
  EstimatedPerformance estimated;
  // Each monitored feature in the reference and in the range, on shared
  // bins (feature_distribution.h); filled by Drift, empty in Series.
  std::vector<FeatureDistribution> distributions;
};

// One window of the series, for charts.
struct WindowDrift {
  MonitorWindow window;  // profiles dropped: seq, times, rows
  bool closed = false;
  RangeDrift drift;
};

// The labelled traffic of a time range: the kept predictions timed in it
// whose feedback has arrived, and the windows they fall in.
struct LabelledRange {
  int64_t from_ms = 0;  // the range asked for
  int64_t to_ms = 0;
  std::vector<JoinedRecord> records;  // by prediction time
  std::string window;                 // the monitor's WindowSpec, "5m"
  std::vector<std::string> features;  // the monitored model inputs, in the model's order
  // The windows the records fall in (time windows: by their times; row
  // windows: those starting in the range); -1 when there is none.
  int64_t first_seq = -1;
  int64_t last_seq = -1;
};

struct FeedbackItem {
  std::string request_id;
  std::string labels;  // a JSON array, one label per row of the request
};

class MonitorService {
 public:
  struct Options {
    monitoring::MetricRegistry* metrics = nullptr;  // gauges; may be null
    // A time window is closed this long after its end (records of a
    // window reach the log up to its flush interval late).
    std::chrono::milliseconds close_delay{std::chrono::seconds(5)};
    // Publishes what the prediction log holds (PredictionLog::Flush);
    // called when feedback names a request not folded yet. May be empty.
    std::function<void()> flush_log;
    // Segments one FoldDeployment folds at most (the rest on the next run).
    size_t max_segments_per_fold = 256;
    // Predictions kept for feedback (and their feedback) go once older
    // than this (checked hourly); the App passes the prediction log's age.
    std::chrono::seconds keep_predictions{7 * 24 * 3600};
    data::DriftOptions drift;
  };

  MonitorService(Options options, MonitorStore& store, serving::PredictionLogReader reader,
                 serving::ServingService& serving, registry::RegistryService& registry,
                 tracking::TrackingService& tracking, data::DatasetService& datasets,
                 governance::Authorizer& authorizer);

  // Creates or replaces the monitor (see MonitorStore::Put: windows are
  // folded again from what the log holds). INVALID_PARAMETER_VALUE naming
  // the field for a bad window, feature or threshold, for a reference that
  // lacks a model input (naming them) or that is not a table;
  // RESOURCE_DOES_NOT_EXIST for an unknown deployment or dataset version;
  // INVALID_STATE when the reference must come from the lineage and the
  // deployment serves no version yet or its lineage names no dataset here.
  MonitorConfig Set(const std::string& deployment, const MonitorRequest& request);
  // RESOURCE_DOES_NOT_EXIST when the deployment has no monitor.
  MonitorConfig Get(const std::string& deployment);
  void Delete(const std::string& deployment);

  // Drift and accuracy of the windows starting in [from_ms, to_ms).
  RangeDrift Drift(const std::string& deployment, int64_t from_ms, int64_t to_ms);
  // Each window starting in [from_ms, to_ms), oldest first.
  std::vector<WindowDrift> Series(const std::string& deployment, int64_t from_ms, int64_t to_ms);

  // Stores ground truth, all or nothing: RESOURCE_DOES_NOT_EXIST naming
  // the entries whose request id has no logged prediction (after folding
  // what the log holds), INVALID_PARAMETER_VALUE for an entry without a
  // request id or labels; INVALID_STATE when the deployment has no monitor
  // (predictions are kept for joining only while one is set). Returns once
  // durable.
  void AddFeedback(const std::string& deployment, const std::vector<FeedbackItem>& items);

  // The labelled traffic of [from_ms, to_ms) (READ on the deployment),
  // from which the closed loop builds a training set (labelled_rows.h).
  LabelledRange Labelled(const std::string& deployment, int64_t from_ms, int64_t to_ms);
  // The newest window that was closed at `at_ms` (profiles dropped): the
  // one whose values /metrics showed then, so the one an alert that began
  // at `at_ms` fired on. nullopt when none was. READ on the deployment.
  std::optional<MonitorWindow> ClosedWindowAt(const std::string& deployment, int64_t at_ms);

  // The background task: folds every monitored deployment, then updates
  // the gauges. Errors are logged, never thrown.
  void FoldAll();
  // Folds one deployment's published segments not folded yet; the number
  // of rows folded.
  int64_t FoldDeployment(const std::string& deployment);
  // Sets the gauges of every monitor's latest closed window, for the
  // monitors whose windows changed since (rows folded or pruned, a window
  // closed, feedback arrived, the monitor set again); the others' gauges
  // keep their values. Counts each recomputation in
  // slipway_monitor_gauge_updates_total{deployment}.
  void UpdateGauges(const std::vector<StoredMonitor>& monitors);

 private:
  struct Reference {
    std::string ref;  // NAME@V
    data::DatasetProfile profile;
    bool from_lineage = false;
  };
  Reference ResolveReference(const std::string& deployment, const std::string& requested,
                             std::string* model_name, std::string* model_version);
  // The named inputs of the served primary version's signature (empty
  // without a column signature); INVALID_STATE before it serves.
  std::vector<std::string> ModelInputs(const std::string& deployment);
  StoredMonitor Load(const std::string& deployment);
  RangeDrift DriftOf(const StoredMonitor& monitor, const std::vector<MonitorWindow>& windows,
                     int64_t from_ms, int64_t to_ms, const data::DatasetProfile& reference,
                     const std::optional<MonitorWindow>& baseline, bool with_distributions = false,
                     const EstimatedPerformance* estimated = nullptr);
  bool Closed(const MonitorConfig& config, const MonitorWindow& window, int64_t now_ms) const;
  // Returns when the gauges are due again without a change (the time the
  // newest open time window closes; int64 max when none will).
  int64_t SetGauges(const StoredMonitor& monitor);
  // Takes the deployment's slipway_monitor_* series out of /metrics.
  void RemoveGauges(const std::string& deployment);

  Options options_;
  MonitorStore& store_;
  serving::PredictionLogReader reader_;
  serving::ServingService& serving_;
  registry::RegistryService& registry_;
  tracking::TrackingService& tracking_;
  data::DatasetService& datasets_;
  governance::Authorizer& authorizer_;

  std::mutex fold_mu_;  // serializes folds (FoldDeployment)
  // When FoldAll last pruned kept predictions; only FoldAll's thread (the
  // scheduler never runs a task twice at once) touches it.
  std::chrono::steady_clock::time_point last_prune_{};
  // The gauges' CBPE estimate per deployment, of the window (generation,
  // seq, rows) it was computed for: recomputed only when that changes, not
  // at every fold run. Only FoldAll's thread touches it.
  struct CachedEstimate {
    int64_t generation = -1, seq = -1, rows = -1;
    EstimatedPerformance estimated;
  };
  std::map<std::string, CachedEstimate> gauge_estimates_;
  // Per deployment, a count of the changes to its windows and feedback
  // (rows folded, windows pruned, feedback stored); guarded by fold_mu_.
  std::map<std::string, uint64_t> changes_;
  // Per deployment, what its gauges were last computed from; only FoldAll's
  // thread touches it.
  struct GaugeState {
    int64_t generation = -1;
    uint64_t changes = 0;  // changes_ then
    int64_t recheck_at_ms = 0;
  };
  std::map<std::string, GaugeState> gauge_states_;
};

}  // namespace slipway::monitoring::live
