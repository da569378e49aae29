// A batch of rows, as models read and write them.
//
// Every protocol Slipway serves (MLflow's scoring formats, the Open Inference
// Protocol over HTTP and gRPC, CSV) parses into a Frame, every model reads a
// Frame and answers with Predictions, and the prediction log records both. A
// Frame is column-major: each Column holds one value per row, numbers as
// doubles (NaN is a missing value) and text as strings, so a parse writes
// straight into the vectors and a native model reads them without a tree of
// JSON values in between.
//
// A tensor input (OIP's `[N, 30]` FP32, MLflow's `inputs` with a tensor
// signature) is one Column with `width` > 1: `numbers` then holds rows*width
// values, row-major. Models that want a row-major matrix (the tree
// evaluators) copy the columns into one once per batch.
//
// Frames are plain values: not thread-safe to mutate, safe to read from many
// threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::ml {

// The value types of MLflow's ColSpec (mlflow.types.DataType) and of OIP's
// datatypes, as far as Slipway tells them apart. kJson holds one JSON value
// per row as text (a Python model's output that is not a number or a string:
// a dict, a list); it is written out verbatim.
enum class DataType {
  kDouble,
  kFloat,
  kLong,
  kInteger,
  kBoolean,
  kString,
  kBinary,
  kDatetime,
  kJson,
};

// "double", "float", "long", "integer", "boolean", "string", "binary",
// "datetime", "json": MLflow's spelling.
std::string_view DataTypeName(DataType type);

// True for the types whose values live in Column::numbers.
bool IsNumeric(DataType type);

struct Column {
  std::string name;
  DataType type = DataType::kDouble;
  // Values per row: 1 for a scalar column, the row length of a tensor.
  size_t width = 1;
  // rows * width values when IsNumeric(type) (booleans are 0/1, datetimes
  // seconds since the epoch, a missing value is NaN); otherwise empty.
  std::vector<double> numbers;
  // rows * width values when !IsNumeric(type); otherwise empty. A missing
  // string is marked in `missing`.
  std::vector<std::string> strings;
  // Empty, or rows * width flags: 1 where a string value is missing.
  std::vector<uint8_t> missing;
};

struct Frame {
  size_t rows = 0;
  std::vector<Column> columns;

  // The column called `name`, or nullptr. With `hint`, the column at that
  // position when it has the name (inputs usually come in the order a model
  // or schema lists them), else the first with it.
  const Column* Find(std::string_view name) const;
  const Column* Find(std::string_view name, size_t hint) const;
};

// How predictions are written back, following what MLflow's scoring server
// does with what a model returns: a 1-D result is a list of values, a 2-D
// result without column names a list of lists, a table a list of records,
// anything else (a dict, a number) the value as it is.
enum class OutputLayout {
  kVector,   // one column, width 1: [v0, v1, ...]
  kMatrix,   // one column of width k: [[...k], ...]
  kRecords,  // named columns: [{"a": .., "b": ..}, ...]
  kValue,    // one row, one column: the value itself (a model returned a dict or a scalar)
};

struct Predictions {
  Frame frame;
  OutputLayout layout = OutputLayout::kVector;
};

}  // namespace slipway::ml
