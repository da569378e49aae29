// PostgreSQL as a store::SqliteEngine-like engine (store/sql_engine.h), for
// the stores written once for both engines: a write is PgDb's SERIALIZABLE
// transaction, run again on a conflict, so its body must do nothing but
// statements.
#pragma once

#include <utility>

#include "store/postgres/pg_db.h"
#include "store/postgres/pg_statement.h"
#include "store/sql_search.h"

namespace slipway::store::postgres {

struct PgEngine {
  using Db = PgDb;
  using Session = PgSession;
  using Row = PgStatement;

  static const SqlDialect& Dialect() { return SqlDialect::Postgres(); }

  template <typename F>
  static void Write(Db& db, F&& body) {
    WriteSession(db, std::forward<F>(body));
  }
  template <typename F>
  static auto Read(Db& db, F&& body) {
    return ReadSession(db, std::forward<F>(body));
  }
};

}  // namespace slipway::store::postgres
