// The trace store on PostgreSQL (store/sql_trace_store.h): the SQLite store's
// class and SQL; writes are PgDb's SERIALIZABLE transactions, run again on a
// conflict.
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_trace_store.h"

extern template class slipway::store::SqlTraceStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgTraceStore = SqlTraceStore<PgEngine>;

}  // namespace slipway::store::postgres
