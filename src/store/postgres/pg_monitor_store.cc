#include "store/postgres/pg_monitor_store.h"

#include "store/sql_monitor_store_impl.h"

template class slipway::store::SqlMonitorStore<slipway::store::postgres::PgEngine>;
