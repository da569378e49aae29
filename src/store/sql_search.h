// Turns parsed search filters into SQL over the schema of sqlite_schema.cc.
//
// The SQL lives here and in the store implementations only: the filter
// grammar (tracking/search_filter.h) knows nothing of SQL. Every value from a
// user is a bound parameter, never spliced into the text.
//
// The builders write one SQL text for every engine and ask a SqlDialect for
// the few things engines spell differently (placeholders, LIKE and ILIKE,
// LIMIT, flags, text order, a bound list of ids). The SQLite stores pass
// SqlDialect::Sqlite(); a PostgreSQL store passes SqlDialect::Postgres() and
// brings its own schema with the same tables and columns (issue 16).
//
// Each search builder returns one SELECT of keys in the requested order,
// ending in LIMIT and OFFSET (a negative limit means no limit). Callers that
// want to know whether a further page exists ask for one row more than they
// return. The builders are pure functions; they throw INVALID_PARAMETER_VALUE
// only for a term the filter parser would not have produced.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/visibility.h"
#include "tracking/search_filter.h"

namespace slipway::store {

// A bound value. A PostgreSQL binder passes each with its type (int8, float8,
// text), as libpq's paramTypes, so no placeholder needs a cast.
using SqlValue = std::variant<int64_t, double, std::string>;

// A finished statement in one dialect's text.
struct SqlQuery {
  std::string sql;
  std::vector<SqlValue> binds;  // in the order of the placeholders
};

// SQL text in the making with the values of its placeholders, in order.
// Every `?` in `sql` is a placeholder (the builders write no other `?`:
// user text is bound, never spliced); SqlDialect::Finish numbers them.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> binds;

  SqlFragment& Add(std::string_view text) {
    sql += text;
    return *this;
  }
  SqlFragment& Bind(SqlValue value) {
    sql += '?';
    binds.push_back(std::move(value));
    return *this;
  }
  SqlFragment& Add(const SqlFragment& other) {
    sql += other.sql;
    binds.insert(binds.end(), other.binds.begin(), other.binds.end());
    return *this;
  }
};

// How one SQL engine spells what the search builders emit where engines
// differ. Everything else the builders write is standard SQL that SQLite and
// PostgreSQL read alike. Stateless; the two instances live for the program.
//
// What the two engines differ in, and what Slipway promises on both:
//   - placeholders: `?` in SQLite, `$1..$n` in PostgreSQL.
//   - LIKE is case-sensitive with `%` and `_` and no escape character. SQLite's
//     LIKE ignores ASCII case unless PRAGMA case_sensitive_like is set on the
//     connection (MLflow sets it on every session) and so is written as GLOB,
//     which is case-sensitive whatever the pragma; PostgreSQL's LIKE is
//     case-sensitive but takes `\` as escape character by default, so it is
//     written with ESCAPE '' (none).
//   - ILIKE: SQLite has none; `lower(x) LIKE lower(?)` folds ASCII letters
//     only (as SQLAlchemy renders ILIKE for MLflow on SQLite). PostgreSQL's
//     ILIKE folds case as the database's locale does, so beyond ASCII a
//     PostgreSQL store may match more (`'É' ILIKE 'é'`).
//   - LIMIT: SQLite reads a negative limit as none; PostgreSQL rejects it and
//     spells "none" LIMIT ALL.
//   - flags (is_nan): SQLite stores integers 0/1; the PostgreSQL schema keeps
//     them BOOLEAN, as MLflow's does, compared with TRUE/FALSE. NaN itself is
//     never compared: SQLite cannot store it (the value column holds 0) and
//     PostgreSQL orders it above every number, so the flag decides both.
//   - text order: SQLite compares text byte by byte (BINARY); PostgreSQL by
//     the database's collation, which for en_US puts "alpha" before "Beta".
//     Text order terms carry COLLATE "C" there so pages come in the same
//     order on both (an index meant to serve such an order is declared with
//     COLLATE "C", or the database is created with LC_COLLATE C).
//   - planner hints: SQLite keeps the left table of a CROSS JOIN as the outer
//     loop (see AddRunFilter); PostgreSQL has no such hint and rejects ON
//     after CROSS JOIN, so it gets a plain JOIN.
//   - a list of ids bound as one JSON array (so the text does not depend on
//     the list's length, and no engine's limit on bound parameters is met):
//     json_each(?) in SQLite, json_array_elements_text($n) in PostgreSQL.
//   - string concatenation is `||` in both; the builders do not concatenate.
//   - the larger and smaller of two values: SQLite's two-argument max() and
//     min() (its aggregates with one), PostgreSQL's GREATEST and LEAST.
class SqlDialect {
 public:
  virtual ~SqlDialect() = default;

  static const SqlDialect& Sqlite();
  static const SqlDialect& Postgres();

  virtual std::string_view name() const = 0;

  // The text of placeholder `n` (from 1) in a finished statement.
  virtual std::string Placeholder(size_t n) const = 0;

  // `column` matches the LIKE `pattern` (`%`, `_`, no escape character),
  // case-sensitively.
  virtual SqlFragment Like(std::string_view column, const std::string& pattern) const = 0;
  // The same, ignoring case (see above for which letters fold).
  virtual SqlFragment ILike(std::string_view column, const std::string& pattern) const = 0;

  // " LIMIT .. OFFSET .." with both bound; a negative `limit` means no limit.
  virtual SqlFragment LimitOffset(int64_t limit, int64_t offset) const = 0;

  // The literal a flag column (is_nan) holds for true or false.
  virtual std::string_view Flag(bool value) const = 0;

