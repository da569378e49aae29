#include "store/sqlite_monitor_store.h"

#include "store/sql_monitor_store_impl.h"

namespace slipway::store {

template class SqlMonitorStore<SqliteEngine>;

}  // namespace slipway::store
