#include "store/sqlite_genai_store.h"

#include "store/sql_genai_store_impl.h"

namespace slipway::store {

template class SqlGenaiStore<SqliteEngine>;

}  // namespace slipway::store
