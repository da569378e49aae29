// The tracking store on PostgreSQL (store/sql_tracking_store.h): the SQLite
// store's class and SQL; writes are PgDb's SERIALIZABLE transactions, run
// again on a conflict, but for log-batch (READ COMMITTED under a lock on the
// run's row).
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_tracking_store.h"

extern template class slipway::store::SqlTrackingStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgTrackingStore = SqlTrackingStore<PgEngine>;

}  // namespace slipway::store::postgres
