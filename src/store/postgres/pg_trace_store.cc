#include "store/postgres/pg_trace_store.h"

#include "store/sql_trace_store_impl.h"

template class slipway::store::SqlTraceStore<slipway::store::postgres::PgEngine>;
