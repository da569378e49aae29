// Monitors, on either engine (store/sql_engine.h): configs, windows, the
// predictions feedback joins, and the feedback (migrations 15 and 16).
// Profiles are kept as their JSON (data::DatasetProfile::ToJson, sketches
// included). A fold step is one write transaction, so it commits whole or
// not at all.
// SqliteMonitorStore (sqlite_monitor_store.h) and PgMonitorStore
// (postgres/pg_monitor_store.h) are its two instances; the definitions are in
// sql_monitor_store_impl.h, compiled once per engine.
#pragma once

#include <memory>

#include "monitoring/live/monitor_store.h"

namespace slipway::store {

template <class Engine>
class SqlMonitorStore : public monitoring::live::MonitorStore {
 public:
  explicit SqlMonitorStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  void Put(const monitoring::live::MonitorConfig& config,
           const std::string& reference_profile) override;
  std::optional<monitoring::live::StoredMonitor> Get(const std::string& deployment) override;
  std::vector<monitoring::live::StoredMonitor> List() override;
  bool Delete(const std::string& deployment) override;
  std::optional<monitoring::live::MonitorWindow> GetWindow(const std::string& deployment,
                                                           int64_t seq) override;
  std::vector<monitoring::live::MonitorWindow> LastWindows(const std::string& deployment,
                                                           int count) override;
  std::optional<monitoring::live::MonitorWindow> FirstWindow(
      const std::string& deployment) override;
  std::vector<monitoring::live::MonitorWindow> Windows(const std::string& deployment,
                                                       int64_t from_ms, int64_t to_ms) override;
  bool CommitFold(const monitoring::live::FoldCommit& commit) override;
  std::vector<std::string> KnownRequests(const std::string& deployment,
                                         const std::vector<std::string>& request_ids) override;
  void AddFeedback(const std::string& deployment,
                   const std::vector<monitoring::live::Feedback>& feedback) override;
  int64_t PruneKept(const std::string& deployment, int64_t before_ms) override;
  Pruned Prune(const std::string& deployment, int64_t before_ms, int64_t max_windows,
               int64_t max_predictions) override;
  std::vector<monitoring::live::LoggedPrediction> Kept(const std::string& deployment,
                                                       int64_t from_ms, int64_t to_ms) override;
  std::vector<monitoring::live::JoinedRecord> Joined(const std::string& deployment, int64_t from_ms,
                                                     int64_t to_ms) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
