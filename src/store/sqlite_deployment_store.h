// Deployments in SQLite (sql_deployment_store.h).
#pragma once

#include "store/sql_deployment_store.h"
#include "store/sql_engine.h"

namespace slipway::store {

extern template class SqlDeploymentStore<SqliteEngine>;
using SqliteDeploymentStore = SqlDeploymentStore<SqliteEngine>;

}  // namespace slipway::store
