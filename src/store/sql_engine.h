// What a store written once for both engines needs of one, under one
// spelling: its database (`Db`), the connection of one transaction
// (`Session`: Prepare, Exec, Changes) and its statements (`Row`: Bind, Step,
// Run, Int, Double, Text, IsNull); running a read or a write transaction,
// and a write whose first statement locks the row its concurrent writers
// share (WriteLocking, with the dialect's RowLock); and whether an error is
// a unique violation. SqliteEngine is SQLite's (store/sqlite_db.h);
// PgEngine (store/postgres/pg_engine.h) is PostgreSQL's, whose statements
// take the same `?` placeholders.
//
// A store written against an Engine (sql_<name>_store.h) is one class
// template with one SQL text for both engines: the SQL both speak alike
// (INSERT ... ON CONFLICT ... DO UPDATE, INSERT ... RETURNING id; SQLite
// has both since 3.35), so fixing a store fixes it on both. What the
// engines spell differently is the Engine's SqlDialect's (sql_search.h).
#pragma once

#include <exception>
#include <utility>

#include "store/sql_search.h"
#include "store/sqlite_db.h"

namespace slipway::store {

struct SqliteEngine {
  using Db = SqliteDb;
  using Session = Connection;
  using Row = Statement;

  static const SqlDialect& Dialect() { return SqlDialect::Sqlite(); }

  template <typename F>
  static void Write(Db& db, F&& body) {
    db.Write(std::forward<F>(body));
  }
  template <typename F>
  static auto Read(Db& db, F&& body) {
    return db.Read(std::forward<F>(body));
  }
  // The single writer runs one write at a time: a plain write.
  template <typename F>
  static void WriteLocking(Db& db, F&& body) {
    db.Write(std::forward<F>(body));
  }
  // A write checks before it inserts a unique value, and the single writer
  // runs no other write in between: no violation reaches a store.
  static bool IsUniqueViolation(const std::exception&) { return false; }
};

}  // namespace slipway::store
