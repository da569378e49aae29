// Helpers the stores share for running searches page by page, on either
// engine: `Row` is a statement (store::Statement, postgres::PgStatement),
// `Session` the connection of a transaction (store::Connection,
// postgres::PgSession).
#pragma once

#include <optional>
#include <vector>

#include "store/sql_search.h"
#include "store/sqlite_db.h"
#include "tracking/tracking_store.h"

namespace slipway::store {

template <typename Row>
void BindAll(Row& statement, const std::vector<SqlValue>& binds) {
  for (size_t i = 0; i < binds.size(); ++i) {
    statement.BindVariant(static_cast<int>(i + 1), binds[i]);
  }
}

// Runs a search query that selects keys (one more than the page holds, to
// learn whether another page exists), then loads the record of each key.
// `read_key(row)` reads a key from a result row; `load(db, key)` returns the
// record or nothing if it vanished.
template <typename T, typename Session, typename ReadKey, typename Load>
tracking::PageOf<T> LoadPage(Session& db, const SqlQuery& query, const tracking::Page& page,
                             ReadKey read_key, Load load) {
  using Row = decltype(db.Prepare(query.sql));
  using Key = decltype(read_key(std::declval<const Row&>()));
  std::vector<Key> keys;
  {
    Row rows = db.Prepare(query.sql);
    BindAll(rows, query.binds);
    while (rows.Step()) keys.push_back(read_key(rows));
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

}  // namespace slipway::store
