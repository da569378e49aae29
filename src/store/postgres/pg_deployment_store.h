// Deployments on PostgreSQL: one row per deployment, its spec as JSON text (a
// handful of rows, read at start and on changes; nothing searches inside).
// Carried over from the SQLite store of the same name with its SQL, through
// pg_statement.h; writes are PgDb's SERIALIZABLE transactions, run again on
// a conflict.
#pragma once

#include <memory>

#include "serving/deployment_store.h"
#include "store/postgres/pg_db.h"

namespace slipway::store::postgres {

class PgDeploymentStore : public serving::DeploymentStore {
 public:
  explicit PgDeploymentStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  void Create(const serving::DeploymentSpec& spec) override;
  std::optional<serving::DeploymentSpec> Get(const std::string& name) override;
  std::vector<serving::DeploymentSpec> List() override;
  void Update(const serving::DeploymentSpec& spec) override;
  bool Delete(const std::string& name) override;

 private:
  std::shared_ptr<PgDb> db_;
};

}  // namespace slipway::store::postgres
