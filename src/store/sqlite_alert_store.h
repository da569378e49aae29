// Alerting's records in SQLite (sql_alert_store.h).
#pragma once

#include "store/sql_alert_store.h"
#include "store/sql_engine.h"

namespace slipway::store {

extern template class SqlAlertStore<SqliteEngine>;
using SqliteAlertStore = SqlAlertStore<SqliteEngine>;

}  // namespace slipway::store
