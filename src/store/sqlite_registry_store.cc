#include "store/sqlite_registry_store.h"

#include "store/sql_registry_store_impl.h"

namespace slipway::store {

template class SqlRegistryStore<SqliteEngine>;

}  // namespace slipway::store
