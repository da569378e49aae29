// The closed loop's policies and runs on PostgreSQL (store/sql_loop_store.h):
// the SQLite store's class and SQL; writes are PgDb's SERIALIZABLE
// transactions, run again on a conflict.
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_loop_store.h"

extern template class slipway::store::SqlLoopStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgLoopStore = SqlLoopStore<PgEngine>;

}  // namespace slipway::store::postgres
