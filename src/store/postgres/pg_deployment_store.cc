#include "store/postgres/pg_deployment_store.h"

#include "store/sql_deployment_store_impl.h"

template class slipway::store::SqlDeploymentStore<slipway::store::postgres::PgEngine>;
