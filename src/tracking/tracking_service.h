// Experiment tracking: the operations of MLflow's tracking API.
//
// TrackingService validates input as MLflow does (names, lengths, batch
// limits, run states), applies defaults, and calls the TrackingStore. It
// knows nothing of HTTP or JSON: the REST layer, the CLI and the tests all
// call it with parsed values. Failures throw slipway::Error with MLflow's
// error code and wording. Thread-safe if the store is.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/visibility.h"
#include "governance/authorization.h"
#include "tracking/tracking_store.h"

namespace slipway::tracking {

// MLflow's limits (mlflow/utils/validation.py).
inline constexpr size_t kMaxMetricsPerBatch = 1000;
inline constexpr size_t kMaxParamsTagsPerBatch = 100;
inline constexpr size_t kMaxEntitiesPerBatch = 1000;
inline constexpr size_t kMaxBatchRequestBytes = 1000000;
inline constexpr size_t kMaxEntityKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 8000;
inline constexpr size_t kMaxExperimentNameLength = 500;
inline constexpr size_t kMaxExperimentTagValueLength = 20000;
inline constexpr int64_t kMaxResultsPerPage = 50000;
inline constexpr int64_t kDefaultRunsPerPage = 1000;
inline constexpr int64_t kMetricHistoryPageSize = 25000;

template <typename T>
struct SearchResult {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

class TrackingService {
 public:
  struct Options {
    // Prefix of the artifact locations of new experiments: experiment N gets
    // `<artifact_root_uri>/N`. "mlflow-artifacts:" makes clients go through
    // the server's artifact proxy.
    std::string artifact_root_uri = "mlflow-artifacts:";
  };

