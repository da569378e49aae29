#include "genai/evaluation_dataset_service.h"

#include <algorithm>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/page_token.h"
#include "genai/dataset_records.h"
#include "tracking/entities.h"

namespace slipway::genai {
namespace {

using governance::Permission;
using governance::ResourceType;

void CheckTags(const std::map<std::string, std::string>& tags) {
  for (const auto& [key, value] : tags) {
    if (key.empty()) ThrowInvalid("Invalid dataset tag: a tag key cannot be empty.");
    if (key.size() > kMaxDatasetTagKeyLength) {
      ThrowInvalid("Invalid dataset tag key '" + key.substr(0, 40) + "...': longer than " +
                   std::to_string(kMaxDatasetTagKeyLength) + " characters.");
    }
    if (value.size() > kMaxDatasetTagValueLength) {
      ThrowInvalid("Invalid value for dataset tag '" + key + "': longer than " +
                   std::to_string(kMaxDatasetTagValueLength) + " characters.");
    }
  }
}

int64_t PageSize(std::optional<int64_t> requested, int64_t fallback, int64_t most) {
  // As MLflow's handlers: 0 (the proto default) means the default.
  const int64_t size = requested.value_or(0) == 0 ? fallback : *requested;
  if (size < 1) {
    ThrowInvalid("Invalid value " + std::to_string(size) +
                 " for parameter 'max_results' supplied. It must be a positive integer");
  }
  if (size > most) {
    ThrowInvalid("Invalid value " + std::to_string(size) +
                 " for parameter 'max_results' supplied. It must be at most " +
                 std::to_string(most));
  }
  return size;
}

}  // namespace

EvaluationDatasetService::EvaluationDatasetService(EvaluationDatasetStore& store,
                                                   tracking::TrackingStore& tracking,
                                                   governance::Authorizer& authorizer)
    : store_(store), tracking_(tracking), authorizer_(authorizer) {}

EvaluationDataset EvaluationDatasetService::RequireDataset(const std::string& dataset_id,
                                                           Permission needed,
                                                           const std::string& missing) {
  governance::NameTarget("evaluation_dataset:" + dataset_id);
  std::optional<EvaluationDataset> dataset = store_.GetDataset(dataset_id);
  if (!dataset || dataset->experiment_ids.empty()) {
    // Unknown, or in no experiment: the admins' only, and alike to others.
    governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment, std::nullopt,
                              "evaluation dataset", dataset_id);
  } else {
    for (const std::string& experiment : dataset->experiment_ids) {
      governance::RequireWithin(authorizer_, needed, ResourceType::kExperiment, experiment,
                                "evaluation dataset", dataset_id);
    }
  }
  if (!dataset) {
    ThrowNotFound(missing.empty() ? "Evaluation dataset with id '" + dataset_id + "' not found"
                                  : missing);
  }
  return std::move(*dataset);
}

std::vector<std::string> EvaluationDatasetService::RequireExperiments(
    const std::vector<std::string>& experiment_ids, Permission needed) {
  std::vector<std::string> canonical;
  for (const std::string& text : experiment_ids) {
    std::optional<int64_t> id = tracking::ParseExperimentId(text);
    if (!id) ThrowNotFound("No Experiment with id=" + text + " exists");
    std::string name = std::to_string(*id);
    if (std::find(canonical.begin(), canonical.end(), name) != canonical.end()) continue;
    // The check comes first, so that the answer tells nothing of which
    // experiments exist.
    governance::Require(authorizer_, needed, ResourceType::kExperiment, name);
    if (!tracking_.GetExperiment(name)) ThrowNotFound("No Experiment with id=" + text + " exists");
    canonical.push_back(std::move(name));
  }
  return canonical;
}

EvaluationDataset EvaluationDatasetService::CreateDataset(
    const std::string& name, const std::vector<std::string>& experiment_ids,
    const std::map<std::string, std::string>& tags) {
  if (name.empty()) ThrowInvalid("Missing value for required parameter 'name'.");
  if (name.size() > kMaxDatasetNameLength) {
    ThrowInvalid("Invalid value for parameter 'name': longer than " +
                 std::to_string(kMaxDatasetNameLength) + " characters.");
  }
  CheckTags(tags);
  EvaluationDataset dataset;
  dataset.experiment_ids = RequireExperiments(experiment_ids, Permission::kEdit);
  if (dataset.experiment_ids.empty()) {
    // In no experiment, it is the admins' only (as in MLflow).
    governance::RequireWithin(authorizer_, Permission::kEdit, ResourceType::kExperiment,
                              std::nullopt, "evaluation dataset", name);
  }
  dataset.dataset_id = NewEvaluationDatasetId();
  governance::SetTarget("evaluation_dataset:" + dataset.dataset_id);
  dataset.name = name;
  dataset.tags = tags;
  dataset.created_time = dataset.last_update_time = NowMillis();
  dataset.digest = DatasetDigest(name, dataset.created_time);
  auto user = tags.find("mlflow.user");
  if (user != tags.end()) dataset.created_by = dataset.last_updated_by = user->second;
  store_.CreateDataset(dataset);
  return dataset;
}

