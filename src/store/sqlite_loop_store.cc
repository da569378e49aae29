#include "store/sqlite_loop_store.h"

#include "store/sql_loop_store_impl.h"

namespace slipway::store {

template class SqlLoopStore<SqliteEngine>;

}  // namespace slipway::store
