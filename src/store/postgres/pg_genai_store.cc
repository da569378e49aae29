#include "store/postgres/pg_genai_store.h"

#include "store/sql_genai_store_impl.h"

template class slipway::store::SqlGenaiStore<slipway::store::postgres::PgEngine>;
