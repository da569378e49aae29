// The closed loop's policies and runs in SQLite (sql_loop_store.h).
#pragma once

#include "store/sql_engine.h"
#include "store/sql_loop_store.h"

namespace slipway::store {

extern template class SqlLoopStore<SqliteEngine>;
using SqliteLoopStore = SqlLoopStore<SqliteEngine>;

}  // namespace slipway::store
