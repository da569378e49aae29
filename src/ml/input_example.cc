#include "ml/input_example.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace slipway::ml {
namespace {

// The example is read once per load, so a JSON tree is fine here (the
// request path parses with the scoring codec instead).
void Append(Column& column, const nlohmann::json& value, bool first) {
  if (value.is_null()) {
    if (IsNumeric(column.type) && !first) {
      column.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
    } else {
      column.strings.emplace_back();
      column.missing.resize(column.strings.size(), 0);
      column.missing.back() = 1;
    }
    return;
  }
  if (first) {
    if (value.is_boolean())
      column.type = DataType::kBoolean;
    else if (value.is_number_integer() || value.is_number_unsigned())
      column.type = DataType::kLong;
    else if (value.is_number())
      column.type = DataType::kDouble;
    else
      column.type = DataType::kString;
  }
  if (value.is_number() || value.is_boolean()) {
    if (column.type == DataType::kLong && value.is_number_float()) column.type = DataType::kDouble;
    column.numbers.push_back(value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0)
                                                : value.get<double>());
  } else if (value.is_string()) {
    column.strings.push_back(value.get<std::string>());
  } else {
    column.type = DataType::kJson;
    column.strings.push_back(value.dump());
  }
  if (!column.missing.empty()) column.missing.resize(column.strings.size(), 0);
}

Frame FromRows(const std::vector<std::string>& names, const nlohmann::json& rows) {
  Frame frame;
  if (!rows.is_array()) ThrowInvalid("the input example's data must be a list of rows");
  frame.rows = rows.size();
  size_t width = names.size();
  if (width == 0 && !rows.empty()) width = rows[0].is_array() ? rows[0].size() : 1;
  frame.columns.resize(width);
  for (size_t c = 0; c < width; ++c) {
    frame.columns[c].name = c < names.size() ? names[c] : "";
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    const nlohmann::json& row = rows[r];
    if (row.is_array()) {
      if (row.size() != width) ThrowInvalid("the input example's rows have different lengths");
      for (size_t c = 0; c < width; ++c) Append(frame.columns[c], row[c], r == 0);
    } else {
      if (width != 1) ThrowInvalid("the input example's rows have different lengths");
      Append(frame.columns[0], row, r == 0);
    }
  }
  return frame;
}

}  // namespace

std::optional<Frame> ReadInputExample(const MlModel& mlmodel) {
  if (mlmodel.input_example_path.empty()) return std::nullopt;
  std::filesystem::path relative = mlmodel.input_example_path;
  if (relative.is_absolute()) ThrowInvalid("the input example's path must be relative");
  for (const auto& part : relative) {
    if (part == "..") ThrowInvalid("the input example's path leaves the model folder");
  }
  std::ifstream in(mlmodel.dir / relative, std::ios::binary);
  if (!in) return std::nullopt;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    ThrowInvalid(std::string("the input example is not valid JSON: ") + e.what());
  }
  if (doc.is_object() && doc.contains("dataframe_split")) doc = doc["dataframe_split"];
  if (doc.is_object() && doc.contains("data")) {
    std::vector<std::string> names;
    if (doc.contains("columns") && doc["columns"].is_array()) {
      for (const auto& name : doc["columns"])
        names.push_back(name.is_string() ? name.get<std::string>() : name.dump());
    }
    return FromRows(names, doc["data"]);
  }
  if (doc.is_object() && doc.contains("inputs")) doc = doc["inputs"];
  if (doc.is_object()) {
    // Named columns: {"a": [..], "b": [..]}.
    Frame frame;
    for (auto& [name, values] : doc.items()) {
      Frame one = FromRows({name}, values.is_array() ? values : nlohmann::json::array({values}));
      if (frame.columns.empty()) frame.rows = one.rows;
      if (one.rows != frame.rows)
        ThrowInvalid("the input example's columns have different lengths");
      frame.columns.push_back(std::move(one.columns.front()));
    }
    return frame;
  }
  if (doc.is_array()) {
    Frame frame = FromRows({}, doc);
    // A list of rows of numbers is one tensor, as MLflow reads "inputs".
    if (frame.columns.size() > 1) {
      bool numeric = true;
      for (const Column& column : frame.columns) numeric = numeric && IsNumeric(column.type);
      if (numeric) {
        Column tensor;
        tensor.type = DataType::kDouble;
        tensor.width = frame.columns.size();
        tensor.numbers.resize(frame.rows * tensor.width);
        for (size_t c = 0; c < frame.columns.size(); ++c) {
          for (size_t r = 0; r < frame.rows; ++r) {
            tensor.numbers[r * tensor.width + c] = frame.columns[c].numbers[r];
          }
        }
        frame.columns.clear();
        frame.columns.push_back(std::move(tensor));
      }
    }
    return frame;
  }
  ThrowInvalid("the input example has a shape Slipway does not read");
}

}  // namespace slipway::ml
