// The persistence interface of MLflow 3's GenAI evaluation entities.
//
// EvaluationDatasetStore is what the evaluation dataset service needs from a
// metadata store; SqliteGenaiStore (store/) fills it today, a PostgreSQL
// store later. Implementations are thread-safe, and a write returns only
// once it is durable against a crash of the process. Lookups of unknown ids
// return an empty optional; writes to an unknown dataset throw
// RESOURCE_DOES_NOT_EXIST.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/visibility.h"
#include "genai/dataset_search.h"
#include "genai/entities.h"
#include "tracking/tracking_store.h"

namespace slipway::genai {

struct DatasetQuery {
  // Datasets linked to any of these experiments; empty: all.
  std::vector<std::string> experiment_ids;
  std::vector<DatasetClause> clauses;
  std::vector<DatasetOrder> order;
  // Experiments the caller may read: a dataset is listed only if it is
  // linked to at least one experiment and every one it is linked to is
  // visible. Visibility::All() lists every dataset, linked or not.
  Visibility visible;
};

struct UpsertCounts {
  int64_t inserted = 0;
  int64_t updated = 0;
};

class EvaluationDatasetStore {
 public:
  virtual ~EvaluationDatasetStore() = default;

  // Inserts the dataset with its tags and experiment links.
  virtual void CreateDataset(const EvaluationDataset& dataset) = 0;
  // With tags and experiment ids.
  virtual std::optional<EvaluationDataset> GetDataset(const std::string& dataset_id) = 0;
  // Deletes the dataset, its tags, records and links; false if there was none.
  virtual bool DeleteDataset(const std::string& dataset_id) = 0;
  virtual tracking::PageOf<EvaluationDataset> SearchDatasets(const DatasetQuery& query,
                                                             tracking::Page page) = 0;

  // Sets (adds or overwrites) tags; others are kept.
  virtual void SetDatasetTags(const std::string& dataset_id,
                              const std::map<std::string, std::string>& tags) = 0;
  // False if the dataset had no such tag (or does not exist).
  virtual bool DeleteDatasetTag(const std::string& dataset_id, const std::string& key) = 0;

  // Adds the records (checked by ParseRecords) in one transaction: each is
  // merged into the record with the same inputs (InputsKey) or inserted
  // (dataset_records.h), then the dataset's update time, author (when the
  // batch names one), digest, schema and profile follow.
  virtual UpsertCounts UpsertRecords(const std::string& dataset_id,
                                     const std::vector<Json>& records, int64_t now) = 0;
  // By creation time, then id.
  virtual tracking::PageOf<DatasetRecord> GetRecords(const std::string& dataset_id,
                                                     tracking::Page page) = 0;
  // Deletes those of the ids that are records of the dataset and updates its
  // profile; returns how many.
  virtual int64_t DeleteRecords(const std::string& dataset_id,
                                const std::vector<std::string>& record_ids) = 0;

  // Links the dataset to the experiments it is not linked to yet; the
  // dataset's update time becomes `now`.
  virtual void AddExperiments(const std::string& dataset_id,
                              const std::vector<std::string>& experiment_ids, int64_t now) = 0;
  // Unlinks them; the update time becomes `now` if any link was removed.
  virtual void RemoveExperiments(const std::string& dataset_id,
                                 const std::vector<std::string>& experiment_ids, int64_t now) = 0;
};

}  // namespace slipway::genai
