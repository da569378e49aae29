// The persistence interface of experiment tracking.
//
// TrackingStore is what the tracking service needs from a metadata store;
// SqliteTrackingStore (store/) fills it today and a PostgreSQL store will fill
// it later, so the SQL of each dialect stays inside its implementation.
// Implementations are thread-safe: the HTTP server calls them from many
// threads. A write method returns only once the write is durable against a
// crash of the process, so a caller may acknowledge it. Lookups of unknown
// ids return an empty optional; writes on unknown ids throw
// RESOURCE_DOES_NOT_EXIST.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/visibility.h"
#include "tracking/entities.h"
#include "tracking/search_filter.h"

namespace slipway::tracking {

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

struct Page {
  int64_t offset = 0;
  int64_t limit = 1000;
};

// One page of results; `has_more` says whether a next page exists.
template <typename T>
struct PageOf {
  std::vector<T> items;
  bool has_more = false;
};

// A run's writes in one transaction: log-metric, log-param, set-tag and
// log-batch all end here.
struct RunWrites {
  std::vector<MetricPoint> metrics;
  std::vector<Param> params;
  std::vector<Tag> tags;
};

struct RunUpdate {
  std::optional<std::string> status;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
};

class TrackingStore {
 public:
  virtual ~TrackingStore() = default;

  // Experiments. `artifact_root` is used when `experiment.artifact_location` is
  // empty: the location becomes `<artifact_root>/<new id>`.
  virtual std::string CreateExperiment(const Experiment& experiment,
                                       const std::string& artifact_root) = 0;
  virtual std::optional<Experiment> GetExperiment(const std::string& experiment_id) = 0;
  virtual std::optional<Experiment> GetExperimentByName(const std::string& name) = 0;
  // Only the experiments `visible` lets through (by experiment id), left
  // out before paging: a page is full when that many visible ones match.
  virtual PageOf<Experiment> SearchExperiments(ViewType view, const Filter& filter,
                                               const std::vector<OrderTerm>& order_by, Page page,
                                               const Visibility& visible) = 0;
  virtual void RenameExperiment(const std::string& experiment_id, const std::string& name) = 0;
  virtual void SetExperimentLifecycle(const std::string& experiment_id,
                                      const std::string& stage) = 0;
  virtual void SetExperimentTag(const std::string& experiment_id, const Tag& tag) = 0;
  virtual void DeleteExperimentTag(const std::string& experiment_id, const std::string& key) = 0;

  // Runs.
  virtual void CreateRun(const RunInfo& info, const std::vector<Tag>& tags) = 0;
  virtual std::optional<Run> GetRun(const std::string& run_id) = 0;
  virtual void UpdateRun(const std::string& run_id, const RunUpdate& update) = 0;
  virtual void SetRunLifecycle(const std::string& run_id, const std::string& stage) = 0;
  // Rejects a param whose key was logged before with another value, and any
  // write to a run that is not active (INVALID_PARAMETER_VALUE).
  virtual void LogRunWrites(const std::string& run_id, const RunWrites& writes) = 0;
  virtual void DeleteRunTag(const std::string& run_id, const std::string& key) = 0;
  virtual void LogRunInputs(const std::string& run_id, const std::vector<DatasetInput>& datasets,
                            const std::vector<ModelLink>& models) = 0;
  virtual void LogRunOutputs(const std::string& run_id, const std::vector<ModelLink>& models) = 0;
  // Points ordered by timestamp, step, value, as MLflow orders them. The
  // points' `key` and `run_id` are left empty: they are the arguments.
  virtual PageOf<MetricPoint> GetMetricHistory(const std::string& run_id, const std::string& key,
                                               Page page) = 0;
  // A sample of at most `max_points` (>= 1) of one metric's points, with
  // steps in `steps` when given, as MLflow samples them for charts: the
  // points ordered by step, timestamp, value, NaN-ness and cut into
  // `max_points` runs of equal length (the first ones one longer), the first
  // point of each, and the last point overall in place of the last one taken
  // or added when the runs left it out. Ordered by step, timestamp, value.
  virtual std::vector<MetricPoint> SampleMetricHistory(
      const std::string& run_id, const std::string& key, int64_t max_points,
      std::optional<std::pair<int64_t, int64_t>> steps) = 0;
  // The distinct (experiment, dataset, context) triples of the inputs of the
  // experiments' runs, at most `limit`.
  virtual std::vector<DatasetSummary> SearchDatasetSummaries(
      const std::vector<std::string>& experiment_ids, int64_t limit) = 0;
  virtual PageOf<Run> SearchRuns(const std::vector<std::string>& experiment_ids, ViewType view,
                                 const Filter& filter, const std::vector<OrderTerm>& order_by,
                                 Page page) = 0;

  // Logged models (MLflow 3).
  virtual void CreateLoggedModel(const LoggedModel& model) = 0;
  virtual std::optional<LoggedModel> GetLoggedModel(const std::string& model_id) = 0;
  virtual void SetLoggedModelStatus(const std::string& model_id, const std::string& status,
                                    const std::string& message) = 0;
  virtual void SetLoggedModelTags(const std::string& model_id, const std::vector<Tag>& tags) = 0;
  virtual void DeleteLoggedModelTag(const std::string& model_id, const std::string& key) = 0;
  virtual void LogLoggedModelParams(const std::string& model_id,
                                    const std::vector<Param>& params) = 0;
  virtual void DeleteLoggedModel(const std::string& model_id) = 0;
  virtual PageOf<LoggedModel> SearchLoggedModels(const std::vector<std::string>& experiment_ids,
                                                 const Filter& filter,
                                                 const std::vector<OrderTerm>& order_by,
                                                 Page page) = 0;
};

}  // namespace slipway::tracking
