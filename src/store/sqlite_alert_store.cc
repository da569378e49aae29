#include "store/sqlite_alert_store.h"

#include "store/sql_alert_store_impl.h"

namespace slipway::store {

template class SqlAlertStore<SqliteEngine>;

}  // namespace slipway::store
