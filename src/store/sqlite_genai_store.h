// The GenAI store (evaluation datasets, issues, scorers) on the embedded (sql_genai_store.h).
#pragma once

#include "store/sql_engine.h"
#include "store/sql_genai_store.h"

namespace slipway::store {

extern template class SqlGenaiStore<SqliteEngine>;
using SqliteGenaiStore = SqlGenaiStore<SqliteEngine>;

}  // namespace slipway::store
