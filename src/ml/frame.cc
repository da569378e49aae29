#include "ml/frame.h"

namespace slipway::ml {

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kDouble:
      return "double";
    case DataType::kFloat:
      return "float";
    case DataType::kLong:
      return "long";
    case DataType::kInteger:
      return "integer";
    case DataType::kBoolean:
      return "boolean";
    case DataType::kString:
      return "string";
    case DataType::kBinary:
      return "binary";
    case DataType::kDatetime:
      return "datetime";
    case DataType::kJson:
      return "json";
  }
  return "unknown";
}

bool IsNumeric(DataType type) {
  switch (type) {
    case DataType::kString:
    case DataType::kBinary:
    case DataType::kJson:
      return false;
    default:
      return true;
  }
}

const Column* Frame::Find(std::string_view name) const {
  for (const Column& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

const Column* Frame::Find(std::string_view name, size_t hint) const {
  if (hint < columns.size() && columns[hint].name == name) return &columns[hint];
  return Find(name);
}

}  // namespace slipway::ml
