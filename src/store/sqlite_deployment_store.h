// Deployments in SQLite: one row per deployment, its spec as JSON text (a
// handful of rows, read at start and on changes; nothing searches inside).
#pragma once

#include <memory>

#include "serving/deployment_store.h"
#include "store/sqlite_db.h"

namespace slipway::store {

class SqliteDeploymentStore : public serving::DeploymentStore {
 public:
  explicit SqliteDeploymentStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  void Create(const serving::DeploymentSpec& spec) override;
  std::optional<serving::DeploymentSpec> Get(const std::string& name) override;
  std::vector<serving::DeploymentSpec> List() override;
  void Update(const serving::DeploymentSpec& spec) override;
  bool Delete(const std::string& name) override;

 private:
  std::shared_ptr<SqliteDb> db_;
};

}  // namespace slipway::store
