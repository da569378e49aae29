// What the PostgreSQL stores share for running the searches of
// store/sql_search.h page by page (store/sqlite_paging.h's counterpart).
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "store/postgres/pg_db.h"
#include "store/sql_search.h"
#include "tracking/tracking_store.h"

namespace slipway::store::postgres {

// The bound values of a search query, each with its type.
inline PgParams ParamsOf(const std::vector<SqlValue>& binds) {
  PgParams params;
  for (const SqlValue& value : binds) {
    std::visit([&](const auto& v) { params.Add(v); }, value);
  }
  return params;
}

// Runs a search query that selects keys (one more than the page holds, to
// learn whether another page exists), then loads the record of each key.
// `read_key(rows, row)` reads a key from a result row; `load(db, key)`
// returns the record or nothing if it vanished.
template <typename T, typename ReadKey, typename Load>
tracking::PageOf<T> LoadPage(PgConnection& db, const SqlQuery& query, const tracking::Page& page,
                             ReadKey read_key, Load load) {
  using Key = decltype(read_key(std::declval<const PgResult&>(), 0));
  std::vector<Key> keys;
  {
    PgResult rows = db.Exec(query.sql, ParamsOf(query.binds));
    for (int row = 0; row < rows.Rows(); ++row) keys.push_back(read_key(rows, row));
  }
  tracking::PageOf<T> result;
  if (keys.size() > static_cast<size_t>(page.limit)) {
    result.has_more = true;
    keys.resize(page.limit);
  }
  result.items.reserve(keys.size());
  for (const Key& key : keys) {
    if (std::optional<T> item = load(db, key)) result.items.push_back(std::move(*item));
  }
  return result;
}

}  // namespace slipway::store::postgres
