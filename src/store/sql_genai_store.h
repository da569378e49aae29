// The GenAI store (evaluation datasets, issues, scorers) on the embedded
// SQLite database (the default store).
// SqliteGenaiStore (sqlite_genai_store.h) and PgGenaiStore
// (postgres/pg_genai_store.h) are its two instances; the definitions are in
// sql_genai_store_impl.h, compiled once per engine.
#pragma once

#include <memory>
#include <string>

#include "genai/genai_store.h"

namespace slipway::store {

template <class Engine>
class SqlGenaiStore : public genai::GenaiStore {
 public:
  explicit SqlGenaiStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

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

  void CreateIssue(const genai::Issue& issue) override;
  std::optional<genai::Issue> GetIssue(const std::string& issue_id) override;
  void UpdateIssue(const genai::Issue& issue) override;
  tracking::PageOf<genai::Issue> SearchIssues(const genai::IssueQuery& query,
                                              tracking::Page page) override;

  genai::ScorerVersion RegisterScorer(const std::string& experiment_id, const std::string& name,
                                      const std::string& serialized_scorer, int64_t now,
                                      const std::string& new_scorer_id) override;
  std::vector<genai::ScorerVersion> ListScorers(const std::vector<std::string>& experiment_ids,
                                                const Visibility& visible) override;
  std::vector<genai::ScorerVersion> ListScorerVersions(const std::string& experiment_id,
                                                       const std::string& name) override;
  std::optional<genai::ScorerVersion> GetScorer(const std::string& experiment_id,
                                                const std::string& name,
                                                std::optional<int64_t> version) override;
  int64_t DeleteScorer(const std::string& experiment_id, const std::string& name,
                       std::optional<int64_t> version) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
