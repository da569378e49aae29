// Trace searches in SQL, over the tables of migration 8 (sqlite_schema.cc),
// for any SqlDialect (sql_search.h): the trace filter of
// tracing/trace_search.h and its order terms. Every user value is bound.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/sql_search.h"
#include "tracing/entities.h"
#include "tracing/trace_search.h"

namespace slipway::store {

// `SELECT t.trace_pk FROM traces t WHERE ... ORDER BY ... LIMIT ? OFFSET ?`:
// the traces of `experiment_ids` matching `filter`, in `order` (each term
// puts traces without the key last).
SqlQuery BuildTraceSearch(const SqlDialect& dialect, const std::vector<int64_t>& experiment_ids,
                          const tracing::TraceFilter& filter,
                          const std::vector<tracing::TraceOrder>& order, int64_t limit,
                          int64_t offset);

// The same search unfinished, to be part of a larger statement (a count of
// the traces several searches share, a scan of the matching traces' rows)
// that SqlDialect::Finish numbers as a whole.
SqlFragment TraceSearchFragment(const SqlDialect& dialect,
                                const std::vector<int64_t>& experiment_ids,
                                const tracing::TraceFilter& filter,
                                const std::vector<tracing::TraceOrder>& order, int64_t limit,
                                int64_t offset);

}  // namespace slipway::store
