#include "genai/dataset_search.h"

#include <algorithm>

#include "core/error.h"
#include "tracking/search_parser.h"

namespace slipway::genai {
namespace {

using tracking::CompareOp;
namespace si = tracking::search_internal;

constexpr const char* kValidKeys =
    "{'name', 'created_time', 'last_update_time', 'created_by', 'last_updated_by'}";

bool IsOneOf(CompareOp op, std::initializer_list<CompareOp> ops) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

DatasetField AttributeField(const std::string& key) {
  if (key == "name") return DatasetField::kName;
  if (key == "created_time") return DatasetField::kCreatedTime;
  if (key == "last_update_time") return DatasetField::kLastUpdateTime;
  if (key == "created_by") return DatasetField::kCreatedBy;
  if (key == "last_updated_by") return DatasetField::kLastUpdatedBy;
  ThrowInvalid("Invalid attribute key '" + key + "' specified. Valid keys are: " + kValidKeys);
}

std::string QuotedString(const si::RawClause& c) {
  if (c.value.kind == si::ValueKind::kString) return c.value.str;
  if (c.value.kind == si::ValueKind::kNumber) {
    ThrowInvalid("Expected a quoted string value for attributes. Got value " + c.value.source);
  }
  ThrowInvalid(
      "Parameter value is either not quoted or unidentified quote types used for string value " +
      c.value.source + ". Use either single or double quotes.");
}

DatasetClause Clause(const si::RawClause& c) {
  const CompareOp op = *c.op.op;
  if (c.ident.has_entity) {
    if (c.ident.entity != "tags" && c.ident.entity != "tag") {
      ThrowInvalid("Invalid identifier token '" + c.ident.entity + "' specified");
    }
    if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike})) {
      ThrowInvalid("Invalid comparator for tag: " + c.op.text);
    }
    return {DatasetField::kTag, c.ident.key, op, QuotedString(c)};
  }
  const DatasetField field = AttributeField(c.ident.key);
  if (field == DatasetField::kCreatedTime || field == DatasetField::kLastUpdateTime) {
    if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kGt, CompareOp::kGe,
                      CompareOp::kLt, CompareOp::kLe})) {
      ThrowInvalid("Invalid comparator for numeric attribute: " + c.op.text);
    }
    if (c.value.kind != si::ValueKind::kNumber) {
      ThrowInvalid("Expected numeric value type for numeric attribute: " + c.ident.key +
                   ". Found " + c.value.source);
    }
    if (!c.value.integral) {
      ThrowInvalid("Invalid value for numeric attribute '" + c.ident.key + "': '" + c.value.source +
                   "'");
    }
    return {field, "", op, static_cast<int64_t>(c.value.number)};
  }
  if (op == CompareOp::kIn || op == CompareOp::kNotIn) {
    if (field != DatasetField::kName) {
      ThrowInvalid(
          "Only ['name'] attributes support comparison with a list of quoted string "
          "values.");
    }
    if (op == CompareOp::kNotIn) {
      ThrowInvalid("List values for 'name' are only supported with the IN comparator.");
    }
    if (c.value.kind != si::ValueKind::kList) {
      ThrowInvalid(
          "Expected a list of quoted string values such as ('a', 'b') after IN for 'name'."
          " Got value " +
          c.value.source);
    }
    return {field, "", op, c.value.list};
  }
  if (!IsOneOf(op, {CompareOp::kEq, CompareOp::kNe, CompareOp::kLike, CompareOp::kILike})) {
    ThrowInvalid("Invalid comparator '" + c.op.text + "' for string attribute '" + c.ident.key +
                 "': expected one of =, !=, LIKE, ILIKE");
  }
  return {field, "", op, QuotedString(c)};
}

}  // namespace

std::vector<DatasetClause> ParseDatasetFilter(std::string_view filter) {
  std::vector<DatasetClause> out;
  for (const si::RawClause& c : si::ParseFilterClauses(filter)) {
    if (!c.op.op) ThrowInvalid("Invalid comparator '" + c.op.text + "' in the dataset filter");
    out.push_back(Clause(c));
  }
  return out;
}

std::vector<DatasetOrder> ParseDatasetOrderBy(const std::vector<std::string>& order_by) {
  std::vector<DatasetOrder> out;
  for (const std::string& text : order_by) {
    auto [ident, ascending] = si::ParseOrderTerm(text);
    if (ident.has_entity) ThrowInvalid("Invalid order_by entity: " + ident.entity);
    DatasetField field = AttributeField(ident.key);
    if (field != DatasetField::kName && field != DatasetField::kCreatedTime &&
        field != DatasetField::kLastUpdateTime) {
      ThrowInvalid("Invalid attribute key '" + ident.key +
                   "' specified. Valid keys are: {'name', 'created_time', 'last_update_time'}");
    }
    out.push_back({field, ascending});
  }
  if (out.empty()) out.push_back({DatasetField::kCreatedTime, false});
  return out;
}

}  // namespace slipway::genai
