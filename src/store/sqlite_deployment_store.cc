#include "store/sqlite_deployment_store.h"

#include "store/sql_deployment_store_impl.h"

namespace slipway::store {

template class SqlDeploymentStore<SqliteEngine>;

}  // namespace slipway::store
