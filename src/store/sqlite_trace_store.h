// The trace store on the embedded SQLite database (sql_trace_store.h).
#pragma once

#include "store/sql_engine.h"
#include "store/sql_trace_store.h"

namespace slipway::store {

extern template class SqlTraceStore<SqliteEngine>;
using SqliteTraceStore = SqlTraceStore<SqliteEngine>;

}  // namespace slipway::store
