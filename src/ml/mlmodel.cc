#include "ml/mlmodel.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace slipway::ml {
namespace {

[[noreturn]] void Invalid(const std::string& message) { ThrowInvalid(message); }

nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) object[item.first.as<std::string>()] = YamlToJson(item.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(YamlToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar: {
      // YAML scalars are text; keep the types a reader of MLmodel expects.
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted: always a string
      if (text == "true" || text == "True") return true;
      if (text == "false" || text == "False") return false;
      if (text == "null" || text == "~") return nullptr;
      try {
        size_t used = 0;
        long long integer = std::stoll(text, &used);
        if (used == text.size()) return integer;
        double number = std::stod(text, &used);
        if (used == text.size()) return number;
      } catch (const std::exception&) {
      }
      return text;
    }
    default:
      return nullptr;
  }
}

DataType ColumnType(const std::string& name, const std::string& where) {
  static const std::map<std::string, DataType> kTypes = {
      {"double", DataType::kDouble},   {"float", DataType::kFloat},
      {"long", DataType::kLong},       {"integer", DataType::kInteger},
      {"boolean", DataType::kBoolean}, {"string", DataType::kString},
      {"binary", DataType::kBinary},   {"datetime", DataType::kDatetime},
  };
  auto found = kTypes.find(name);
  if (found == kTypes.end()) {
    Invalid("MLmodel signature: " + where + " has type '" + name +
            "', which Slipway does not serve (one of double, float, long, integer, boolean, "
            "string, binary, datetime)");
  }
  return found->second;
}

// numpy dtype names as MLflow writes them in a tensor spec.
DataType TensorType(const std::string& dtype, const std::string& where) {
  if (dtype == "float64") return DataType::kDouble;
  if (dtype == "float32" || dtype == "float16") return DataType::kFloat;
  if (dtype == "int64" || dtype == "uint64" || dtype == "uint32") return DataType::kLong;
  if (dtype == "int32" || dtype == "int16" || dtype == "int8" || dtype == "uint16" ||
      dtype == "uint8")
    return DataType::kInteger;
  if (dtype == "bool") return DataType::kBoolean;
  if (dtype == "str" || dtype == "object") return DataType::kString;
  if (dtype == "bytes") return DataType::kBinary;
  Invalid("MLmodel signature: " + where + " has dtype '" + dtype +
          "', which Slipway does not serve");
}

Schema ParseSchema(const nlohmann::json& node, const std::string& part) {
  Schema schema;
  if (node.is_null()) return schema;
  nlohmann::json specs = node;
  if (node.is_string()) {
    try {
      specs = nlohmann::json::parse(node.get<std::string>());
    } catch (const nlohmann::json::parse_error& e) {
      Invalid("MLmodel signature." + part + " is not valid JSON: " + e.what());
    }
  }
  if (!specs.is_array()) Invalid("MLmodel signature." + part + " must be a list of specs");
  for (size_t i = 0; i < specs.size(); ++i) {
    const nlohmann::json& spec = specs[i];
    std::string where = "signature." + part + "[" + std::to_string(i) + "]";
    if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string()) {
      Invalid("MLmodel " + where + " must be an object with a 'type'");
    }
    std::string name = spec.value("name", "");
    if (spec["type"] == "tensor") {
      const nlohmann::json& tensor = spec.value("tensor-spec", nlohmann::json::object());
      TensorSpec t;
      t.name = name;
      t.type = TensorType(tensor.value("dtype", ""), where);
      if (tensor.contains("shape") && tensor["shape"].is_array()) {
        for (const auto& dim : tensor["shape"]) t.shape.push_back(dim.get<int64_t>());
      }
      schema.tensors.push_back(std::move(t));
    } else {
      schema.columns.push_back(
          ColumnSpec{name, ColumnType(spec["type"].get<std::string>(), where + " ('" + name + "')"),
                     spec.value("required", true)});
    }
  }
  if (!schema.columns.empty() && !schema.tensors.empty()) {
    Invalid("MLmodel signature." + part + " mixes column and tensor specs");
  }
  return schema;
}

std::string ColumnLabel(const std::string& name, size_t index) {
  return name.empty() ? "column " + std::to_string(index) : "column '" + name + "'";
}

