// What an evaluation dataset search may filter and order by, as MLflow
// 3.17.2's SearchEvaluationDatasetsUtils allows it, checked on the clauses
// that tracking's search grammar parsed (the same tokens, quoting and
// `AND`; no OR).
//
//   name, created_by, last_updated_by: strings, = != LIKE ILIKE (LIKE is
//     case-sensitive); name also IN ('a', 'b');
//   created_time, last_update_time: integers (ms), = != > >= < <=;
//   tags.<key>: = != LIKE ILIKE, on datasets that have the tag.
//   order_by: name, created_time, last_update_time [ASC|DESC]; the default
//     is created_time DESC; ties are broken by dataset_id DESC.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tracking/search_filter.h"

namespace slipway::genai {

enum class DatasetField { kName, kCreatedTime, kLastUpdateTime, kCreatedBy, kLastUpdatedBy, kTag };

struct DatasetClause {
  DatasetField field;
  std::string tag_key;  // kTag only
  tracking::CompareOp op;
  // An integer for the times, a string, or a list for IN.
  std::variant<int64_t, std::string, std::vector<std::string>> value;
};

struct DatasetOrder {
  DatasetField field;  // kName, kCreatedTime or kLastUpdateTime
  bool ascending = true;
};

std::vector<DatasetClause> ParseDatasetFilter(std::string_view filter);
std::vector<DatasetOrder> ParseDatasetOrderBy(const std::vector<std::string>& order_by);

}  // namespace slipway::genai
