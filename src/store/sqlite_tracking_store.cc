#include "store/sqlite_tracking_store.h"

#include "store/sql_tracking_store_impl.h"

namespace slipway::store {

template class SqlTrackingStore<SqliteEngine>;

}  // namespace slipway::store