// Checks (and narrows the declared type of) one column against its spec.
// `label()` names the column in errors; made only when one is thrown (it is
// a third of the time a single-row request spends here).
template <class Label>
void ConformColumn(Column& column, DataType want, const Label& label, size_t rows) {
  const DataType have = column.type;
  auto mismatch = [&]() {
    Invalid("input " + label() + " must be of type " + std::string(DataTypeName(want)) + ", not " +
            std::string(DataTypeName(have)));
  };
  switch (want) {
    case DataType::kDouble:
    case DataType::kFloat:
      if (!IsNumeric(have) || have == DataType::kBoolean || have == DataType::kDatetime) mismatch();
      break;
    case DataType::kLong:
    case DataType::kInteger:
      if (have != DataType::kLong && have != DataType::kInteger) mismatch();
      for (size_t row = 0; row < column.numbers.size(); ++row) {
        double value = column.numbers[row];
        if (std::isnan(value)) {
          Invalid("input " + label() + " is missing a value in row " +
                  std::to_string(row / column.width) + "; an integer column cannot hold one");
        }
      }
      break;
    case DataType::kBoolean:
      if (have != DataType::kBoolean) mismatch();
      break;
    case DataType::kString:
    case DataType::kBinary:
      if (have != DataType::kString && have != DataType::kBinary) mismatch();
      break;
    case DataType::kDatetime:
      if (have != DataType::kString && have != DataType::kDatetime) mismatch();
      return;  // kept as it came
    case DataType::kJson:
      return;
  }
  (void)rows;
  column.type = want;
}

// One tensor as wide as the schema has columns (what OIP clients and
// MLflow's `inputs` send to a model with a column signature) becomes those
// columns, in the schema's order.
Frame Unpack(const Schema& schema, Frame input) {
  const Column tensor = std::move(input.columns.front());
  input.columns.clear();
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    Column column;
    column.name = schema.columns[c].name;
    column.type = tensor.type;
    if (IsNumeric(tensor.type)) {
      column.numbers.resize(input.rows);
      for (size_t row = 0; row < input.rows; ++row) {
        column.numbers[row] = tensor.numbers[row * tensor.width + c];
      }
    } else {
      column.strings.resize(input.rows);
      for (size_t row = 0; row < input.rows; ++row) {
        column.strings[row] = tensor.strings[row * tensor.width + c];
      }
      if (!tensor.missing.empty()) {
        column.missing.resize(input.rows);
        for (size_t row = 0; row < input.rows; ++row) {
          column.missing[row] = tensor.missing[row * tensor.width + c];
        }
      }
    }
    input.columns.push_back(std::move(column));
  }
  return input;
}

Frame ConformColumns(const Schema& schema, Frame input) {
  if (input.columns.size() == 1 && input.columns.front().width > 1 &&
      input.columns.front().width == schema.columns.size()) {
    input = Unpack(schema, std::move(input));
  }
  const bool named = !schema.columns.front().name.empty();
  Frame out;
  out.rows = input.rows;
  out.columns.reserve(schema.columns.size());
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const ColumnSpec& spec = schema.columns[i];
    auto label = [&] { return ColumnLabel(spec.name, i); };
    Column* column = nullptr;
    if (named) {
      column = const_cast<Column*>(input.Find(spec.name, i));
    } else if (i < input.columns.size()) {
      column = &input.columns[i];
    }
    if (column == nullptr) {
      if (!spec.required) continue;
      Invalid("input is missing " + label() + " (" + std::string(DataTypeName(spec.type)) +
              "), which the model's signature requires");
    }
    if (column->width != 1) Invalid("input " + label() + " must hold one value per row");
    ConformColumn(*column, spec.type, label, input.rows);
    if (named) column->name = spec.name;
    out.columns.push_back(std::move(*column));
  }
  return out;
}

