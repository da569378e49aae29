#include "store/postgres/pg_registry_store.h"

#include "store/sql_registry_store_impl.h"

template class slipway::store::SqlRegistryStore<slipway::store::postgres::PgEngine>;
