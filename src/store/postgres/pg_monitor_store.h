// Monitors on PostgreSQL (migration 15): configs, windows, the predictions
// feedback joins, and the feedback. Profiles are kept as their JSON
// (data::DatasetProfile::ToJson, sketches included). A fold step is one
// transaction, so it commits whole or not at all.
// Carried over from the SQLite store of the same name with its SQL, through
// pg_statement.h; writes are PgDb's SERIALIZABLE transactions, run again on
// a conflict.
#pragma once

#include <memory>

#include "monitoring/live/monitor_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

class PgMonitorStore : public monitoring::live::MonitorStore {
 public:
  explicit PgMonitorStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

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
  std::vector<monitoring::live::LoggedPrediction> Kept(const std::string& deployment,
                                                       int64_t from_ms, int64_t to_ms) override;
  std::vector<monitoring::live::JoinedRecord> Joined(const std::string& deployment, int64_t from_ms,
                                                     int64_t to_ms) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
