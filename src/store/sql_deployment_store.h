// Deployments, on either engine (store/sql_engine.h): one row per deployment, its spec as JSON text
// (a handful of rows, read at start and on changes; nothing searches inside). SqliteDeploymentStore
// (sqlite_deployment_store.h) and PgDeploymentStore (postgres/pg_deployment_store.h) are its two
// instances; the definitions are in sql_deployment_store_impl.h, compiled once per engine.
#pragma once

#include <memory>

#include "serving/deployment_store.h"

namespace slipway::store {

template <class Engine>
class SqlDeploymentStore : public serving::DeploymentStore {
 public:
  explicit SqlDeploymentStore(std::shared_ptr<typename Engine::Db> db) : db_(std::move(db)) {}

  void Create(const serving::DeploymentSpec& spec) override;
  std::optional<serving::DeploymentSpec> Get(const std::string& name) override;
  std::vector<serving::DeploymentSpec> List() override;
  void Update(const serving::DeploymentSpec& spec) override;
  bool Delete(const std::string& name) override;

 private:
  std::shared_ptr<typename Engine::Db> db_;
};

}  // namespace slipway::store
