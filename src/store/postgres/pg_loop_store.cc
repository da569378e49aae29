#include "store/postgres/pg_loop_store.h"

#include "store/sql_loop_store_impl.h"

template class slipway::store::SqlLoopStore<slipway::store::postgres::PgEngine>;
