// Deployment store on PostgreSQL (store/sql_deployment_store.h): the SQLite store's class and
// SQL; writes are PgDb's SERIALIZABLE transactions, run again on a conflict.
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_deployment_store.h"

extern template class slipway::store::SqlDeploymentStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgDeploymentStore = SqlDeploymentStore<PgEngine>;

}  // namespace slipway::store::postgres
