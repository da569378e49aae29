// What the commands that train and evaluate models (`slipway train`,
// `slipway evaluate`) share with a tracking server and the workspace: a run
// they log through MLflow's REST API, the experiment it goes in, a run's
// artifact folder downloaded, and a dataset version's rows read as a
// training::Table.
//
// TrackedRun is not thread-safe (its ApiClient is not); the functions are
// as thread-safe as the ApiClient and DatasetService they are given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "data/dataset_service.h"
#include "training/table.h"

namespace slipway::cli {

// One tracked run on a tracking server, through its MLflow REST API. Ends
// the run FAILED when destroyed before Finish or Stop.
class TrackedRun {
 public:
  // A new run of `experiment_id`.
  TrackedRun(const std::string& uri, const std::string& experiment_id, const std::string& run_name,
             const nlohmann::json& tags, int64_t start_time);
  // An existing run, set RUNNING again (a tuning session resumed).
  TrackedRun(const std::string& uri, const std::string& run_id);
  ~TrackedRun();
  TrackedRun(const TrackedRun&) = delete;
  TrackedRun& operator=(const TrackedRun&) = delete;

  const std::string& run_id() const { return run_id_; }
  const std::string& uri() const { return client_.uri(); }
  ApiClient& client() { return client_; }

  // Params, metrics and tags (MLflow's {key, value...} objects), in batches
  // within MLflow's limits.
  void Log(const nlohmann::json& params, const nlohmann::json& metrics, const nlohmann::json& tags);
  void LogInput(const nlohmann::json& dataset, const std::string& context);
  void PutArtifact(const std::string& path, const std::string& bytes);
  void Finish();
  // Ended KILLED: a tuning session stopped before its last trial, to resume.
  void Stop();

 private:
  void Open(const nlohmann::json& info);
  void End(const std::string& status);

  ApiClient client_;
  std::string run_id_;
  std::string artifact_root_;
  bool finished_ = false;
};

// The id of `experiment` on the tracking server, made when missing.
std::string ExperimentId(ApiClient& client, const std::string& experiment);

// A metric point and a param or tag as MLflow's log-batch takes them.
nlohmann::json Metric(const std::string& key, double value, int64_t step);
nlohmann::json KeyValue(const std::string& key, const std::string& value);

// The path under the server's artifact proxy of the run whose `info`
// (runs/get's) this is; INVALID_PARAMETER_VALUE when its artifacts are not
// behind the proxy.
std::string ArtifactRoot(const nlohmann::json& info, const std::string& run_id);

// The files of a run's artifact folder `path`, written under `dir`.
void DownloadArtifacts(ApiClient& client, const std::string& run_id, const std::string& path,
                       const std::filesystem::path& dir);

// The dataset version's rows: the version written out to a scratch file
// (the user's temporary folder; removed after) and read by CsvReader.
training::Table ReadRows(data::DatasetService& datasets, const data::DatasetVersion& version,
                         const data::DatasetProfile& profile,
                         const std::vector<std::string>& columns);

}  // namespace slipway::cli
