// MLflow 3's evaluation datasets: named sets of evaluation records (inputs,
// expected answers, outputs) that belong to experiments, as the
// `mlflow.genai.datasets` client works with them.
//
// EvaluationDatasetService checks input as MLflow 3.17.2 does and calls the
// EvaluationDatasetStore. It knows nothing of HTTP or the JSON wire forms:
// the routes call it with parsed values. Failures throw slipway::Error with
// MLflow's codes.
//
// A dataset has the permissions of the experiments it belongs to, all of
// them, as in MLflow: reading it needs READ on each, changing it (tags,
// records, links) EDIT on each, deleting it MANAGE on each; a dataset in no
// experiment is the admins'. Creating one needs EDIT on its experiments,
// linking it to more needs EDIT on those too. Experiment ids are resolved
// to their canonical spelling, and must exist, before they are checked or
// stored. A dataset the actor may not see and one that does not exist are
// refused alike. Thread-safe if the stores are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "genai/entities.h"
#include "genai/genai_store.h"
#include "governance/authorization.h"
#include "tracking/tracking_store.h"

namespace slipway::genai {

// MLflow's limits.
inline constexpr int64_t kDefaultDatasetsPerPage = 1000;
inline constexpr int64_t kMaxDatasetsPerPage = 50000;
inline constexpr int64_t kDefaultRecordsPerPage = 1000;
inline constexpr int64_t kMaxRecordsPerPage = 10000;
inline constexpr size_t kMaxDatasetNameLength = 255;
inline constexpr size_t kMaxDatasetTagKeyLength = 255;
inline constexpr size_t kMaxDatasetTagValueLength = 5000;

class EvaluationDatasetService {
 public:
  EvaluationDatasetService(EvaluationDatasetStore& store, tracking::TrackingStore& tracking,
                           governance::Authorizer& authorizer = governance::Authorizer::AllowAll());

  // created_by and last_updated_by come from the mlflow.user tag, as MLflow
  // takes them.
  EvaluationDataset CreateDataset(const std::string& name,
                                  const std::vector<std::string>& experiment_ids,
                                  const std::map<std::string, std::string>& tags);
  EvaluationDataset GetDataset(const std::string& dataset_id);
  // Deleting a dataset that does not exist is no error (as in MLflow).
  void DeleteDataset(const std::string& dataset_id);
  // Datasets of any of `experiment_ids` (all when empty) the actor may read.
  Page<EvaluationDataset> SearchDatasets(const std::vector<std::string>& experiment_ids,
                                         const std::string& filter,
                                         std::optional<int64_t> max_results,
                                         const std::vector<std::string>& order_by,
                                         const std::string& page_token);

  void SetDatasetTags(const std::string& dataset_id,
                      const std::map<std::string, std::string>& tags);
  // Deleting a tag the dataset does not have is no error (as in MLflow).
  void DeleteDatasetTag(const std::string& dataset_id, const std::string& key);

  // `records_json`: the JSON array text of the request (dataset_records.h).
  UpsertCounts UpsertRecords(const std::string& dataset_id, const std::string& records_json);
  Page<DatasetRecord> GetRecords(const std::string& dataset_id, std::optional<int64_t> max_results,
                                 const std::string& page_token);
  int64_t DeleteRecords(const std::string& dataset_id, const std::vector<std::string>& record_ids);

  std::vector<std::string> GetExperimentIds(const std::string& dataset_id);
  EvaluationDataset AddToExperiments(const std::string& dataset_id,
                                     const std::vector<std::string>& experiment_ids);
  // Experiments the dataset is not in are ignored (as in MLflow).
  EvaluationDataset RemoveFromExperiments(const std::string& dataset_id,
                                          const std::vector<std::string>& experiment_ids);

 private:
  // The dataset, once the actor holds `needed` on each of its experiments.
  // `missing` is the message for a dataset that does not exist.
  EvaluationDataset RequireDataset(const std::string& dataset_id, governance::Permission needed,
                                   const std::string& missing = "");
  // The canonical ids of existing experiments, each checked for `needed`,
  // without repeats; NOT_FOUND for one that does not exist.
  std::vector<std::string> RequireExperiments(const std::vector<std::string>& experiment_ids,
                                              governance::Permission needed);

  EvaluationDatasetStore& store_;
  tracking::TrackingStore& tracking_;
  governance::Authorizer& authorizer_;
};

}  // namespace slipway::genai
