// The tracking store on the embedded SQLite database (sql_tracking_store.h),
// the default store.
#pragma once

#include "store/sql_engine.h"
#include "store/sql_tracking_store.h"

namespace slipway::store {

extern template class SqlTrackingStore<SqliteEngine>;
using SqliteTrackingStore = SqlTrackingStore<SqliteEngine>;

}  // namespace slipway::store
