// SqliteDb's statement API (store/sqlite_db.h) over a PgConnection: the
// statements of PgEngine (pg_engine.h), for the stores written once for both
// engines (tracking, registry, traces, deployment, loop, alert, monitor,
// GenAI).
//
// A PgSession wraps the connection of one transaction; PgStatement takes the
// SQLite statements' `?` and `?N` placeholders (numbered in order, as
// PostgreSQL's $1..$n; text in quotes is left alone) and their Bind(index,
// value) calls. Values travel as text with their type left to PostgreSQL,
// which infers it from where the placeholder stands, as it does for any
// untyped parameter; where it cannot (`? IS NULL`), the statement says the
// type (`CAST(? AS BIGINT)`). BindVariant's values, a search's
// (store/sql_search.h), keep their type (int8, float8, text) as the search
// builders expect, so that `start_time > 1.5` compares a BIGINT column
// with a double as SQLite does, rather than failing to read 1.5 as BIGINT. Integers bound to
// BOOLEAN columns read as PostgreSQL reads '1' and '0', and Int() of a BOOLEAN column gives 1 or 0,
// so SQLite's 0/1 flags need no change. Rows are fetched when the statement
// first steps. Not thread-safe, as the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/postgres/pg_db.h"
#include "store/sql_search.h"
#include "store/sqlite_paging.h"
#include "tracking/tracking_store.h"

namespace slipway::store::postgres {

class PgSession;

class PgStatement {
 public:
  PgStatement(PgSession& session, const std::string& sql);

  PgStatement& Bind(int index, int64_t value);
  PgStatement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  PgStatement& Bind(int index, double value);
  PgStatement& Bind(int index, std::string_view value);
  PgStatement& BindStatic(int index, std::string_view value) { return Bind(index, value); }
  PgStatement& BindNull(int index);
  PgStatement& BindVariant(int index, const std::variant<int64_t, double, std::string>& value);

  // Runs the statement on the first call (and after Reset), then advances to
  // the next row; false when done.
  bool Step();
  // Runs a statement whose rows are not read.
  void Run();
  // Ready to run again with the same SQL (bindings stay).
  void Reset();

  int64_t Int(int column) const;
  double Double(int column) const;
  bool IsNull(int column) const { return result_->IsNull(row_, column); }
  std::string Text(int column) const { return std::string(result_->Text(row_, column)); }

 private:
  void Execute();

  PgSession& session_;
  std::string sql_;  // with $n placeholders
  int placeholders_ = 0;
  std::vector<std::optional<std::string>> values_;  // by placeholder, from 0
  std::vector<std::optional<SqlValue>> typed_;      // BindVariant's, by placeholder
  std::optional<PgResult> result_;
  int row_ = -1;
};

// The connection of one transaction, with the SQLite API's Prepare, Exec and
// Changes (the rows the last statement run through it touched).
class PgSession {
 public:
  explicit PgSession(PgConnection& connection) : connection_(connection) {}

  PgStatement Prepare(const std::string& sql) { return PgStatement(*this, sql); }
  void Exec(const char* sql) { connection_.ExecScript(sql); }
  int64_t Changes() const { return changes_; }
  PgConnection& connection() { return connection_; }

 private:
  friend class PgStatement;
  PgConnection& connection_;
  int64_t changes_ = 0;
};

// `sql` with SQLite's placeholders (`?`, `?N`) as PostgreSQL's ($N), and how
// many it has. Text that already holds $N placeholders (a query built in
// SqlDialect::Postgres(), with `?`s appended) keeps them, and its `?`s
// follow them.
std::string NumberPlaceholders(std::string_view sql, int* count);

// `sql` (in PostgreSQL's form) with each $N as $(N + by), to put its
// placeholders after another query's.
std::string ShiftPlaceholders(std::string_view sql, int by);

// Runs `body(PgSession&)` in PgDb's write (or read) transaction.
template <typename F>
auto WriteSession(PgDb& db, F&& body) {
  return db.Write([&](PgConnection& c) {
    PgSession session(c);
    return body(session);
  });
}
template <typename F>
auto ReadSession(PgDb& db, F&& body) {
  return db.Read([&](PgConnection& c) {
    PgSession session(c);
    return body(session);
  });
}

}  // namespace slipway::store::postgres