// A tensor schema takes one tensor column per spec, or (MLflow's rule for a
// DataFrame sent to a tensor model) all scalar columns packed into one.
Frame ConformTensors(const Schema& schema, Frame input) {
  if (schema.tensors.size() == 1 && input.columns.size() > 1) {
    Column packed;
    packed.name = schema.tensors.front().name;
    packed.type = DataType::kDouble;
    packed.width = input.columns.size();
    packed.numbers.resize(input.rows * packed.width);
    for (size_t c = 0; c < input.columns.size(); ++c) {
      const Column& column = input.columns[c];
      if (column.width != 1 || !IsNumeric(column.type)) {
        Invalid("input " + ColumnLabel(column.name, c) +
                " must be numeric: the model takes one numeric tensor");
      }
      for (size_t row = 0; row < input.rows; ++row) {
        packed.numbers[row * packed.width + c] = column.numbers[row];
      }
    }
    bool integers = true;
    for (const Column& column : input.columns) {
      integers = integers && (column.type == DataType::kLong || column.type == DataType::kInteger);
    }
    if (integers) packed.type = DataType::kLong;
    input.columns.clear();
    input.columns.push_back(std::move(packed));
  }
  Frame out;
  out.rows = input.rows;
  for (size_t i = 0; i < schema.tensors.size(); ++i) {
    const TensorSpec& spec = schema.tensors[i];
    const std::string label =
        spec.name.empty() ? "tensor " + std::to_string(i) : "tensor '" + spec.name + "'";
    Column* column = nullptr;
    if (!spec.name.empty()) {
      for (Column& candidate : input.columns) {
        if (candidate.name == spec.name) column = &candidate;
      }
      if (column == nullptr && schema.tensors.size() == 1 && input.columns.size() == 1) {
        column = &input.columns.front();
      }
    } else if (i < input.columns.size()) {
      column = &input.columns[i];
    }
    if (column == nullptr)
      Invalid("input is missing " + label + ", which the model's signature requires");
    // Every dimension after the batch one must match where the spec fixes it.
    int64_t fixed = 1;
    bool variable = false;
    for (size_t d = 1; d < spec.shape.size(); ++d) {
      if (spec.shape[d] < 0)
        variable = true;
      else
        fixed *= spec.shape[d];
    }
    if (!variable && spec.shape.size() >= 2 && static_cast<int64_t>(column->width) != fixed) {
      Invalid("input " + label + " has " + std::to_string(column->width) +
              " values per row; the model's signature requires " + std::to_string(fixed));
    }
    if (spec.type == DataType::kLong || spec.type == DataType::kInteger) {
      for (size_t k = 0; k < column->numbers.size(); ++k) {
        double value = column->numbers[k];
        if (std::isnan(value) || value != std::floor(value)) {
          Invalid("input " + label + " must hold integers; row " +
                  std::to_string(k / column->width) + " does not");
        }
      }
    }
    if (IsNumeric(spec.type) != IsNumeric(column->type)) {
      Invalid("input " + label + " must be of type " + std::string(DataTypeName(spec.type)) +
              ", not " + std::string(DataTypeName(column->type)));
    }
    column->type = spec.type;
    out.columns.push_back(std::move(*column));
  }
  return out;
}

}  // namespace

MlModel MlModel::Read(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "MLmodel";
  std::ifstream in(file, std::ios::binary);
  if (!in) ThrowInvalid("no MLmodel file in the model folder (is it an MLflow Model?)");
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    ThrowInvalid("MLmodel is not valid YAML: line " + std::to_string(e.mark.line + 1) +
                 ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) ThrowInvalid("MLmodel must be a YAML mapping");
  nlohmann::json doc = YamlToJson(root);
  MlModel model;
  model.dir = dir;
  if (!doc.contains("flavors") || !doc["flavors"].is_object() || doc["flavors"].empty()) {
    ThrowInvalid("MLmodel has no 'flavors'");
  }
  for (auto& [name, settings] : doc["flavors"].items()) model.flavors[name] = settings;
  if (doc.contains("signature") && doc["signature"].is_object()) {
    Signature signature;
    signature.inputs = ParseSchema(doc["signature"].value("inputs", nlohmann::json()), "inputs");
    signature.outputs = ParseSchema(doc["signature"].value("outputs", nlohmann::json()), "outputs");
    model.signature = std::move(signature);
  }
  if (doc.contains("saved_input_example_info") && doc["saved_input_example_info"].is_object()) {
    model.input_example_path = doc["saved_input_example_info"].value("artifact_path", "");
  }
  auto text_of = [&](const char* key) {
    return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string();
  };
  model.run_id = text_of("run_id");
  model.model_uuid = text_of("model_uuid");
  model.mlflow_version = text_of("mlflow_version");
  return model;
}

const nlohmann::json* MlModel::Flavor(const std::string& name) const {
  auto found = flavors.find(name);
  return found == flavors.end() ? nullptr : &found->second;
}

std::filesystem::path MlModel::FlavorFile(const std::string& flavor, const std::string& key) const {
  const nlohmann::json* settings = Flavor(flavor);
  if (settings == nullptr || !settings->contains(key) || !(*settings)[key].is_string()) {
    ThrowInvalid("MLmodel flavor '" + flavor + "' names no '" + key + "' file");
  }
  std::filesystem::path relative = (*settings)[key].get<std::string>();
  if (relative.is_absolute())
    ThrowInvalid("MLmodel flavor '" + flavor + "': '" + key + "' must be relative");
  for (const auto& part : relative) {
    if (part == "..")
      ThrowInvalid("MLmodel flavor '" + flavor + "': '" + key + "' leaves the model folder");
  }
  return dir / relative;
}

Frame ConformToSchema(const Schema& schema, Frame input) {
  if (schema.empty()) return input;
  return schema.is_tensor() ? ConformTensors(schema, std::move(input))
                            : ConformColumns(schema, std::move(input));
}

}  // namespace slipway::ml
