// The evaluation dataset store on the embedded SQLite database (the
// default store).
#pragma once

#include <memory>
#include <string>

#include "genai/genai_store.h"
#include "store/sqlite_db.h"

namespace slipway::store {

// Implements EvaluationDatasetStore over SqliteDb: writes go through its
// single writer with group commit, reads through its pool. Thread-safe.
class SqliteGenaiStore : public genai::EvaluationDatasetStore {
 public:
  explicit SqliteGenaiStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  void CreateDataset(const genai::EvaluationDataset& dataset) override;
  std::optional<genai::EvaluationDataset> GetDataset(const std::string& dataset_id) override;
  bool DeleteDataset(const std::string& dataset_id) override;
  tracking::PageOf<genai::EvaluationDataset> SearchDatasets(const genai::DatasetQuery& query,
                                                            tracking::Page page) override;
  void SetDatasetTags(const std::string& dataset_id,
                      const std::map<std::string, std::string>& tags) override;
  bool DeleteDatasetTag(const std::string& dataset_id, const std::string& key) override;
  genai::UpsertCounts UpsertRecords(const std::string& dataset_id,
                                    const std::vector<genai::Json>& records, int64_t now) override;
  tracking::PageOf<genai::DatasetRecord> GetRecords(const std::string& dataset_id,
                                                    tracking::Page page) override;
  int64_t DeleteRecords(const std::string& dataset_id,
                        const std::vector<std::string>& record_ids) override;
  void AddExperiments(const std::string& dataset_id, const std::vector<std::string>& experiment_ids,
                      int64_t now) override;
  void RemoveExperiments(const std::string& dataset_id,
                         const std::vector<std::string>& experiment_ids, int64_t now) override;

 private:
  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
