// PostgreSQL as a store::SqliteEngine-like engine (store/sql_engine.h), for
// the stores written once for both engines: a write is PgDb's SERIALIZABLE
// transaction, run again on a conflict, so its body must do nothing but
// statements.
#pragma once

#include <exception>
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
  // READ COMMITTED, not SERIALIZABLE: the body's first statement locks the
  // row that its writers share (Dialect().RowLock()), so they take turns,
  // and each statement after the lock reads what the previous writer
  // committed. Under SERIALIZABLE, writers that met on the rows behind that
  // row would fail each other and run again, over and over.
  template <typename F>
  static void WriteLocking(Db& db, F&& body) {
    db.Run(PgDb::Isolation::kReadCommitted, [&](PgConnection& c) {
      PgSession session(c);
      body(session);
    });
  }
  // Two writers inserting one unique value at once: the check before the
  // insert saw neither, and the second insert fails.
  static bool IsUniqueViolation(const std::exception& e) {
    const auto* pg = dynamic_cast<const PgError*>(&e);
    return pg && pg->IsUniqueViolation();
  }
};

}  // namespace slipway::store::postgres