EvaluationDataset EvaluationDatasetService::GetDataset(const std::string& dataset_id) {
  return RequireDataset(dataset_id, Permission::kRead);
}

void EvaluationDatasetService::DeleteDataset(const std::string& dataset_id) {
  try {
    RequireDataset(dataset_id, Permission::kManage);
  } catch (const Error& error) {
    if (error.code() == ErrorCode::kResourceDoesNotExist) return;
    throw;
  }
  store_.DeleteDataset(dataset_id);
}

Page<EvaluationDataset> EvaluationDatasetService::SearchDatasets(
    const std::vector<std::string>& experiment_ids, const std::string& filter,
    std::optional<int64_t> max_results, const std::vector<std::string>& order_by,
    const std::string& page_token) {
  const int64_t limit = PageSize(max_results, kDefaultDatasetsPerPage, kMaxDatasetsPerPage);
  DatasetQuery query;
  query.clauses = ParseDatasetFilter(filter);
  query.order = ParseDatasetOrderBy(order_by);
  const int64_t offset = DecodePageToken(page_token);
  for (const std::string& text : experiment_ids) {
    std::optional<int64_t> id = tracking::ParseExperimentId(text);
    if (!id) continue;  // names no experiment
    std::string canonical = std::to_string(*id);
    governance::Require(authorizer_, Permission::kRead, ResourceType::kExperiment, canonical);
    query.experiment_ids.push_back(std::move(canonical));
  }
  if (!experiment_ids.empty() && query.experiment_ids.empty()) return {};
  query.visible = governance::Readable(authorizer_, ResourceType::kExperiment);
  tracking::PageOf<EvaluationDataset> found = store_.SearchDatasets(query, {offset, limit});
  Page<EvaluationDataset> out;
  out.items = std::move(found.items);
  if (found.has_more) out.next_page_token = EncodePageToken(offset + limit);
  return out;
}

void EvaluationDatasetService::SetDatasetTags(const std::string& dataset_id,
                                              const std::map<std::string, std::string>& tags) {
  CheckTags(tags);
  RequireDataset(dataset_id, Permission::kEdit,
                 "Could not find evaluation dataset with ID " + dataset_id);
  store_.SetDatasetTags(dataset_id, tags);
}

void EvaluationDatasetService::DeleteDatasetTag(const std::string& dataset_id,
                                                const std::string& key) {
  RequireDataset(dataset_id, Permission::kEdit);
  store_.DeleteDatasetTag(dataset_id, key);
}

UpsertCounts EvaluationDatasetService::UpsertRecords(const std::string& dataset_id,
                                                     const std::string& records_json) {
  RequireDataset(dataset_id, Permission::kEdit);
  return store_.UpsertRecords(dataset_id, ParseRecords(records_json), NowMillis());
}

Page<DatasetRecord> EvaluationDatasetService::GetRecords(const std::string& dataset_id,
                                                         std::optional<int64_t> max_results,
                                                         const std::string& page_token) {
  const int64_t limit = PageSize(max_results, kDefaultRecordsPerPage, kMaxRecordsPerPage);
  const int64_t offset = DecodePageToken(page_token);
  RequireDataset(dataset_id, Permission::kRead);
  tracking::PageOf<DatasetRecord> found = store_.GetRecords(dataset_id, {offset, limit});
  Page<DatasetRecord> out;
  out.items = std::move(found.items);
  if (found.has_more) out.next_page_token = EncodePageToken(offset + limit);
  return out;
}

int64_t EvaluationDatasetService::DeleteRecords(const std::string& dataset_id,
                                                const std::vector<std::string>& record_ids) {
  RequireDataset(dataset_id, Permission::kEdit);
  return store_.DeleteRecords(dataset_id, record_ids);
}

std::vector<std::string> EvaluationDatasetService::GetExperimentIds(const std::string& dataset_id) {
  return RequireDataset(dataset_id, Permission::kRead).experiment_ids;
}

EvaluationDataset EvaluationDatasetService::AddToExperiments(
    const std::string& dataset_id, const std::vector<std::string>& experiment_ids) {
  RequireDataset(dataset_id, Permission::kEdit, "Dataset '" + dataset_id + "' not found");
  std::vector<std::string> canonical = RequireExperiments(experiment_ids, Permission::kEdit);
  store_.AddExperiments(dataset_id, canonical, NowMillis());
  return RequireDataset(dataset_id, Permission::kRead);
}

EvaluationDataset EvaluationDatasetService::RemoveFromExperiments(
    const std::string& dataset_id, const std::vector<std::string>& experiment_ids) {
  RequireDataset(dataset_id, Permission::kEdit, "Dataset '" + dataset_id + "' not found");
  std::vector<std::string> canonical;
  for (const std::string& text : experiment_ids) {
    if (std::optional<int64_t> id = tracking::ParseExperimentId(text)) {
      canonical.push_back(std::to_string(*id));
    }
  }
  store_.RemoveExperiments(dataset_id, canonical, NowMillis());
  // Read as the server: the actor may have removed the experiments it could
  // read the dataset through.
  std::optional<EvaluationDataset> after = store_.GetDataset(dataset_id);
  if (!after) ThrowNotFound("Dataset '" + dataset_id + "' not found");
  return std::move(*after);
}

}  // namespace slipway::genai
