#include "store/postgres/pg_alert_store.h"

#include "store/sql_alert_store_impl.h"

template class slipway::store::SqlAlertStore<slipway::store::postgres::PgEngine>;
