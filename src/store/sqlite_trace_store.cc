#include "store/sqlite_trace_store.h"

#include "store/sql_trace_store_impl.h"

namespace slipway::store {

template class SqlTraceStore<SqliteEngine>;

}  // namespace slipway::store
