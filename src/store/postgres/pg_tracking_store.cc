#include "store/postgres/pg_tracking_store.h"

#include "store/sql_tracking_store_impl.h"

template class slipway::store::SqlTrackingStore<slipway::store::postgres::PgEngine>;
