// Alert store on PostgreSQL (store/sql_alert_store.h): the SQLite store's class and
// SQL; writes are PgDb's SERIALIZABLE transactions, run again on a conflict.
#pragma once

#include "store/postgres/pg_engine.h"
#include "store/sql_alert_store.h"

extern template class slipway::store::SqlAlertStore<slipway::store::postgres::PgEngine>;

namespace slipway::store::postgres {

using PgAlertStore = SqlAlertStore<PgEngine>;

}  // namespace slipway::store::postgres