  // The keyword that joins a table as the inner loop of the left ones
  // (the join order as written), or a plain join where there is no such hint.
  virtual std::string_view InnerLoopJoin() const = 0;

  // An ORDER BY term on a text column, comparing bytes.
  virtual std::string TextOrder(std::string_view column) const = 0;

  // The function that gives the larger (the smaller) of its two arguments.
  virtual std::string_view Greatest() const = 0;
  virtual std::string_view Least() const = 0;

  // What ends a SELECT whose rows the transaction will write (locking
  // them), with its leading space; empty where no lock is needed.
  virtual std::string_view RowLock() const = 0;

  // The statement to run after inserting an explicit value into `table`'s
  // identity key `column`, so that the next generated key follows the
  // largest; empty where the engine does that itself.
  virtual std::string AfterExplicitKey(std::string_view table, std::string_view column) const = 0;

  // `SELECT ...` of the elements of the JSON array `json_array`, bound as one
  // value: numbers as integers when `integers`, else strings as text.
  virtual SqlFragment JsonArrayElements(std::string json_array, bool integers) const = 0;

  // The finished statement: `fragment` with its placeholders numbered.
  SqlQuery Finish(SqlFragment fragment) const;
};

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

// ` = `, ` != `, ` < `, ` <= `, ` > `, ` >= ` for a numeric or equality
// comparator; INVALID_PARAMETER_VALUE for any other.
std::string_view SqlOperator(tracking::CompareOp op);

// A JSON array of `ids`, for a dialect's JsonArrayElements: integers as
// numbers, else strings (quote, backslash and control characters escaped;
// other bytes, UTF-8 included, as they are).
std::string JsonArray(const std::vector<int64_t>& ids);
std::string JsonArray(const std::vector<std::string>& ids);

// The condition that keeps `column` to what `visible` lets through, or
// nothing when it lets everything through. The ids are bound as one JSON
// array whatever their number: the text stays the same for every caller
// (one cached statement) and no limit on bound parameters (SQLite's 32766)
// is reached. A NOT IN list of integers or strings never holds NULL, so it
// never turns every row's condition NULL. `integer_ids` columns hold
// experiment ids; entries that are not canonical experiment ids name nothing.
std::optional<SqlFragment> VisibleCondition(const SqlDialect& dialect, std::string_view column,
                                            const Visibility& visible, bool integer_ids);

// Searches that take a Visibility leave out, in the query, what it does not
// let through (core/visibility.h): offsets and pages count visible items only.

// `SELECT r.run_uuid FROM runs r ... ORDER BY ... LIMIT ? OFFSET ?` selecting
// the ids of matching runs in the requested order, within `experiment_ids`.
// As in MLflow: each order term puts runs without the key last (for metrics,
// NaN before missing), then start_time DESC unless ordered by, then run_uuid.
// Metric filters never match NaN except through `!=`.
SqlQuery BuildRunSearch(const SqlDialect& dialect, const std::vector<int64_t>& experiment_ids,
                        ViewType view, const tracking::Filter& filter,
                        const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                        int64_t limit);

// `SELECT e.experiment_id FROM experiments e ...`. As in MLflow the default
// order is creation_time DESC, experiment_id ASC; a given order gets
// experiment_id DESC as tie-breaker unless it orders by experiment_id.
// `visible` names experiment ids.
SqlQuery BuildExperimentSearch(const SqlDialect& dialect, ViewType view,
                               const tracking::Filter& filter,
                               const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                               int64_t limit, const Visibility& visible = {});

// `SELECT m.model_id FROM logged_models m ...` within `experiment_ids`,
// leaving out deleted models. Metric terms read each model's latest point of
// the key from `metrics`. Order terms put models without the value last, then
// creation_timestamp DESC and model_id ASC unless ordered by.
SqlQuery BuildLoggedModelSearch(const SqlDialect& dialect,
                                const std::vector<int64_t>& experiment_ids,
                                const tracking::Filter& filter,
                                const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                int64_t limit);

// `SELECT m.name FROM registered_models m ...`, ordered by the terms of
// tracking::ParseRegisteredModelOrderBy, then name ASC unless ordered by name
// (so name ASC alone by default), as in MLflow. Also as in MLflow, prompts
// (models tagged mlflow.prompt.is_prompt = 'true') are left out unless the
// filter asks for them with that tag `= 'true'` or `!= 'false'`. `visible`
// names registered models.
SqlQuery BuildRegisteredModelSearch(const SqlDialect& dialect, const tracking::Filter& filter,
                                    const std::vector<tracking::OrderTerm>& order_by,
                                    int64_t offset, int64_t limit, const Visibility& visible = {});

// `SELECT v.name, v.version FROM model_versions v ...`, never returning
// versions in the stage 'Deleted_Internal'. Ordered by the terms of
// tracking::ParseModelVersionOrderBy (by default last_updated_timestamp
// DESC), then name ASC and version DESC unless ordered by, as in MLflow.
// Versions of prompts are left out as BuildRegisteredModelSearch leaves
// prompts out, a name being a prompt when any of its versions has the tag.
// `visible` names registered models: a version is visible as its model is.
SqlQuery BuildModelVersionSearch(const SqlDialect& dialect, const tracking::Filter& filter,
                                 const std::vector<tracking::OrderTerm>& order_by, int64_t offset,
                                 int64_t limit, const Visibility& visible = {});

// `SELECT d.name, d.latest_version, <number of versions>, d.created_ms,
// d.updated_ms FROM data_datasets d ...` ordered by name, every dataset that
// `visible` (naming datasets) lets through.
SqlQuery BuildDatasetList(const SqlDialect& dialect, const Visibility& visible = {});

}  // namespace slipway::store
