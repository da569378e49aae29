// Alerting's records on PostgreSQL (monitoring/alert_store.h): rule files,
// firing alerts, transitions and their deliveries, in the tables of
// migration 13. Labels, annotations and headers are JSON text; nothing
// searches inside them. Thread-safe.
// Carried over from the SQLite store of the same name with its SQL, through
// pg_statement.h; writes are PgDb's SERIALIZABLE transactions, run again on
// a conflict.
#pragma once

#include <memory>

#include "monitoring/alert_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

class PgAlertStore : public monitoring::AlertStore {
 public:
  explicit PgAlertStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  void PutRuleSet(const monitoring::AlertRuleSetRecord& record) override;
  std::optional<monitoring::AlertRuleSetRecord> GetRuleSet(const std::string& deployment) override;
  bool DeleteRuleSet(const std::string& deployment) override;
  std::vector<monitoring::AlertRuleSetRecord> ListRuleSets() override;
  std::vector<monitoring::ActiveAlert> LoadFiring() override;
  void Commit(const std::vector<monitoring::ActiveAlert>& firing,
              const std::vector<monitoring::ActiveAlert>& resolved,
              std::vector<monitoring::AlertTransition>& transitions) override;
  std::vector<monitoring::AlertTransition> PendingDeliveries() override;
  void UpdateDelivery(const monitoring::AlertDelivery& delivery) override;
  std::vector<monitoring::AlertTransition> History(const std::string& deployment,
                                                   size_t limit) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
