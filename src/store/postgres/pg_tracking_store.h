// The tracking store on PostgreSQL.
#pragma once

#include <memory>
#include <string>

#include "store/postgres/pg_db.h"
#include "tracking/tracking_store.h"

namespace slipway::store::postgres {

// Implements TrackingStore over a PgDb shared with the other stores, with the
// behaviour of SqliteTrackingStore (the same statements, in PostgreSQL's
// spelling, and the search SQL of store/sql_search.h in
// SqlDialect::Postgres()). Writes are SERIALIZABLE transactions that PgDb
// runs again on a conflict, so concurrent writers on one run (several
// servers included) act as SQLite's single writer does. Thread-safe.
class PgTrackingStore : public tracking::TrackingStore {
 public:
  explicit PgTrackingStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  std::string CreateExperiment(const tracking::Experiment& experiment,
                               const std::string& artifact_root) override;
  std::optional<tracking::Experiment> GetExperiment(const std::string& experiment_id) override;
  std::optional<tracking::Experiment> GetExperimentByName(const std::string& name) override;
  tracking::PageOf<tracking::Experiment> SearchExperiments(
      tracking::ViewType view, const tracking::Filter& filter,
      const std::vector<tracking::OrderTerm>& order_by, tracking::Page page,
      const Visibility& visible) override;
  void RenameExperiment(const std::string& experiment_id, const std::string& name) override;
  void SetExperimentLifecycle(const std::string& experiment_id, const std::string& stage) override;
  void SetExperimentTag(const std::string& experiment_id, const tracking::Tag& tag) override;
  void DeleteExperimentTag(const std::string& experiment_id, const std::string& key) override;

  void CreateRun(const tracking::RunInfo& info, const std::vector<tracking::Tag>& tags) override;
  std::optional<tracking::Run> GetRun(const std::string& run_id) override;
  void UpdateRun(const std::string& run_id, const tracking::RunUpdate& update) override;
  void SetRunLifecycle(const std::string& run_id, const std::string& stage) override;
  void LogRunWrites(const std::string& run_id, const tracking::RunWrites& writes) override;
  void DeleteRunTag(const std::string& run_id, const std::string& key) override;
  void LogRunInputs(const std::string& run_id, const std::vector<tracking::DatasetInput>& datasets,
                    const std::vector<tracking::ModelLink>& models) override;
  void LogRunOutputs(const std::string& run_id,
                     const std::vector<tracking::ModelLink>& models) override;
  tracking::PageOf<tracking::MetricPoint> GetMetricHistory(const std::string& run_id,
                                                           const std::string& key,
                                                           tracking::Page page) override;
  std::vector<tracking::DatasetSummary> SearchDatasetSummaries(
      const std::vector<std::string>& experiment_ids, int64_t limit) override;
  std::vector<tracking::MetricPoint> SampleMetricHistory(
      const std::string& run_id, const std::string& key, int64_t max_points,
      std::optional<std::pair<int64_t, int64_t>> steps) override;
  tracking::PageOf<tracking::Run> SearchRuns(const std::vector<std::string>& experiment_ids,
                                             tracking::ViewType view,
                                             const tracking::Filter& filter,
                                             const std::vector<tracking::OrderTerm>& order_by,
                                             tracking::Page page) override;

  void CreateLoggedModel(const tracking::LoggedModel& model) override;
  std::optional<tracking::LoggedModel> GetLoggedModel(const std::string& model_id) override;
  void SetLoggedModelStatus(const std::string& model_id, const std::string& status,
                            const std::string& message) override;
  void SetLoggedModelTags(const std::string& model_id,
                          const std::vector<tracking::Tag>& tags) override;
  void DeleteLoggedModelTag(const std::string& model_id, const std::string& key) override;
  void LogLoggedModelParams(const std::string& model_id,
                            const std::vector<tracking::Param>& params) override;
  void DeleteLoggedModel(const std::string& model_id) override;
  tracking::PageOf<tracking::LoggedModel> SearchLoggedModels(
      const std::vector<std::string>& experiment_ids, const tracking::Filter& filter,
      const std::vector<tracking::OrderTerm>& order_by, tracking::Page page) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
