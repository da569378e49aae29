// The tracking store (experiments, runs, their params, metrics, tags and
// inputs, logged models), written once for both engines over an Engine
// (store/sql_engine.h). SqliteTrackingStore (sqlite_tracking_store.h) and
// PgTrackingStore (postgres/pg_tracking_store.h) are its two instances; the
// definitions are in sql_tracking_store_impl.h, compiled once per engine.
//
// Thread-safe. Writes are the Engine's write transactions: on SQLite they go
// through its single writer with group commit; on PostgreSQL they are
// SERIALIZABLE transactions run again on a conflict, so concurrent writers
// (several servers included) act as SQLite's single writer does, but for
// log-batch, which locks the run's row and runs at READ COMMITTED
// (Engine::WriteLocking). Reads see one snapshot.
#pragma once

#include <concepts>
#include <memory>
#include <string>

#include "store/sqlite_db.h"
#include "tracking/tracking_store.h"

namespace slipway::store {

template <class Engine>
class SqlTrackingStore : public tracking::TrackingStore {
 public:
  // Over a database shared with the other stores (see OpenMetadataStore).
  explicit SqlTrackingStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  // Opens or creates the SQLite database file at `path`, migrates it, and
  // uses it alone (tests and tools).
  static std::unique_ptr<SqlTrackingStore> Open(
      const std::string& path) requires std::same_as<typename Engine::Db, SqliteDb> {
    return std::make_unique<SqlTrackingStore>(OpenMetadataDatabase(path));
  }

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
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
