// Monitors in SQLite (sql_monitor_store.h).
#pragma once

#include "store/sql_engine.h"
#include "store/sql_monitor_store.h"

namespace slipway::store {

extern template class SqlMonitorStore<SqliteEngine>;
using SqliteMonitorStore = SqlMonitorStore<SqliteEngine>;

}  // namespace slipway::store
