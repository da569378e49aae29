#include "store/sql_trace_search.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::store {
namespace {

using tracing::TraceClause;
using tracing::TraceField;
using tracking::CompareOp;

// `column op value` for a string comparison (= != LIKE ILIKE IN NOT IN).
SqlFragment CompareText(const SqlDialect& dialect, const std::string& column,
                        const TraceClause& clause) {
  SqlFragment f;
  switch (clause.op) {
    case CompareOp::kLike:
      return dialect.Like(column, std::get<std::string>(clause.value));
    case CompareOp::kILike:
      return dialect.ILike(column, std::get<std::string>(clause.value));
    case CompareOp::kIn:
    case CompareOp::kNotIn:
      f.Add(column).Add(clause.op == CompareOp::kIn ? " IN (" : " NOT IN (");
      f.Add(dialect.JsonArrayElements(JsonArray(std::get<std::vector<std::string>>(clause.value)),
                                      false));
      return f.Add(")");
    default:
      return f.Add(column).Add(SqlOperator(clause.op)).Bind(std::get<std::string>(clause.value));
  }
}

// `EXISTS (SELECT 1 FROM <table> k WHERE k.trace_pk = t.trace_pk AND k.key = ? [AND cond])`.
SqlFragment KeyValueClause(const SqlDialect& dialect, const char* table, const TraceClause& c) {
  SqlFragment f;
  const bool absent = c.op == CompareOp::kIsNull;
  f.Add(absent ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ")
      .Add(table)
      .Add(" k WHERE k.trace_pk = t.trace_pk AND k.key = ")
      .Bind(c.key);
  if (c.op != CompareOp::kIsNull && c.op != CompareOp::kIsNotNull)
    f.Add(" AND ").Add(CompareText(dialect, "k.value", c));
  return f.Add(")");
}

SqlFragment AttributeClause(const SqlDialect& dialect, const TraceClause& c) {
  SqlFragment f;
  if (c.key == "timestamp_ms" || c.key == "execution_time_ms" || c.key == "end_time_ms") {
    const char* column = c.key == "timestamp_ms" ? "t.request_time"
                         : c.key == "execution_time_ms"
                             ? "t.execution_duration"
                             : "(t.request_time + COALESCE(t.execution_duration, 0))";
    return f.Add(column).Add(SqlOperator(c.op)).Bind(std::get<double>(c.value));
  }
  if (c.key == "run_id") {
    const std::string& run = std::get<std::string>(c.value);
    return f
        .Add("(EXISTS (SELECT 1 FROM trace_metadata m WHERE m.trace_pk = t.trace_pk AND m.key = ")
        .Bind(std::string(tracing::kSourceRunKey))
        .Add(" AND m.value = ")
        .Bind(run)
        .Add(
            ") OR EXISTS (SELECT 1 FROM trace_run_links l WHERE l.trace_id = t.trace_id AND "
            "l.run_id = ")
        .Bind(run)
        .Add("))");
  }
  if (c.key == "prompt")
    return f
        .Add(
            "EXISTS (SELECT 1 FROM trace_prompt_links p WHERE p.trace_pk = t.trace_pk AND "
            "p.prompt = ")
        .Bind(std::get<std::string>(c.value))
        .Add(")");
  if (c.key == "name") {
    TraceClause tag = c;
    tag.key = tracing::kTraceNameTag;
    return KeyValueClause(dialect, "trace_tags", tag);
  }
  const char* column = c.key == "status"       ? "t.state"
                       : c.key == "request_id" ? "t.trace_id"
                                               : "t.client_request_id";
  return CompareText(dialect, column, c);
}

SqlFragment AssessmentClause(const SqlDialect& dialect, const TraceClause& c) {
  SqlFragment f;
  const bool absent = c.op == CompareOp::kIsNull;
  f.Add(absent ? "NOT EXISTS" : "EXISTS")
      .Add(
          " (SELECT 1 FROM assessments a WHERE a.trace_pk = t.trace_pk AND a.valid = 1 AND "
          "a.kind = ")
      .Bind(std::string(c.field == TraceField::kFeedback ? "feedback" : "expectation"))
      .Add(" AND a.name = ")
      .Bind(c.key);
  switch (c.op) {
    case CompareOp::kIsNull:
    case CompareOp::kIsNotNull:
      break;
    case CompareOp::kGt:
    case CompareOp::kGe:
    case CompareOp::kLt:
    case CompareOp::kLe:
      f.Add(" AND a.number").Add(SqlOperator(c.op)).Bind(std::get<double>(c.value));
      break;
    case CompareOp::kEq:
    case CompareOp::kNe: {
      // The value is JSON text: a string matches bare or quoted.
      const std::string& v = std::get<std::string>(c.value);
      f.Add(c.op == CompareOp::kEq ? " AND (" : " AND NOT (")
          .Add("a.value = ")
          .Bind(v)
          .Add(" OR a.value = ")
          .Bind(nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
          .Add(")");
      break;
    }
    default:
      f.Add(" AND ").Add(CompareText(dialect, "a.value", c));
  }
  return f.Add(")");
}

// The SQL value an order term sorts by, and whether it may be NULL. Keys
// bound in it are appended to `binds`.
std::pair<std::string, bool> OrderColumn(const tracing::TraceOrder& term,
                                         std::vector<SqlValue>& binds) {
  auto sub = [&binds](const char* table, const std::string& key) {
    binds.push_back(key);
    return std::string("(SELECT k.value FROM ") + table +
           " k WHERE k.trace_pk = t.trace_pk AND k.key = ?)";
  };
  if (term.field == TraceField::kTag) return {sub("trace_tags", term.key), true};
  if (term.field == TraceField::kMetadata) return {sub("trace_metadata", term.key), true};
  if (term.key == "timestamp_ms") return {"t.request_time", false};
  if (term.key == "execution_time_ms") return {"t.execution_duration", true};
  if (term.key == "end_time_ms")
    return {"(t.request_time + COALESCE(t.execution_duration, 0))", false};
  if (term.key == "status") return {"t.state", false};
  if (term.key == "request_id") return {"t.trace_id", false};
  if (term.key == "experiment_id") return {"t.experiment_id", false};
  if (term.key == "name") return {sub("trace_tags", tracing::kTraceNameTag), true};
  if (term.key == "run_id") return {sub("trace_metadata", tracing::kSourceRunKey), true};
  ThrowInvalid("unexpected trace order term '" + term.key + "'");
}

}  // namespace

SqlFragment TraceSearchFragment(const SqlDialect& dialect,
                                const std::vector<int64_t>& experiment_ids,
                                const tracing::TraceFilter& filter,
                                const std::vector<tracing::TraceOrder>& order, int64_t limit,
                                int64_t offset) {
  SqlFragment f;
  f.Add("SELECT t.trace_pk FROM traces t WHERE ");
  // One experiment (the usual search) as `=`, so that traces_by_experiment
  // gives the default order and the query stops at the page's end; a list
  // of them is read as a whole and sorted.
  if (experiment_ids.size() == 1)
    f.Add("t.experiment_id = ").Bind(experiment_ids[0]);
  else
    f.Add("t.experiment_id IN (")
        .Add(dialect.JsonArrayElements(JsonArray(experiment_ids), true))
        .Add(")");
  SqlFragment span_conditions;
  for (const TraceClause& c : filter.clauses) {
    switch (c.field) {
      case TraceField::kAttribute:
        f.Add(" AND ").Add(AttributeClause(dialect, c));
        break;
      case TraceField::kTag:
        f.Add(" AND ").Add(KeyValueClause(dialect, "trace_tags", c));
        break;
      case TraceField::kMetadata:
        f.Add(" AND ").Add(KeyValueClause(dialect, "trace_metadata", c));
        break;
      case TraceField::kSpan:
        span_conditions.Add(" AND ").Add(CompareText(dialect, "s." + c.key, c));
        break;
      case TraceField::kFeedback:
      case TraceField::kExpectation:
        f.Add(" AND ").Add(AssessmentClause(dialect, c));
        break;
      case TraceField::kIssue:
        // As MLflow: any link to the issue, valid or overridden.
        f.Add(
             " AND EXISTS (SELECT 1 FROM assessments a WHERE a.trace_pk = t.trace_pk AND "
             "a.kind = 'issue' AND a.name = ")
            .Bind(std::get<std::string>(c.value))
            .Add(")");
        break;
    }
  }
  // All span clauses hold for one span.
  if (!span_conditions.sql.empty())
    f.Add(" AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_pk = t.trace_pk")
        .Add(span_conditions)
        .Add(")");
  f.Add(" ORDER BY ");
  bool first = true;
  for (const tracing::TraceOrder& term : order) {
    std::vector<SqlValue> binds;
    const auto [column, nullable] = OrderColumn(term, binds);
    if (!first) f.Add(", ");
    first = false;
    // Traces without the key last, whichever the direction. Columns that
    // are never NULL sort alone, so that an index can give the order (the
    // default, newest first, is traces_by_experiment's).
    SqlFragment piece;
    if (nullable) {
      piece.sql = "(" + column + ") IS NULL, ";
      piece.binds = binds;
    }
    piece.sql += column + (term.ascending ? " ASC" : " DESC");
    piece.binds.insert(piece.binds.end(), binds.begin(), binds.end());
    f.Add(piece);
  }
  f.Add(dialect.LimitOffset(limit, offset));
  return f;
}

SqlQuery BuildTraceSearch(const SqlDialect& dialect, const std::vector<int64_t>& experiment_ids,
                          const tracing::TraceFilter& filter,
                          const std::vector<tracing::TraceOrder>& order, int64_t limit,
                          int64_t offset) {
  return dialect.Finish(TraceSearchFragment(dialect, experiment_ids, filter, order, limit, offset));
}

}  // namespace slipway::store
