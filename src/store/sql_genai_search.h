// Evaluation dataset searches in SQL, over the tables of migration 9
// (sqlite_schema.cc), for any SqlDialect (sql_search.h): the filter and
// order terms of genai/dataset_search.h. Every user value is bound.
#pragma once

#include <cstdint>

#include "genai/genai_store.h"
#include "store/sql_search.h"

namespace slipway::store {

// `SELECT d.dataset_id FROM evaluation_datasets d WHERE ... ORDER BY ...
// LIMIT ? OFFSET ?`: the datasets `query` asks for, its order terms then
// dataset_id DESC.
SqlQuery BuildEvaluationDatasetSearch(const SqlDialect& dialect, const genai::DatasetQuery& query,
                                      int64_t limit, int64_t offset);

}  // namespace slipway::store
