#include "store/sql_genai_search.h"

#include "core/error.h"

namespace slipway::store {
namespace {

using genai::DatasetClause;
using genai::DatasetField;
using tracking::CompareOp;

const char* ColumnOf(DatasetField field) {
  switch (field) {
    case DatasetField::kName:
      return "d.name";
    case DatasetField::kCreatedTime:
      return "d.created_time";
    case DatasetField::kLastUpdateTime:
      return "d.last_update_time";
    case DatasetField::kCreatedBy:
      return "d.created_by";
    case DatasetField::kLastUpdatedBy:
      return "d.last_updated_by";
    case DatasetField::kTag:
      break;
  }
  return "k.value";
}

SqlFragment Compare(const SqlDialect& dialect, const char* column, const DatasetClause& c) {
  SqlFragment f;
  if (const auto* number = std::get_if<int64_t>(&c.value)) {
    return f.Add(column).Add(SqlOperator(c.op)).Bind(*number);
  }
  if (const auto* list = std::get_if<std::vector<std::string>>(&c.value)) {
    f.Add(column).Add(" IN (").Add(dialect.JsonArrayElements(JsonArray(*list), false));
    return f.Add(")");
  }
  const std::string& text = std::get<std::string>(c.value);
  if (c.op == CompareOp::kLike) return dialect.Like(column, text);
  if (c.op == CompareOp::kILike) return dialect.ILike(column, text);
  return f.Add(column).Add(SqlOperator(c.op)).Bind(text);
}

}  // namespace

SqlQuery BuildEvaluationDatasetSearch(const SqlDialect& dialect, const genai::DatasetQuery& query,
                                      int64_t limit, int64_t offset) {
  SqlFragment f;
  f.Add("SELECT d.dataset_id FROM evaluation_datasets d WHERE 1 = 1");
  if (!query.experiment_ids.empty()) {
    std::vector<int64_t> ids;
    for (const std::string& id : query.experiment_ids) {
      if (auto parsed = tracking::ParseExperimentId(id)) ids.push_back(*parsed);
    }
    f.Add(
         " AND EXISTS (SELECT 1 FROM evaluation_dataset_experiments x WHERE x.dataset_id = "
         "d.dataset_id AND x.experiment_id IN (")
        .Add(dialect.JsonArrayElements(JsonArray(ids), true))
        .Add("))");
  }
  if (!query.visible.IsAll()) {
    // Linked to an experiment, and to none the caller may not read.
    f.Add(
        " AND EXISTS (SELECT 1 FROM evaluation_dataset_experiments x WHERE x.dataset_id = "
        "d.dataset_id)");
    std::optional<SqlFragment> visible =
        VisibleCondition(dialect, "x.experiment_id", query.visible, true);
    if (visible) {
      f.Add(
           " AND NOT EXISTS (SELECT 1 FROM evaluation_dataset_experiments x WHERE x.dataset_id = "
           "d.dataset_id AND NOT (")
          .Add(*visible)
          .Add("))");
    }
  }
  for (const DatasetClause& c : query.clauses) {
    f.Add(" AND ");
    if (c.field == DatasetField::kTag) {
      f.Add(
           "EXISTS (SELECT 1 FROM evaluation_dataset_tags k WHERE k.dataset_id = d.dataset_id "
           "AND k.key = ")
          .Bind(c.tag_key)
          .Add(" AND ")
          .Add(Compare(dialect, "k.value", c))
          .Add(")");
    } else {
      f.Add(Compare(dialect, ColumnOf(c.field), c));
    }
  }
  f.Add(" ORDER BY ");
  for (const genai::DatasetOrder& term : query.order) {
    const char* column = ColumnOf(term.field);
    f.Add(term.field == DatasetField::kName ? dialect.TextOrder(column) : std::string(column))
        .Add(term.ascending ? " ASC, " : " DESC, ");
  }
  f.Add(dialect.TextOrder("d.dataset_id")).Add(" DESC");
  f.Add(dialect.LimitOffset(limit, offset));
  return dialect.Finish(std::move(f));
}

}  // namespace slipway::store
