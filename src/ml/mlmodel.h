// An MLflow Model folder's description: the `MLmodel` file.
//
// MLflow writes MLmodel as YAML (mlflow/models/model.py): `flavors` (one map
// per flavor: `python_function`, `xgboost`, `sklearn`...), an optional
// `signature` whose `inputs`/`outputs` are JSON text (a list of column specs,
// or of tensor specs), `saved_input_example_info`, `run_id`, `model_uuid`.
// MlModel::Read parses it once; the schema check below is what a deployment
// applies to every request before the model sees it, with MLflow's rules
// (mlflow/models/utils.py, _enforce_schema): a missing required column is an
// error that names it, an integer may widen to a float, never the other way,
// extra columns are dropped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ml/frame.h"

namespace slipway::ml {

struct ColumnSpec {
  std::string name;  // empty for an unnamed column
  DataType type = DataType::kDouble;
  bool required = true;
};

struct TensorSpec {
  std::string name;                  // empty for an unnamed tensor
  DataType type = DataType::kFloat;  // from the numpy dtype
  std::vector<int64_t> shape;        // -1 = any size
};

// A signature's inputs or outputs: columns, or tensors, never both.
struct Schema {
  std::vector<ColumnSpec> columns;
  std::vector<TensorSpec> tensors;

  bool is_tensor() const { return !tensors.empty(); }
  bool empty() const { return columns.empty() && tensors.empty(); }
};

struct Signature {
  Schema inputs;
  Schema outputs;
};

struct MlModel {
  std::filesystem::path dir;
  // Each flavor's settings, converted from YAML to JSON as written.
  std::map<std::string, nlohmann::json> flavors;
  std::optional<Signature> signature;
  // The input example's file relative to `dir`, or empty.
  std::string input_example_path;
  std::string run_id;
  std::string model_uuid;
  std::string mlflow_version;

  // Reads `dir`/MLmodel. Throws slipway::Error (INVALID_PARAMETER_VALUE) that
  // says what is wrong and where (the key, the position in the signature).
  static MlModel Read(const std::filesystem::path& dir);

  // The flavor's settings, or nullptr.
  const nlohmann::json* Flavor(const std::string& name) const;

  // The file a flavor's `key` (usually "data") names, inside `dir`; throws
  // INVALID_PARAMETER_VALUE when missing or when it would leave `dir`.
  std::filesystem::path FlavorFile(const std::string& flavor,
                                   const std::string& key = "data") const;
};

// Applies `schema` to `input` the way MLflow does: columns by name when the
// schema names them (in the schema's order, extra ones dropped), by position
// otherwise; integers widen to floats; a missing required column, a value of
// the wrong type or a tensor of the wrong shape is INVALID_PARAMETER_VALUE
// naming the column (and row). An empty schema accepts anything.
Frame ConformToSchema(const Schema& schema, Frame input);

}  // namespace slipway::ml