  // `store` and `authorizer` must outlive the service. Creates the
  // "Default" experiment (id 0) if the store has none, as MLflow does.
  //
  // Every method checks the current operation's actor (governance::Operation)
  // through `authorizer` on the experiment it reaches: reads need READ,
  // changes EDIT, deletes and restores MANAGE. A run or logged model the
  // actor may not use and one that does not exist are refused alike.
  TrackingService(TrackingStore& store, Options options,
                  governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  // Experiments.
  std::string CreateExperiment(const std::string& name, const std::string& artifact_location,
                               const std::vector<Tag>& tags);
  Experiment GetExperiment(const std::string& experiment_id);
  Experiment GetExperimentByName(const std::string& name);
  // Only the experiments the actor may read, left out in the store's
  // query: a page holds max_results of them when that many match, and the
  // page token counts readable experiments only.
  SearchResult<Experiment> SearchExperiments(ViewType view, const std::string& filter,
                                             const std::vector<std::string>& order_by,
                                             std::optional<int64_t> max_results,
                                             const std::string& page_token);
  void RenameExperiment(const std::string& experiment_id, const std::string& new_name);
  void DeleteExperiment(const std::string& experiment_id);
  void RestoreExperiment(const std::string& experiment_id);
  void SetExperimentTag(const std::string& experiment_id, const Tag& tag);
  void DeleteExperimentTag(const std::string& experiment_id, const std::string& key);

  // Runs.
  struct NewRun {
    std::string experiment_id;
    std::string user_id;
    std::optional<int64_t> start_time;
    std::string run_name;
    std::vector<Tag> tags;
  };
  Run CreateRun(NewRun request);
  Run GetRun(const std::string& run_id);
  RunInfo UpdateRun(const std::string& run_id, const RunUpdate& update);
  void DeleteRun(const std::string& run_id);
  void RestoreRun(const std::string& run_id);
  void LogMetric(const std::string& run_id, const MetricPoint& point);
  void LogParam(const std::string& run_id, Param param);
  void SetTag(const std::string& run_id, Tag tag);
  void DeleteTag(const std::string& run_id, const std::string& key);
  void LogBatch(const std::string& run_id, RunWrites writes);
  void LogInputs(const std::string& run_id, const std::vector<DatasetInput>& datasets,
                 const std::vector<ModelLink>& models);
  void LogOutputs(const std::string& run_id, const std::vector<ModelLink>& models);
  SearchResult<MetricPoint> GetMetricHistory(const std::string& run_id, const std::string& key,
                                             std::optional<int64_t> max_results,
                                             const std::string& page_token);
  // MLflow's metrics/get-history-bulk (its UI's): one metric of up to 100
  // runs, runs in id order, each by timestamp, step, value; at most
  // `max_results` (25,000) points in all. Points carry their run id and key.
  std::vector<MetricPoint> GetMetricHistoryBulk(const std::vector<std::string>& run_ids,
                                                const std::string& key,
                                                std::optional<int64_t> max_results);
  // MLflow's metrics/get-history-bulk-interval: for charts of long
  // histories, at most `max_results` (1..2,500, default 2,500) points of
  // each of up to 100 runs, sampled by the store (SampleMetricHistory),
  // with steps from `start_step` to `end_step` when both are given.
  std::vector<MetricPoint> GetMetricHistoryBulkInterval(const std::vector<std::string>& run_ids,
                                                        const std::string& key,
                                                        std::optional<int64_t> max_results,
                                                        std::optional<int64_t> start_step,
                                                        std::optional<int64_t> end_step);
  // MLflow's experiments/search-datasets (its UI's): the datasets the runs
  // of 1-20 experiments used, with their contexts; at most 1000.
  std::vector<DatasetSummary> SearchDatasets(const std::vector<std::string>& experiment_ids);
  SearchResult<Run> SearchRuns(const std::vector<std::string>& experiment_ids,
                               const std::string& filter, ViewType view,
                               std::optional<int64_t> max_results,
                               const std::vector<std::string>& order_by,
                               const std::string& page_token);

  // Logged models.
  struct NewLoggedModel {
    std::string experiment_id;
    std::string name;
    std::string model_type;
    std::string source_run_id;
    std::vector<Param> params;
    std::vector<Tag> tags;
  };
  LoggedModel CreateLoggedModel(NewLoggedModel request);
  LoggedModel GetLoggedModel(const std::string& model_id);
  LoggedModel FinalizeLoggedModel(const std::string& model_id, const std::string& status);
  LoggedModel SetLoggedModelTags(const std::string& model_id, const std::vector<Tag>& tags);
  void DeleteLoggedModelTag(const std::string& model_id, const std::string& key);
  void LogLoggedModelParams(const std::string& model_id, std::vector<Param> params);
  void DeleteLoggedModel(const std::string& model_id);
  SearchResult<LoggedModel> SearchLoggedModels(const std::vector<std::string>& experiment_ids,
                                               const std::string& filter,
                                               const std::vector<OrderTerm>& order_by,
                                               std::optional<int64_t> max_results,
                                               const std::string& page_token,
                                               std::vector<DatasetRef> datasets = {});

  // Artifacts: PERMISSION_DENIED unless the actor holds `needed` on the
  // experiment whose folder `path` ("<experiment id>/...") is in; paths
  // with "." or ".." segments are INVALID_PARAMETER_VALUE, and paths
  // outside any experiment are for admins only.
  void AuthorizeArtifactPath(const std::string& path, governance::Permission needed);

  // The artifact URI of a run, for listing its artifacts.
  const std::string& artifact_root_uri() const { return options_.artifact_root_uri; }

 private:
  // The checks of the methods above; each names the target for the audit.
  void RequireExperiment(const std::string& experiment_id, governance::Permission needed);
  void RequireRun(const std::string& run_id, governance::Permission needed);
  void RequireLoggedModel(const std::string& model_id, governance::Permission needed);
  // The experiment of a run (runs never move, so answers are kept); nullopt
  // if there is no such run.
  std::optional<std::string> ExperimentOfRun(const std::string& run_id);
  Run FetchRun(const std::string& run_id);
  LoggedModel FetchLoggedModel(const std::string& model_id);

  TrackingStore& store_;
  Options options_;
  governance::Authorizer& authorizer_;
  std::mutex runs_mu_;  // guards run_experiments_
  std::unordered_map<std::string, std::string> run_experiments_;
};

// The page a search asks for: the offset from `page_token` (empty: the
// start) and `max_results` items, `fallback` when absent; more than `max` or
// less than 1 is INVALID_PARAMETER_VALUE.
Page RequestedPage(std::optional<int64_t> max_results, int64_t fallback, int64_t max,
                   const std::string& page_token);

// The token of the page after `page`, empty when `has_more` is false.
std::string NextPageToken(const Page& page, bool has_more);

// Names people read and pick from lists (experiments, registered models):
// valid UTF-8 without control characters (C0, DEL, C1) or Unicode bidi
// controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which hide text
// or make one name display as another. INVALID_PARAMETER_VALUE naming
// `field` and the character otherwise.
void ValidateNameCharacters(std::string_view name, const std::string& field);

// Percent-decodes until nothing changes, so "%252e%252e" cannot hide a "..".
std::string FullyPercentDecode(std::string text);

// A relative artifact path from a request, as MLflow's server checks it
// (validate_path_is_safe): fully percent-decoded, a `file:` URI taken as its
// path; a `#`, a backslash, a NUL, a `..` segment or an absolute path (POSIX or
// Windows) is INVALID_PARAMETER_VALUE "Invalid path". Returns the decoded path.
std::string CheckRequestedPath(const std::string& path);

// An experiment's `artifact_location`, as clients will use it: empty (the
// server's default), an `mlflow-artifacts:/<path>` under the artifact root,
// or a remote object store (s3, gs, wasbs, abfss, hdfs) with a host. Local
// paths (`/etc`, `file:`), other schemes (http, ftp, runs, models: clients
// would send them data or credentials), `..` or `.` segments in any
// percent-encoded form, control characters, queries and fragments are
// INVALID_PARAMETER_VALUE naming the field.
void ValidateArtifactLocation(const std::string& location);

// MLflow's rules for metric, param and tag names: alphanumerics, `_ - . : /`
// and spaces, and no name that a file system would normalise to another.
// `path` names the field in errors (e.g. "metrics[3].key").
void ValidateEntityName(const std::string& name, const std::string& path);

}  // namespace slipway::tracking
