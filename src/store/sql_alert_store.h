// Alerting's records (monitoring/alert_store.h), on either engine
// (store/sql_engine.h): rule files, firing alerts, transitions and their
// deliveries (migration 14). Labels, annotations and headers are JSON text;
// nothing searches inside them. Thread-safe, as the engine's database.
// SqliteAlertStore (sqlite_alert_store.h) and PgAlertStore
// (postgres/pg_alert_store.h) are its two instances; the definitions are in
// sql_alert_store_impl.h, compiled once per engine.
#pragma once

#include <memory>

#include "monitoring/alert_store.h"

namespace slipway::store {

template <class Engine>
class SqlAlertStore : public monitoring::AlertStore {
 public:
  explicit SqlAlertStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

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
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
