// The model registry on PostgreSQL (store/sql_registry_store.h): the SQLite
// store's class and SQL; writes are PgDb's SERIALIZABLE transactions, run
// again on a conflict.
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_registry_store.h"

extern template class slipway::store::SqlRegistryStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgRegistryStore = SqlRegistryStore<PgEngine>;

}  // namespace slipway::store::postgres
