// The model registry on the embedded SQLite database (sql_registry_store.h).
#pragma once

#include "store/sql_engine.h"
#include "store/sql_registry_store.h"

namespace slipway::store {

extern template class SqlRegistryStore<SqliteEngine>;
using SqliteRegistryStore = SqlRegistryStore<SqliteEngine>;

}  // namespace slipway::store
